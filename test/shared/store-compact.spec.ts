// store.compact (issue 9, item 8): blocks no head reaches are reclaimed; a reachable block is
// never touched — events, objects and their DAGs, files, blocks linked from events, a foreign
// CAR's DAG, and the blocks of a file still being put.
import { describe, expect, test } from 'vitest'
import { encodeValue } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { writeCar } from '../../src/car/writer.ts'
import { FILE_FLUSH_BYTES } from '../../src/objects/unixfs.ts'
import type { StorageEngine } from '../../src/storage/interface.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { engineKinds, withFixture } from '../support/engines.ts'
import { bytesOf, catBytes, collect, pattern } from '../support/stores.ts'

const kinds = await engineKinds()

/** A source that yields `bytes` in 1 MiB chunks, then fails (or waits for `gate`) after `at` bytes. */
async function* source(bytes: Uint8Array, at: number, gate?: Promise<void>): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += 1 << 20) {
    if (i >= at) {
      if (gate === undefined) throw new Error('the upload broke off')
      await gate
      gate = undefined
    }
    yield bytes.subarray(i, i + (1 << 20))
  }
}

async function storedKeys(engine: StorageEngine): Promise<Set<string>> {
  const out = new Set<string>()
  for await (const b of engine.blocks()) out.add(b.cid.toString())
  return out
}

for (const kind of kinds) {
  describe(`store.compact (${kind.name})`, () => {
    test('reclaims an interrupted file and a failed transaction, keeps everything the log reaches', async () => {
      await withFixture(kind, async (fx) => {
        const engine = await fx.open()
        const store = await CairnStore.open(engine)
        // Reachable: events, an object linking a file, an app link to a stored block, a foreign CAR.
        const file = await store.putFile(pattern(600_000, 1))
        const doc = await store.put({ title: 'kept', file }, { type: 'doc' })
        const linked = encodeValue({ linked: 'from an event' })
        const foreign = encodeValue({ foreign: true })
        await store.import(
          await bytesOf(
            writeCar(
              [foreign.cid],
              (async function* (): AsyncGenerator<BlockRecord> {
                yield foreign
              })(),
            ),
          ),
        )
        await store.append({ stream: 's', type: 't', data: { doc } })
        // A block kept only because an imported event links it (no object record).
        const carrierStorage = new MemoryStorage()
        const carrier = await CairnStore.open(carrierStorage)
        const ev = await carrier.append({ stream: 'c', type: 'carries', data: { linked: linked.cid } })
        const carried = { cid: ev.cid, bytes: (await carrierStorage.get(ev.cid))! }
        await store.import(
          await bytesOf(
            writeCar(
              [ev.cid],
              (async function* (): AsyncGenerator<BlockRecord> {
                yield carried
                yield linked
              })(),
            ),
          ),
        )
        // Unreachable: a file whose upload broke off after a flush, and a transaction that threw.
        const big = pattern(FILE_FLUSH_BYTES + (3 << 20), 2)
        await expect(store.putFile(source(big, FILE_FLUSH_BYTES + (1 << 20)))).rejects.toThrow('the upload broke off')
        await expect(
          store.transaction(async (tx) => {
            await tx.putFile(source(pattern(FILE_FLUSH_BYTES + (2 << 20), 3), Number.POSITIVE_INFINITY))
            throw new Error('rolled back')
          }),
        ).rejects.toThrow('rolled back')
        const heads = store.heads.map(String)
        const before = await storedKeys(engine)
        const report = await store.compact({ minDeadRatio: 0 })
        // The transaction's file flushed a full slice before the body threw (the broken upload may have left nothing).
        expect(report.blocksRemoved).toBeGreaterThanOrEqual(Math.floor(FILE_FLUSH_BYTES / (256 << 10)))
        const after = await storedKeys(engine)
        expect(after.size).toBe(before.size - report.blocksRemoved)
        expect(store.heads.map(String)).toEqual(heads)
        expect(await store.verify()).toMatchObject({ dangling: [] })
        expect(await store.get(linked.cid)).toEqual({ linked: 'from an event' })
        expect(await catBytes(store, file)).toBe(600_000)
        expect(await store.get(doc)).toEqual({ title: 'kept', file })
        expect(await store.get(foreign.cid)).toEqual({ foreign: true })
        expect((await collect(store.read('s'))).length).toBe(1)
        expect(await store.compact({ minDeadRatio: 0 })).toMatchObject({ blocksRemoved: 0 })
        await store.close()
        await carrier.close()
        if (fx.persistent) {
          const again = await CairnStore.open(await fx.open())
          expect(again.heads.map(String)).toEqual(heads)
          expect(await catBytes(again, file)).toBe(600_000)
          expect((await again.verify()).blocks).toBeGreaterThan(0)
          await again.close()
        }
      })
    }, 60_000)

    test('a file being put while compaction runs keeps its flushed blocks', async () => {
      await withFixture(kind, async (fx) => {
        const store = await CairnStore.open(await fx.open())
        const bytes = pattern(FILE_FLUSH_BYTES + (2 << 20), 4)
        let open!: () => void
        const gate = new Promise<void>((resolve) => {
          open = resolve
        })
        const putting = store.putFile(source(bytes, FILE_FLUSH_BYTES + (1 << 20), gate))
        // Wait until the first slice of blocks was flushed, then compact while the upload waits.
        await new Promise((resolve) => setTimeout(resolve, 300))
        for (let i = 0; i < 50 && (await store.stats()).events === 0; i++) {
          await store.compact({ minDeadRatio: 0 })
          if (i === 0) open()
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        const cid = await putting
        expect(await catBytes(store, cid)).toBe(bytes.length)
        expect(await store.verify()).toMatchObject({ dangling: [] })
        await store.close()
      })
    }, 60_000)
  })
}
