// Regressions for what the hostile-CAR fuzzer found (test/fuzz): each CAR below was accepted,
// or recorded wrongly, before its fix.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { readCar } from '../../src/car/reader.ts'
import { writeCar } from '../../src/car/writer.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { bytesOf, collect } from '../support/stores.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(s.match(/../g)!.map((b) => Number.parseInt(b, 16)))
const open = (): Promise<CairnStore> => CairnStore.open(new MemoryStorage())

/** A dag-cbor block made by the reference encoder (@ipld/dag-cbor, sha2-256), not Cairn's. */
async function dagBlock(value: unknown): Promise<BlockRecord> {
  const bytes = dagCbor.encode(value)
  return { cid: CID.createV1(0x71, await sha256.digest(bytes)), bytes }
}

/** A CARv1 of `blocks` under `roots`, as given (no checks, any order). */
function carOf(roots: CID[], blocks: BlockRecord[]): Promise<Uint8Array> {
  return bytesOf(
    writeCar(
      roots,
      (async function* (): AsyncGenerator<BlockRecord> {
        yield* blocks
      })(),
    ),
  )
}

async function refusedWith(store: CairnStore, car: Uint8Array, code: string): Promise<void> {
  const before = { heads: store.heads.map(String), stats: await store.stats() }
  const err = await store.import(car).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isCairnError(err) && err.code === code, String(err)).toBe(true)
  expect({ heads: store.heads.map(String), stats: await store.stats() }).toEqual(before)
}

describe('fuzzer findings', () => {
  test('F4: an event whose meta is a byte string is refused', async () => {
    const car = hex(
      '3aa265726f6f747381d82a58250001711220316839305705e3a318d554144bb78f0262bf011b75ae557b68d4afabf8483da16776657273696f6e016501711220316839305705e3a318d554144bb78f0262bf011b75ae557b68d4afabf8483da1a9617601627463006274731b0000019b76daa8006464617461f6646d6574614201026470726576f6647479706561746673747265616d617367706172656e747380',
    )
    await refusedWith(await open(), car, 'CAIRN_INVALID_EVENT')
  })

  test('F5: a foreign root listed three times in the header is recorded once', async () => {
    const car = hex(
      '8c01a265726f6f747383d82a582500015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03d82a582500015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03d82a582500015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be036776657273696f6e012a015512205891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be0368656c6c6f0a',
    )
    const store = await open()
    const report = await store.import(car)
    expect(report.foreign.length).toBe(1)
    expect((await store.stats()).events).toBe(1)
  })

  test('F3: a frame whose CID carries an explicit version 0 is not a CID: CAIRN_INVALID_CAR', async () => {
    const car = hex('38a265726f6f747381d82a582300122059948439065f29619ef41280cbb932be52c56d99c5966b65e0111239f098bbef6776657273696f6e01280070122059948439065f29619ef41280cbb932be52c56d99c5966b65e0111239f098bbef0a020801')
    await refusedWith(await open(), car, 'CAIRN_INVALID_CAR')
  })

  test('F1 and F2: a foreign root that is also an object of the same CAR gets its full size and the last $objects event as prev', async () => {
    const a = await open()
    const obj = await a.put({ title: 'Notes' }, { type: 'doc' })
    const original = await bytesOf(a.export())
    const parsed = await readCar(original, { maxBlockBytes: 1 << 22, maxBytes: 1 << 30 })
    const blocks: BlockRecord[] = []
    for await (const b of parsed.blocks) blocks.push(b)
    // The same blocks, with the object also listed as a root: a foreign root beside the events.
    const car = await bytesOf(
      writeCar(
        [...a.heads, obj],
        (async function* (): AsyncGenerator<BlockRecord> {
          yield* blocks
        })(),
      ),
    )
    const b = await open()
    const report = await b.import(car)
    expect(report.foreign.map(String)).toEqual([String(obj)])
    const objects = await collect(b.objects())
    expect(objects.map((o) => [o.type, o.size])).toEqual([
      ['doc', 13],
      ['car', 13],
    ])
    // The local record of the foreign root follows the imported object.put in $objects.
    const records = await collect(b.read('$objects'))
    expect(records.length).toBe(2)
    expect(String(records[1]!.prev)).toBe(String(records[0]!.cid))
    expect(await b.verify()).toMatchObject({ dangling: [] })
  })

  test('F7: a foreign root the store already holds under a recorded object gets the bytes of its DAG the CAR carried, not 0', async () => {
    const leaf = await dagBlock({ leaf: 1 })
    const node = await dagBlock({ child: leaf.cid })
    const a = await open()
    await a.put({ leaf: 1 }, { type: 'doc' })
    expect(String(await a.put({ child: leaf.cid }, { type: 'doc' }))).toBe(String(node.cid))
    const b = await open()
    await b.import(await bytesOf(a.export()))
    const sizes = async (): Promise<Record<string, number>> => Object.fromEntries((await collect(b.objects({ type: 'car' }))).map((o) => [String(o.cid), o.size]))
    // The CAR carries the held block it names as its root: its bytes.
    await b.import(await carOf([leaf.cid], [leaf]))
    expect(await sizes()).toEqual({ [String(leaf.cid)]: leaf.bytes.length })
    // The root is held and not carried; the CAR carries the block under it: that block's bytes.
    await b.import(await carOf([node.cid], [leaf]))
    expect(await sizes()).toEqual({ [String(leaf.cid)]: leaf.bytes.length, [String(node.cid)]: leaf.bytes.length })
    expect(await b.verify()).toMatchObject({ dangling: [] })
  })

  test('F7: the size walk reads no more than the CAR carried, however many foreign roots name a big held object', async () => {
    class Counting extends MemoryStorage {
      gets = 0
      override async get(cid: CID): Promise<Uint8Array | undefined> {
        this.gets++
        return super.get(cid)
      }
    }
    const storage = new Counting()
    const b = await CairnStore.open(storage)
    // A held object of 1 + 16 + 256 blocks.
    const mids: CID[] = []
    let leaf: CID | undefined
    for (let m = 0; m < 16; m++) {
      const leaves: CID[] = []
      for (let l = 0; l < 16; l++) leaves.push(await b.put({ m, l }, { type: 'leaf' }))
      leaf ??= leaves[0]
      mids.push(await b.put({ m, leaves }, { type: 'mid' }))
    }
    const big = await b.put({ mids }, { type: 'big' })
    const leafBlock = await dagBlock({ m: 0, l: 0 })
    expect(String(leafBlock.cid)).toBe(String(leaf))
    const sizes = async (): Promise<Record<string, number>> => Object.fromEntries((await collect(b.objects({ type: 'car' }))).map((o) => [String(o.cid), o.size]))
    for (const carriesALeaf of [false, true]) {
      // 20 roots, each linking to the held object; the second CAR also carries one of its leaves.
      const roots: BlockRecord[] = []
      for (let i = 0; i < 20; i++) roots.push(await dagBlock({ i, carriesALeaf, x: big }))
      storage.gets = 0
      await b.import(
        await bytesOf(
          writeCar(
            roots.map((r) => r.cid),
            (async function* (): AsyncGenerator<BlockRecord> {
              yield* roots
              if (carriesALeaf) yield leafBlock
            })(),
          ),
        ),
      )
      // Reads are bounded by what the CAR carried, not by the object it names (20 × 273 reads before the fix):
      // the carried leaf is found under it from the leaf upward, through the views.
      expect(storage.gets).toBeLessThanOrEqual(roots.length + 1)
      const got = await sizes()
      for (const r of roots) expect(got[String(r.cid)]).toBe(r.bytes.length + (carriesALeaf ? leafBlock.bytes.length : 0))
    }
    expect(await b.verify()).toMatchObject({ dangling: [] })
  })

  test('F7: the size counts a carried block under a recorded object reached through a stored block outside objects (an app link target)', async () => {
    const leaf = await dagBlock({ leaf: 2 })
    const node = await dagBlock({ child: leaf.cid })
    const linked = await dagBlock({ node: node.cid })
    // Store a: the object (node over leaf) and an event linking to `linked`, a block of no object.
    const storage = new MemoryStorage()
    const a = await CairnStore.open(storage)
    await a.put({ leaf: 2 }, { type: 'doc' })
    await a.put({ child: leaf.cid }, { type: 'doc' })
    await a.append({ stream: 's', type: 'linking', data: { to: linked.cid } })
    const held = await collect(storage.blocks())
    const bStorage = new MemoryStorage()
    const b = await CairnStore.open(bStorage)
    await b.import(await carOf(a.heads, [...held, linked]))
    expect(await bStorage.has(linked.cid)).toBe(true)
    // A foreign root over `linked`, the CAR carrying the leaf again: root and leaf count.
    const root = await dagBlock({ via: linked.cid })
    await b.import(await carOf([root.cid], [root, leaf]))
    const sizes = Object.fromEntries((await collect(b.objects({ type: 'car' }))).map((o) => [String(o.cid), o.size]))
    expect(sizes).toEqual({ [String(root.cid)]: root.bytes.length + leaf.bytes.length })
  })
})
