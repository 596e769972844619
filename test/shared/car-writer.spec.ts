// writeCar against @ipld/car's CarWriter: byte-identical CARs for any roots and blocks,
// including blocks larger than a chunk and an empty CAR.
import { CarWriter } from '@ipld/car'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import type { BlockRecord } from '../../src/block/interface.ts'
import { writeCar } from '../../src/car/writer.ts'
import { bytesOf } from '../support/stores.ts'

async function reference(roots: CID[], blocks: BlockRecord[]): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  const drained = bytesOf(out)
  for (const b of blocks) await writer.put(b)
  await writer.close()
  return drained
}

async function blockOf(bytes: Uint8Array, codec: number): Promise<BlockRecord> {
  return { cid: CID.createV1(codec, await sha256.digest(bytes)), bytes }
}

describe('writeCar', () => {
  test('the same bytes as CarWriter, chunked at about 64 KiB', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ maxLength: 300 }) }, { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 140_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)) }), { maxLength: 40 }),
        fc.nat(3),
        async (payloads, rootCount) => {
          const blocks = await Promise.all(payloads.map((p, i) => blockOf(p, i % 2 === 0 ? 0x55 : 0x71)))
          const roots = blocks.slice(0, rootCount).map((b) => b.cid)
          const chunks: Uint8Array[] = []
          for await (const c of writeCar(
            roots,
            (async function* () {
              yield* blocks
            })(),
          ))
            chunks.push(c)
          const ours = await bytesOf(
            (async function* () {
              yield* chunks
            })(),
          )
          const expected = await reference(roots, blocks)
          expect(ours.length).toBe(expected.length)
          expect(ours.every((b, i) => b === expected[i])).toBe(true)
          for (const c of chunks.slice(0, -1)) expect(c.length).toBeGreaterThanOrEqual(64 * 1024)
        },
      ),
      { numRuns: 30 },
    )
  })

  test('an error from the blocks ends the stream with it', async () => {
    const it = writeCar(
      [],
      (async function* () {
        yield await blockOf(new Uint8Array([1]), 0x55)
        throw new Error('storage failed')
      })(),
    )
    await expect(bytesOf(it)).rejects.toThrow('storage failed')
  })
})
