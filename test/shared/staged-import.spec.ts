// Imports in bounded memory (issue 11, item 4): the file blocks of a CAR (raw, dag-pb) past a
// slice are written to storage as the CAR streams in, unreferenced until the one commit that
// adds the heads. A CAR of files bigger than `maxStagedBytes` imports; a refused one leaves no
// visible change, and compaction reclaims what it staged; a compaction while an import is
// staging keeps the staged blocks.
import { describe, expect, test } from 'vitest'
import type { CID } from 'multiformats/cid'
import { decodeTrusted } from '../../src/block/codec.ts'
import { DAG_CBOR, type BlockRecord } from '../../src/block/interface.ts'
import { readCar } from '../../src/car/reader.ts'
import { STAGE_SLICE_BYTES } from '../../src/log/plan-import.ts'
import type { CommitBatch, StorageEngine } from '../../src/storage/interface.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { engineKinds, withFixture, wrapEngine } from '../support/engines.ts'
import { bytesOf, cairnFailure, carOf, catBytes, collect, pattern, sameBytes } from '../support/stores.ts'

const kinds = await engineKinds()

/** 2.5 slices of file bytes: at least two slices are staged before the CAR ends. */
const FILE_BYTES = Math.floor(STAGE_SLICE_BYTES * 2.5)
/** A budget the file does not fit in: the import passes only if it stages. */
const BUDGET = STAGE_SLICE_BYTES + (4 << 20)

interface Fixture {
  readonly bytes: Uint8Array
  readonly file: CID
  /** The source store's export: events first, then the file's blocks. */
  readonly car: Uint8Array
  readonly roots: CID[]
  readonly blocks: BlockRecord[]
  readonly heads: string[]
  readonly stateHash: string
}

let shared: Promise<Fixture> | undefined
/** One source store for every engine: a note, a file, a note linking to it. */
function fixture(): Promise<Fixture> {
  shared ??= (async () => {
    const source = await CairnStore.open(new MemoryStorage())
    await source.append({ stream: 'notes', type: 'note', data: { text: 'first' } })
    const bytes = pattern(FILE_BYTES, 7)
    const file = await source.putFile(
      (async function* () {
        for (let i = 0; i < bytes.length; i += 1 << 20) yield bytes.subarray(i, i + (1 << 20))
      })(),
    )
    await source.append({ stream: 'notes', type: 'attach', data: { file } })
    const car = await bytesOf(source.export())
    const read = await readCar([car], { maxBlockBytes: 1 << 22, maxBytes: car.length })
    const blocks = await collect(read.blocks)
    const fx = { bytes, file, car, roots: read.roots, blocks, heads: source.heads.map(String), stateHash: String(await source.stateHash()) }
    await source.close()
    return fx
  })()
  return shared
}

/** Counts the engine's commits that leave the heads as they were (staging writes). */
function countingStaged(inner: StorageEngine): { engine: StorageEngine; staged: () => number } {
  let staged = 0
  let heads = ''
  const engine = wrapEngine(inner, {
    async commit(batch: CommitBatch) {
      await inner.commit(batch)
      const now = batch.heads.map(String).join()
      if (now === heads && batch.blocks.length > 0) staged++
      heads = now
    },
  })
  void inner.heads().then((h) => {
    heads = h.map(String).join()
  })
  return { engine, staged: () => staged }
}

for (const kind of kinds) {
  describe(`staged import (${kind.name})`, () => {
    test('a CAR of files bigger than maxStagedBytes imports: file blocks go to storage as it streams, all visible at the one commit', async () => {
      const fx = await fixture()
      await withFixture(kind, async (place) => {
        const counted = countingStaged(await place.open())
        const store = await CairnStore.open(counted.engine)
        const report = await store.import(fx.car, { maxStagedBytes: BUDGET, maxBytes: fx.car.length })
        expect(counted.staged()).toBeGreaterThanOrEqual(2)
        expect(report.blocks).toBe(fx.blocks.length)
        expect(report.events).toBe(3)
        expect(store.heads.map(String)).toEqual(fx.heads)
        expect(String(await store.stateHash())).toBe(fx.stateHash)
        expect(sameBytes(await bytesOf(store.cat(fx.file)), fx.bytes)).toBe(true)
        // The same CAR again stages nothing new and adds nothing.
        const again = await store.import(fx.car, { maxStagedBytes: BUDGET, maxBytes: fx.car.length })
        expect(again).toMatchObject({ blocks: 0, events: 0 })
        expect(await store.verify()).toMatchObject({ dangling: [] })
        await store.close()
        if (place.persistent) {
          const reopened = await CairnStore.open(await place.open())
          expect(reopened.heads.map(String)).toEqual(fx.heads)
          expect(await catBytes(reopened, fx.file)).toBe(fx.bytes.length)
          await reopened.close()
        }
      })
    }, 120_000)

    test('a refused import leaves no visible change after staging; compaction reclaims what it staged', async () => {
      const fx = await fixture()
      // File blocks first (staged as they stream), then the events without the first note:
      // planning refuses the CAR (a parent is missing) after the file blocks were written.
      const first = fx.blocks.find((b) => b.cid.code === DAG_CBOR && (decodeTrusted(b.cid, b.bytes) as { prev?: unknown }).prev === null)!
      const files = fx.blocks.filter((b) => b.cid.code !== DAG_CBOR)
      const events = fx.blocks.filter((b) => b.cid.code === DAG_CBOR && !b.cid.equals(first.cid))
      const broken = await carOf(fx.roots, [...files, ...events])
      await withFixture(kind, async (place) => {
        const counted = countingStaged(await place.open())
        const store = await CairnStore.open(counted.engine)
        await store.append({ stream: 'mine', type: 'x' })
        const before = { heads: store.heads.map(String), stats: await store.stats(), state: String(await store.stateHash()) }
        const err = await cairnFailure(store.import(broken, { maxStagedBytes: BUDGET, maxBytes: broken.length }))
        expect(err.code).toBe('CAIRN_MISSING_BLOCK')
        expect(String(err.cid)).toBe(String(first.cid))
        expect(counted.staged()).toBeGreaterThanOrEqual(2)
        expect({ heads: store.heads.map(String), stats: await store.stats(), state: String(await store.stateHash()) }).toEqual(before)
        expect(await collect(store.objects())).toEqual([])
        const report = await store.compact({ minDeadRatio: 0 })
        expect(report.blocksRemoved).toBeGreaterThanOrEqual(Math.floor((2 * STAGE_SLICE_BYTES) / (1 << 20)))
        expect(report.bytesReclaimed).toBeGreaterThanOrEqual(2 * STAGE_SLICE_BYTES)
        await store.close()
        if (place.persistent) {
          const reopened = await CairnStore.open(await place.open())
          expect(reopened.heads.map(String)).toEqual(before.heads)
          expect(String(await reopened.stateHash())).toBe(before.state)
          await reopened.close()
        }
      })
    }, 120_000)

    test('compaction while an import is staging keeps the staged blocks', async () => {
      const fx = await fixture()
      await withFixture(kind, async (place) => {
        const store = await CairnStore.open(await place.open())
        let compactions = 0
        let removed = 0
        /** The CAR in 1 MiB chunks; past two slices, a full compaction runs before the rest comes. */
        async function* paused(): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < fx.car.length; i += 1 << 20) {
            if (i >= 2 * STAGE_SLICE_BYTES + (1 << 20) && compactions === 0) {
              compactions++
              removed = (await store.compact({ minDeadRatio: 0 })).blocksRemoved
            }
            yield fx.car.subarray(i, i + (1 << 20))
          }
        }
        const report = await store.import(paused(), { maxStagedBytes: BUDGET, maxBytes: fx.car.length })
        expect(compactions).toBe(1)
        expect(removed).toBe(0)
        expect(report.blocks).toBe(fx.blocks.length)
        expect(sameBytes(await bytesOf(store.cat(fx.file)), fx.bytes)).toBe(true)
        expect(await store.verify()).toMatchObject({ dangling: [] })
        await store.close()
      })
    }, 120_000)
  })
}

describe('staged import limits', () => {
  test('the budget still bounds what is held: a budget below one slice refuses with CAIRN_TOO_LARGE, store unchanged', async () => {
    const fx = await fixture()
    const store = await CairnStore.open(new MemoryStorage())
    const err = await cairnFailure(store.import(fx.car, { maxStagedBytes: STAGE_SLICE_BYTES / 2, maxBytes: fx.car.length }))
    expect(err.code).toBe('CAIRN_TOO_LARGE')
    expect(store.heads).toEqual([])
    expect(await store.stats()).toMatchObject({ events: 0, objects: 0 })
  })
})
