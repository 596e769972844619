// store.cat on any UnixFS file DAG (balanced or trickle, raw or UnixFS leaves, inner nodes,
// one block or many) gives the file's bytes, and checks every block against its CID before
// any of its bytes leave: a forged leaf, inner node or root (even one that still decodes as a
// valid node) fails with CAIRN_INVALID_BLOCK naming that block. Run on every engine.
import * as dagPb from '@ipld/dag-pb'
import fc from 'fast-check'
import { importer } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced, trickle } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import { concatBytes } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { CairnStore } from '../../src/store/store.ts'
import { engineKinds, type EngineKind } from '../support/engines.ts'
import { cairnFailure, sameBytes } from '../support/stores.ts'

const kinds = await engineKinds()

interface Shape {
  readonly chunk: number
  readonly fanout: number
  readonly trickle: boolean
  readonly rawLeaves: boolean
}

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** The blocks of `bytes` as a UnixFS file of the given shape (each block once), and its root. */
async function fileDag(bytes: Uint8Array, shape: Shape): Promise<{ root: CID; blocks: BlockRecord[] }> {
  const blocks = new Map<string, BlockRecord>()
  const sink = {
    async put(cid: CID, block: Uint8Array): Promise<CID> {
      blocks.set(cid.toString(), { cid, bytes: block })
      return cid
    },
  }
  let root: CID | undefined
  for await (const entry of importer([{ content: [bytes] }], sink, {
    cidVersion: 1,
    rawLeaves: shape.rawLeaves,
    chunker: fixedSize({ chunkSize: shape.chunk }),
    layout: shape.trickle ? trickle({ maxChildrenPerNode: shape.fanout, layerRepeat: 2 }) : balanced({ maxChildrenPerNode: shape.fanout }),
  }))
    root = entry.cid
  return { root: root!, blocks: [...blocks.values()] }
}

/** Opens a store on a fresh place of `kind` whose engine holds `blocks` (committed as they are), and runs `body`. */
async function withBlocks(kind: EngineKind, blocks: BlockRecord[], body: (store: CairnStore) => Promise<void>): Promise<void> {
  const fx = await kind.create()
  try {
    const engine = await fx.open()
    await engine.commit({ blocks, heads: [] })
    const store = await CairnStore.open(engine)
    try {
      await body(store)
    } finally {
      await store.close()
    }
  } finally {
    await fx.dispose()
  }
}

/** What a cat hands out before it ends, and how it ends. */
async function catUntilEnd(store: CairnStore, cid: CID): Promise<{ bytes: Uint8Array; error: unknown }> {
  const parts: Uint8Array[] = []
  try {
    for await (const c of store.cat(cid)) parts.push(c.slice())
  } catch (error) {
    return { bytes: concatBytes(parts), error }
  }
  return { bytes: concatBytes(parts), error: undefined }
}

/** A dag-pb node with its first two links swapped: still a valid node, with other bytes. */
function swapped(bytes: Uint8Array): Uint8Array {
  const node = dagPb.decode(bytes)
  const links = [...node.Links]
  ;[links[0], links[1]] = [links[1]!, links[0]!]
  return dagPb.encode(dagPb.prepare({ ...node, Links: links }))
}

for (const kind of kinds) {
  describe(`cat on ${kind.name}`, () => {
    test('any file DAG shape: cat gives the bytes that were imported', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({ size: fc.nat(6000), chunk: fc.integer({ min: 1, max: 700 }), fanout: fc.integer({ min: 2, max: 6 }), trickle: fc.boolean(), rawLeaves: fc.boolean(), seed: fc.nat() }),
          async ({ size, seed, ...shape }) => {
            const bytes = pattern(size, seed)
            const { root, blocks } = await fileDag(bytes, shape)
            await withBlocks(kind, blocks, async (store) => {
              const { bytes: got, error } = await catUntilEnd(store, root)
              expect(error).toBeUndefined()
              expect(got.length).toBe(bytes.length)
              expect(sameBytes(got, bytes)).toBe(true)
            })
          },
        ),
        { numRuns: 8 },
      )
    })

    test('a forged leaf, inner node or root fails with CAIRN_INVALID_BLOCK naming it, before any of its bytes leave', async () => {
      const chunk = 100
      const bytes = pattern(40 * chunk, 7) // 40 distinct leaves under a tree of fanout 3
      const { root, blocks } = await fileDag(bytes, { chunk, fanout: 3, trickle: false, rawLeaves: true })
      const leafAt = async (k: number): Promise<CID> => CID.createV1(0x55, await sha256.digest(bytes.subarray(k * chunk, (k + 1) * chunk)))
      // An inner node not at the start: a dag-pb node other than the root whose children are leaves.
      const leafStart = new Map<string, number>()
      for (let k = 0; k < 40; k++) leafStart.set(String(await leafAt(k)), k * chunk)
      const inners = blocks.filter((b) => b.cid.code === dagPb.code && !b.cid.equals(root) && dagPb.decode(b.bytes).Links.every((l) => l.Hash.code === 0x55))
      const inner = inners.find((b) => leafStart.get(String(dagPb.decode(b.bytes).Links[0]!.Hash))! > 0)!
      const innerStart = leafStart.get(String(dagPb.decode(inner.bytes).Links[0]!.Hash))!
      expect(innerStart).toBeGreaterThan(0)
      const cases: [string, CID, (b: Uint8Array) => Uint8Array, number][] = [
        // [what, forged block, forgery (same length for leaves), bytes that may leave before the failure]
        ['a leaf in the middle', await leafAt(17), (b) => b.map((x, i) => (i === 5 ? x ^ 1 : x)), 17 * chunk],
        ['the last leaf', await leafAt(39), (b) => b.map((x, i) => (i === 0 ? x ^ 0x80 : x)), 39 * chunk],
        ['an inner node (children swapped: still a valid node)', inner.cid, swapped, innerStart],
        ['the root (children swapped: still a valid node)', root, swapped, 0],
      ]
      for (const [what, forged, forge, before] of cases) {
        const tampered = blocks.map((b) => (b.cid.equals(forged) ? { cid: b.cid, bytes: forge(b.bytes) } : b))
        expect(tampered.find((b) => b.cid.equals(forged))!.bytes, what).not.toEqual(blocks.find((b) => b.cid.equals(forged))!.bytes)
        await withBlocks(kind, tampered, async (store) => {
          const { bytes: got, error } = await catUntilEnd(store, root)
          expect(error, what).toMatchObject({ code: 'CAIRN_INVALID_BLOCK' })
          expect(String((error as { cid?: CID }).cid), what).toBe(String(forged))
          expect(got.length, what).toBeLessThanOrEqual(before)
          expect(sameBytes(got, bytes.subarray(0, got.length)), what).toBe(true)
        })
      }
    })

    test('a file of one repeated leaf (zeros): cat gives its bytes, and a forged copy of that leaf fails before any byte leaves', async () => {
      const chunk = 128
      const bytes = new Uint8Array(60 * chunk) // 60 leaves, all the same block
      const { root, blocks } = await fileDag(bytes, { chunk, fanout: 7, trickle: false, rawLeaves: true })
      const leaf = CID.createV1(0x55, await sha256.digest(bytes.subarray(0, chunk)))
      expect(blocks.filter((b) => b.cid.code === 0x55).map((b) => String(b.cid))).toEqual([String(leaf)])
      await withBlocks(kind, blocks, async (store) => {
        const { bytes: got, error } = await catUntilEnd(store, root)
        expect(error).toBeUndefined()
        expect(sameBytes(got, bytes)).toBe(true)
      })
      const forged = blocks.map((b) => (b.cid.equals(leaf) ? { cid: leaf, bytes: b.bytes.map((x, i) => (i === 3 ? 1 : x)) } : b))
      await withBlocks(kind, forged, async (store) => {
        const { bytes: got, error } = await catUntilEnd(store, root)
        expect(error).toMatchObject({ code: 'CAIRN_INVALID_BLOCK' })
        expect(String((error as { cid?: CID }).cid)).toBe(String(leaf))
        expect(got.length).toBe(0)
      })
    })

    test('a reader that stops early leaves no failing read or check behind (a forged leaf read ahead)', async () => {
      const chunk = 100
      const bytes = pattern(100 * chunk, 11) // one node of 100 leaves: windows read ahead of the reader
      const { root, blocks } = await fileDag(bytes, { chunk, fanout: 174, trickle: false, rawLeaves: true })
      const forged = CID.createV1(0x55, await sha256.digest(bytes.subarray(70 * chunk, 71 * chunk)))
      const tampered = blocks.map((b) => (b.cid.equals(forged) ? { cid: b.cid, bytes: b.bytes.map((x) => x ^ 1) } : b))
      const unhandled: unknown[] = []
      const onUnhandled = (event: unknown): void => {
        unhandled.push(event)
      }
      const scope = globalThis as { addEventListener?: (type: string, fn: (e: unknown) => void) => void; removeEventListener?: (type: string, fn: (e: unknown) => void) => void }
      const proc = (globalThis as { process?: { on(e: string, fn: (r: unknown) => void): void; off(e: string, fn: (r: unknown) => void): void } }).process
      proc?.on('unhandledRejection', onUnhandled)
      scope.addEventListener?.('unhandledrejection', onUnhandled)
      try {
        await withBlocks(kind, tampered, async (store) => {
          for await (const c of store.cat(root)) {
            expect(sameBytes(c, bytes.subarray(0, c.length))).toBe(true)
            break
          }
          await new Promise((resolve) => setTimeout(resolve, 100))
        })
      } finally {
        proc?.off('unhandledRejection', onUnhandled)
        scope.removeEventListener?.('unhandledrejection', onUnhandled)
      }
      expect(unhandled).toEqual([])
    })

    test('a missing leaf fails with CAIRN_NOT_FOUND naming it', async () => {
      const chunk = 64
      const bytes = pattern(20 * chunk, 3)
      const { root, blocks } = await fileDag(bytes, { chunk, fanout: 4, trickle: false, rawLeaves: true })
      const missing = CID.createV1(0x55, await sha256.digest(bytes.subarray(9 * chunk, 10 * chunk)))
      await withBlocks(
        kind,
        blocks.filter((b) => !b.cid.equals(missing)),
        async (store) => {
          const failure = await cairnFailure(concatAll(store.cat(root)))
          expect(failure.code).toBe('CAIRN_NOT_FOUND')
          expect(String(failure.cid)).toBe(String(missing))
        },
      )
    })
  })
}

async function concatAll(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of it) parts.push(c)
  return concatBytes(parts)
}
