// Interop with the field's own CAR and UnixFS tools, run as they are (no mocks of their logic):
// @ipld/car's readers, @helia/car over a blockstore-core MemoryBlockstore, ipfs-unixfs-importer
// and ipfs-car (with @ipld/unixfs settings).
import { car as heliaCar } from '@helia/car'
import { CarBlockIterator, CarReader } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import * as UnixFS from '@ipld/unixfs'
import { withMaxChunkSize } from '@ipld/unixfs/file/chunker/fixed'
import { withWidth } from '@ipld/unixfs/file/layout/balanced'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { CAREncoderStream, createFileEncoderStream } from 'ipfs-car'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { afterEach, describe, expect, test } from 'vitest'
import { equalBytes } from '../../src/block/codec.ts'
import { openStore } from '../../src/index.node.ts'
import type { CairnStore } from '../../src/store/store.ts'
import { collect, sameBytes } from '../support/stores.ts'

const stores: CairnStore[] = []
async function memoryStore(): Promise<CairnStore> {
  const s = await openStore({ memory: true })
  stores.push(s)
  return s
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {})
})

const MiB = 1024 * 1024

function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

async function concat(it: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const p of it) parts.push(p)
  const out = new Uint8Array(parts.reduce((k, p) => k + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A store with events in several streams, values linking to each other and to files. */
async function populated(): Promise<{ store: CairnStore; files: { cid: CID; bytes: Uint8Array }[] }> {
  const store = await memoryStore()
  await store.append({ stream: 'user-1', type: 'user.created', data: { name: 'Ada', tags: ['a', 'b'], n: -3, f: 1.5, ok: true, nil: null } })
  await store.appendMany(Array.from({ length: 40 }, (_, i) => ({ stream: `order-${i % 5}`, type: 'line.added', data: { i, bytes: new Uint8Array([i, i + 1]) } })))
  const files = []
  for (const [n, seed] of [
    [10, 1],
    [300_000, 2],
    [1_200_000, 3],
  ] as const) {
    const bytes = bytesOf(n, seed)
    files.push({ cid: await store.putFile(bytes), bytes })
  }
  const doc = await store.put({ title: 'doc', files: files.map((f) => f.cid) }, { type: 'doc' })
  await store.append({ stream: 'user-1', type: 'user.attached', data: { doc } })
  return { store, files }
}

function decodeBy(cid: CID, bytes: Uint8Array): unknown {
  if (cid.code === dagCbor.code) return dagCbor.decode(bytes)
  if (cid.code === dagPb.code) return dagPb.decode(bytes)
  if (cid.code === raw.code) return raw.decode(bytes)
  throw new Error(`unexpected codec ${cid.code} in ${cid}`)
}

/** Checks a CAR with @ipld/car alone: every block re-hashes to its CID and decodes as `store.get` does. */
async function checkWithIpldCar(store: CairnStore, carBytes: Uint8Array): Promise<Set<string>> {
  const reader = await CarReader.fromBytes(carBytes)
  expect((await reader.getRoots()).map(String)).toEqual(store.heads.map(String))
  const seen = new Set<string>()
  for await (const { cid, bytes } of reader.blocks()) {
    expect(cid.version).toBe(1)
    expect(cid.multihash.code).toBe(sha256.code)
    const digest = await sha256.digest(bytes)
    expect(equalBytes(digest.bytes, cid.multihash.bytes)).toBe(true)
    const mine = await store.get(cid)
    if (cid.code === raw.code)
      expect(sameBytes(raw.decode(bytes), mine as Uint8Array)).toBe(true) // toEqual crawls on big arrays
    else expect(decodeBy(cid, bytes)).toEqual(mine)
    expect(seen.has(cid.toString())).toBe(false) // no block twice
    seen.add(cid.toString())
  }
  // The streaming reader, fed odd-sized pieces, agrees with the buffering one.
  const pieces = async function* (): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < carBytes.length; i += 4093) yield carBytes.subarray(i, i + 4093)
  }
  const streamed: string[] = []
  for await (const { cid } of await CarBlockIterator.fromIterable(pieces())) streamed.push(cid.toString())
  expect(streamed).toEqual([...seen])
  return seen
}

/** The minimum @helia/car needs from a Helia node: a blockstore, a logger and codecs. */
function heliaLike(blockstore: MemoryBlockstore): Parameters<typeof heliaCar>[0] {
  const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, newScope: () => log, enabled: false })
  const codecs = new Map<number, unknown>([
    [dagCbor.code, dagCbor],
    [dagPb.code, dagPb],
    [raw.code, raw],
  ])
  return {
    blockstore,
    logger: { forComponent: () => log },
    getCodec: ((code: number) => {
      const codec = codecs.get(code)
      if (codec === undefined) throw new Error(`no codec ${code}`)
      return codec
    }) as Parameters<typeof heliaCar>[0]['getCodec'],
  } as unknown as Parameters<typeof heliaCar>[0]
}

/** The IPFS defaults (`ipfs add --cid-version 1`) as @ipld/unixfs settings for ipfs-car. */
const ipfsDefaults = UnixFS.configure({
  fileChunkEncoder: raw,
  smallFileEncoder: raw,
  chunker: withMaxChunkSize(262144),
  fileLayout: withWidth(174),
})

/** Packs one file with ipfs-car's API; returns the CAR (roots = [file root]) and the root. */
async function ipfsCarPack(bytes: Uint8Array, settings?: UnixFS.EncoderSettings): Promise<{ root: CID; car: Uint8Array }> {
  const blocks: UnixFS.Block[] = []
  const blob = new Blob([bytes as Uint8Array<ArrayBuffer>])
  await createFileEncoderStream(blob, settings).pipeTo(
    new WritableStream({
      write: (b) => {
        blocks.push(b)
      },
    }),
  )
  const root = CID.decode(blocks.at(-1)!.cid.bytes)
  const parts: Uint8Array[] = []
  await new ReadableStream<UnixFS.Block>({
    pull(controller) {
      const b = blocks.shift()
      if (b === undefined) controller.close()
      else controller.enqueue(b)
    },
  })
    .pipeThrough(new CAREncoderStream([blocks.at(-1)!.cid]))
    .pipeTo(
      new WritableStream({
        write: (c: Uint8Array) => {
          parts.push(c)
        },
      }),
    )
  return { root, car: await concat(parts) }
}

describe('@ipld/car reads what Cairn writes', () => {
  test('full and incremental CARs: roots are the heads, every block re-hashes and decodes as store.get', async () => {
    const { store } = await populated()
    const full = await concat(store.export())
    const before = await checkWithIpldCar(store, full)
    expect(before.size).toBeGreaterThan(45)
    const since = store.heads

    await store.appendMany(Array.from({ length: 15 }, (_, i) => ({ stream: 'order-9', type: 'line.added', data: { i } })))
    await store.putFile(bytesOf(700_000, 9))
    const delta = await concat(store.export({ since }))
    const inDelta = await checkWithIpldCar(store, delta)
    const after = await checkWithIpldCar(store, await concat(store.export()))
    // The incremental CAR is exactly what the full export gained.
    expect([...inDelta].sort()).toEqual([...after].filter((c) => !before.has(c)).sort())
  })
})

describe('@helia/car', () => {
  test('imports a Cairn CAR into a blockstore; every block resolves to the same bytes; its subgraph export holds the same blocks', async () => {
    const { store, files } = await populated()
    const carBytes = await concat(store.export())
    const blockstore = new MemoryBlockstore()
    const c = heliaCar(heliaLike(blockstore))
    await c.import(await CarReader.fromBytes(carBytes))

    const reader = await CarReader.fromBytes(carBytes)
    let n = 0
    for await (const { cid, bytes } of reader.blocks()) {
      expect(sameBytes(await concat(blockstore.get(cid)), bytes)).toBe(true)
      n++
    }
    expect(n).toBeGreaterThan(45)

    // Helia walks the DAG from Cairn's heads with its own codecs and reaches exactly Cairn's blocks.
    // Its graph walker keeps no visited set, so on a Merkle clock (events name both their
    // parents and their stream predecessor) it would follow every path, exponentially many:
    // the walk's `includeChild` hook prunes blocks already queued.
    const queued = new Set(store.heads.map(String))
    const includeChild = (cid: CID): boolean => {
      if (queued.has(cid.toString())) return false
      queued.add(cid.toString())
      return true
    }
    const heliaOut = await concat(c.export(store.heads, { includeChild } as Parameters<typeof c.export>[1]))
    const theirs = new Set<string>()
    for await (const { cid } of (await CarReader.fromBytes(heliaOut)).blocks()) theirs.add(cid.toString())
    const ours = new Set<string>()
    for await (const { cid } of (await CarReader.fromBytes(carBytes)).blocks()) ours.add(cid.toString())
    expect([...theirs].sort()).toEqual([...ours].sort())

    // And a file exported by Helia's UnixFS exporter comes back into Cairn as a foreign object.
    const big = files.at(-1)!
    const fileCar = await concat(c.export(big.cid))
    const fresh = await memoryStore()
    const report = await fresh.import(fileCar)
    expect(report.foreign.map(String)).toEqual([big.cid.toString()])
    expect(sameBytes(await concat(fresh.cat(big.cid)), big.bytes)).toBe(true)
  })
})

describe('UnixFS CIDs', () => {
  const sizes = [0, 1, 262144, 262145, 3 * MiB]

  test.each(sizes)("putFile of %i bytes gives ipfs-unixfs-importer's CID and ipfs-car's with the IPFS defaults", async (size) => {
    const bytes = bytesOf(size, size + 11)
    const store = await memoryStore()
    const ours = await store.putFile(bytes)

    let theirs: CID | undefined
    for await (const entry of importer([{ content: [bytes] }], new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })) theirs = entry.cid
    expect(ours.toString()).toBe(theirs!.toString())

    const packed = await ipfsCarPack(bytes, ipfsDefaults)
    expect(ours.toString()).toBe(packed.root.toString())

    // ipfs-car's own default is 1 MiB chunks and 1024-wide nodes: the same CID while a file
    // fits in one 256 KiB chunk, a different DAG above that.
    const byDefault = await ipfsCarPack(bytes)
    if (size <= 262144) expect(byDefault.root.toString()).toBe(ours.toString())
    else expect(byDefault.root.toString()).not.toBe(ours.toString())

    expect(sameBytes(await concat(store.cat(ours)), bytes)).toBe(true)
  })
})

describe('ipfs-car CARs import into Cairn', () => {
  test.each([
    [3 * MiB, 'ipfs-car defaults'],
    [3 * MiB, 'IPFS defaults'],
    [5, 'ipfs-car defaults'],
  ] as const)('a %i-byte file packed with %s becomes a foreign object whose cat returns the bytes', async (size, how) => {
    const bytes = bytesOf(size, 42)
    const { root, car } = await ipfsCarPack(bytes, how === 'IPFS defaults' ? ipfsDefaults : undefined)
    const store = await memoryStore()
    const report = await store.import(car)
    expect(report.roots.map(String)).toEqual([root.toString()])
    expect(report.foreign.map(String)).toEqual([root.toString()])
    expect(report.events).toBe(0)
    expect(sameBytes(await concat(store.cat(root)), bytes)).toBe(true)
    const objects = await collect(store.objects({ type: 'car' }))
    expect(objects.map((o) => o.cid.toString())).toEqual([root.toString()])
    await store.verify()

    // The foreign object travels on in Cairn's own CARs.
    const copy = await memoryStore()
    await copy.import(store.export())
    expect(sameBytes(await concat(copy.cat(root)), bytes)).toBe(true)
  })
})
