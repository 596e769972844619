// How an import takes its blocks from the CAR (issue 11): the reader hands over views into the
// source's chunks where a frame lies within one (a copy where it spans several), and the
// importer copies what it keeps, once it knows the block is new. Chunks of any size import
// alike, and a block the CAR repeats is still checked against its CID but not kept twice.
import { CID } from 'multiformats/cid'
import { describe, expect, test } from 'vitest'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { bytesOf, cairnFailure, carOf, collect } from '../support/stores.ts'

async function source(): Promise<{ car: Uint8Array; heads: string[]; events: unknown[] }> {
  const store = await CairnStore.open(new MemoryStorage())
  for (let b = 0; b < 3; b++) await store.appendMany(Array.from({ length: 50 }, (_, i) => ({ stream: `s${i % 7}`, type: 'added', data: { i, b, name: `item ${i}` } })))
  const car = await bytesOf(store.export())
  const out = { car, heads: store.heads.map(String), events: (await collect(store.query({}))).map((e) => e.cid.toString()) }
  await store.close()
  return out
}

describe('import frames', () => {
  test('chunks of any size, frames within one chunk or across several: the same log', async () => {
    const { car, heads, events } = await source()
    // Chunks of a Uint8Array subclass too (as Node's Buffers are): the reader views them as plain arrays.
    class Chunk extends Uint8Array {}
    for (const [size, Kind] of [
      [1, Uint8Array],
      [7, Chunk],
      [64, Uint8Array],
      [300, Chunk],
      [4096, Uint8Array],
      [car.length, Chunk],
    ] as const) {
      const pieces = function* (): Generator<Uint8Array> {
        for (let at = 0; at < car.length; at += size) yield new Kind(car.subarray(at, at + size))
      }
      const store = await CairnStore.open(new MemoryStorage())
      await store.import(pieces())
      expect(store.heads.map(String), `chunks of ${size}`).toEqual(heads)
      expect((await collect(store.query({}))).map((e) => e.cid.toString())).toEqual(events)
      expect((await store.verify()).dangling).toEqual([])
      await store.close()
    }
  })

  test('a repeated block is checked against its CID: with other bytes it is refused, with its own it is kept once', async () => {
    const engine = new MemoryStorage()
    const a = await CairnStore.open(engine)
    const { cid } = await a.append({ stream: 's', type: 't', data: { n: 1 } })
    const bytes = (await engine.get(cid))!
    await a.close()
    const other = bytes.slice()
    other[other.length - 1] = other.at(-1)! ^ 1

    const b = await CairnStore.open(new MemoryStorage())
    const refused = await cairnFailure(
      b.import(
        await carOf(
          [cid],
          [
            { cid, bytes },
            { cid, bytes: other },
          ],
        ),
      ),
    )
    expect([refused.code, refused.cid?.toString()]).toEqual(['CAIRN_INVALID_BLOCK', cid.toString()])
    expect(b.heads).toEqual([])
    const report = await b.import(
      await carOf(
        [cid],
        [
          { cid, bytes },
          { cid, bytes: bytes.slice() },
          { cid: CID.parse(cid.toString()), bytes },
        ],
      ),
    )
    expect([report.blocks, report.events, b.heads.map(String)]).toEqual([1, 1, [cid.toString()]])
    await b.close()
  })

  test('a frame of no bytes after the last block is CAIRN_INVALID_CAR, the store unchanged (not a TypeError)', async () => {
    const { car } = await source()
    for (const chunks of [[car, Uint8Array.of(0)], [Uint8Array.of(...car, 0)]]) {
      const store = await CairnStore.open(new MemoryStorage())
      const failure = await cairnFailure(store.import(chunks))
      expect(failure.code, failure.message).toBe('CAIRN_INVALID_CAR')
      expect(store.heads).toEqual([])
      await store.close()
    }
  })
})
