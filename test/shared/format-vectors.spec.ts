// Block format v1 vectors (test/fixtures/v1/): CARs written by an earlier build of this code,
// with their block lists, heads, stateHash, versions and events. A change that alters the bytes
// of format v1 — the event block, object records, UnixFS files, the CAR export — fails here.
// Each vector is imported into a fresh store and checked, every block is re-hashed and
// re-encoded, and the construction that wrote the fixtures is re-run and compared byte for byte.
import { describe, expect, test } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { CarReader } from '@ipld/car/reader'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { compareBytes } from '../../src/block/codec.ts'
import { DAG_CBOR, DAG_PB, RAW } from '../../src/block/interface.ts'
import { decodeEvent, encodeEvent } from '../../src/log/event/format.ts'
import { openStore } from '../../src/index.ts'
import { buildVectors, carContents, describeStore, FORMAT, largeFileBytes, LARGE_FILE_SIZE, sha256Hex, smallFileBytes, type CarVector, type Vectors } from '../fixtures/v1/build.ts'
import { importServerOnly } from '../support/runtime.ts'
import { collect, sameBytes } from '../support/stores.ts'

/**
 * The fixtures' place. A literal `new URL(file, import.meta.url)`: in the browser Vite rewrites it
 * to the file's path under its dev server's root (the spec module's own URL is an absolute file
 * system path there, which the static server does not serve); in Node and Deno it is a file: URL.
 */
const VECTORS_URL = new URL('../fixtures/v1/vectors.json', import.meta.url)

/** A fixture's bytes: read from disk in Node and Deno, fetched from Vite's dev server in the browser. */
async function fixture(name: string): Promise<Uint8Array> {
  const url = new URL(name, VECTORS_URL) // a sibling of vectors.json
  if (url.protocol === 'file:') {
    const fs = await importServerOnly<typeof import('node:fs/promises')>('node:fs/promises')
    return new Uint8Array(await fs.readFile(url))
  }
  const res = await fetch(url)
  if (!res.ok) throw new Error(`fetching ${url} gave HTTP ${res.status}`)
  return new Uint8Array(await res.arrayBuffer())
}

const vectors = JSON.parse(new TextDecoder().decode(await fixture('vectors.json'))) as Vectors
const carBytes = new Map<string, Uint8Array>()
for (const v of vectors.cars) carBytes.set(v.name, await fixture(v.name))
const car = (name: string): Uint8Array => carBytes.get(name)!

/** Where two byte arrays first differ, for a readable failure. */
function firstDifference(a: Uint8Array, b: Uint8Array): string {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `byte ${i} differs (${a[i]} vs ${b[i]}); lengths ${a.length} and ${b.length}`
  return a.length === b.length ? 'equal' : `lengths ${a.length} and ${b.length}`
}

/** The CARs a vector needs, base first. */
function chainOf(v: CarVector): Uint8Array[] {
  return v.base === null ? [car(v.name)] : [car(v.base), car(v.name)]
}

/** The blocks of a CAR, read with @ipld/car (not Cairn's reader). */
async function ipldCarBlocks(bytes: Uint8Array): Promise<{ roots: CID[]; blocks: { cid: CID; bytes: Uint8Array }[] }> {
  const reader = await CarReader.fromBytes(bytes)
  const blocks: { cid: CID; bytes: Uint8Array }[] = []
  for await (const b of reader.blocks()) blocks.push({ cid: CID.decode(b.cid.bytes), bytes: b.bytes })
  return { roots: (await reader.getRoots()).map((r) => CID.decode(r.bytes)), blocks }
}

/** CIDv1 / sha2-256 of `bytes` under `code`, hashed with multiformats (not Cairn's hasher). */
async function cidOf(code: number, bytes: Uint8Array): Promise<CID> {
  return CID.createV1(code, await sha256.digest(bytes))
}

/** A protobuf varint, for building a UnixFS node by hand. */
function varint(n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return out
}

describe('format v1 vectors', () => {
  test('vectors.json is format 1 and lists every CAR with a known base', () => {
    expect(vectors.format).toBe(1)
    expect(FORMAT).toBe(1)
    expect(vectors.cars.map((v) => v.name)).toEqual(['log.car', 'objects.car', 'merge-b.car', 'merge.car', 'merge-since-b.car'])
    for (const v of vectors.cars) {
      if (v.base !== null) expect(vectors.cars.some((b) => b.name === v.base && b.base === null)).toBe(true)
      expect(car(v.name).length, v.name).toBe(v.size)
    }
  })

  for (const v of vectors.cars) {
    describe(v.name, () => {
      test('imports into a fresh store with the recorded heads, stateHash, versions and events', async () => {
        const store = await openStore({ memory: true })
        try {
          for (const bytes of chainOf(v)) await store.import(bytes)
          const got = await describeStore(store)
          expect(got.heads).toEqual(v.heads)
          expect(got.stateHash).toBe(v.stateHash)
          expect(got.versions).toEqual(v.versions)
          expect(got.events).toEqual(v.events)
          const blocks = new Set([...(v.base === null ? [] : vectors.cars.find((b) => b.name === v.base)!.blocks), ...v.blocks])
          const report = await store.verify()
          expect(report.blocks).toBe(blocks.size)
          expect(report.dangling).toEqual([])
          for (const [stream, version] of Object.entries(v.versions)) {
            const read = await collect(store.read(stream))
            expect(read.map((e) => e.version)).toEqual(Array.from({ length: version }, (_, i) => i + 1))
            expect(read.map((e) => e.cid.toString())).toEqual(v.events.filter((e) => e.stream === stream).map((e) => e.cid))
          }
        } finally {
          await store.close()
        }
      })

      test('the recorded events are in canonical order and the stateHash is the hash of their CIDs', async () => {
        const cids = v.events.map((e) => CID.parse(e.cid))
        for (let i = 1; i < v.events.length; i++) {
          const a = v.events[i - 1]!
          const b = v.events[i]!
          expect(a.ts - b.ts || a.tc - b.tc || compareBytes(cids[i - 1]!.bytes, cids[i]!.bytes), `${a.cid} before ${b.cid}`).toBeLessThan(0)
        }
        const joined = new Uint8Array(cids.reduce((n, c) => n + c.bytes.length, 0))
        let at = 0
        for (const c of cids) {
          joined.set(c.bytes, at)
          at += c.bytes.length
        }
        expect((await cidOf(RAW, joined)).toString()).toBe(v.stateHash)
      })

      test('the CAR holds the recorded roots and blocks; every block hashes to its CID and re-encodes to its bytes', async () => {
        const bytes = car(v.name)
        // Cairn's reader and @ipld/car's agree with the recorded list.
        expect(await carContents(bytes)).toEqual({ roots: v.roots, blocks: v.blocks })
        const parsed = await ipldCarBlocks(bytes)
        expect(parsed.roots.map(String)).toEqual(v.roots)
        expect(parsed.blocks.map((b) => b.cid.toString())).toEqual(v.blocks)
        if (v.base === null) expect(v.roots).toEqual(v.heads)
        const recorded = new Map(v.events.map((e) => [e.cid, e]))
        const eventsInCar: string[] = []
        for (const { cid, bytes: block } of parsed.blocks) {
          expect(cid.version, `${cid}`).toBe(1)
          expect((await cidOf(cid.code, block)).equals(cid), `${cid} hashes to its CID`).toBe(true)
          const expected = recorded.get(cid.toString())
          if (expected !== undefined) {
            // An event: decoded with the v1 checks, re-encoded with the event encoder.
            const event = await decodeEvent(cid, block)
            expect(event.v).toBe(1)
            expect({ stream: event.stream, type: event.type, ts: event.ts, tc: event.tc }).toEqual({ stream: expected.stream, type: expected.type, ts: expected.ts, tc: expected.tc })
            const again = encodeEvent(event)
            expect(again.cid.toString(), `${cid} re-encodes to the same CID`).toBe(cid.toString())
            expect(sameBytes(again.bytes, block), `${cid} re-encodes byte for byte`).toBe(true)
            eventsInCar.push(cid.toString())
          } else if (cid.code === DAG_CBOR) {
            expect(sameBytes(dagCbor.encode(dagCbor.decode(block)), block), `${cid} re-encodes as dag-cbor`).toBe(true)
          } else if (cid.code === DAG_PB) {
            expect(sameBytes(dagPb.encode(dagPb.prepare(dagPb.decode(block))), block), `${cid} re-encodes as dag-pb`).toBe(true)
          } else {
            expect(cid.code, `${cid} is raw`).toBe(RAW)
          }
        }
        // A full CAR holds every event; an incremental one holds what its base lacks.
        const baseEvents = v.base === null ? [] : vectors.cars.find((b) => b.name === v.base)!.events.map((e) => e.cid)
        expect([...baseEvents, ...eventsInCar].sort()).toEqual(v.events.map((e) => e.cid).sort())
      })
    })
  }

  test('file CIDs are the IPFS defaults for CIDv1 (256 KiB chunks, raw leaves, balanced dag-pb)', async () => {
    const [small, large] = vectors.files
    expect(small!.name).toBe('small')
    expect(large!.name).toBe('large')
    const smallBytes = smallFileBytes()
    const largeBytes = largeFileBytes()
    expect(largeBytes.length).toBe(LARGE_FILE_SIZE)
    expect([sha256Hex(smallBytes), sha256Hex(largeBytes)]).toEqual([small!.sha256, large!.sha256])
    // `ipfs add --cid-version 1` of "hello world"
    expect(small!.cid).toBe('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e')
    expect((await cidOf(RAW, smallBytes)).toString()).toBe(small!.cid)
    // The large file by hand: raw leaves of 262144 bytes and the rest, under a dag-pb node whose
    // Data is UnixFS { Type: File, filesize, blocksizes } and whose links are named ''.
    const leaves = [largeBytes.subarray(0, 262144), largeBytes.subarray(262144)]
    const leafCids = await Promise.all(leaves.map((l) => cidOf(RAW, l)))
    const data = Uint8Array.from([0x08, 0x02, 0x18, ...varint(largeBytes.length), ...leaves.flatMap((l) => [0x20, ...varint(l.length)])])
    const rootBytes = dagPb.encode({ Data: data, Links: leafCids.map((Hash, i) => ({ Hash, Name: '', Tsize: leaves[i]!.length })) })
    const root = await cidOf(DAG_PB, rootBytes)
    expect(large!.cid).toBe('bafybeid3dje5qecwwvv6sqhh773olluouwz4jggusuhnemj2646aabinee')
    expect(root.toString()).toBe(large!.cid)
    expect(large!.blocks).toEqual([root, ...leafCids].map(String))
    // And ipfs-unixfs-importer with the IPFS defaults for CIDv1.
    for (const [bytes, vector] of [
      [smallBytes, small!],
      [largeBytes, large!],
    ] as const) {
      let theirs: CID | undefined
      for await (const entry of importer([{ content: [bytes] }], { put: async (c: CID) => c }, { cidVersion: 1, rawLeaves: true })) theirs = entry.cid
      expect(theirs?.toString()).toBe(vector.cid)
    }
    // putFile gives those CIDs today, and objects.car (which carries both files) reads back.
    const store = await openStore({ memory: true })
    try {
      expect((await store.putFile(smallBytes)).toString()).toBe(small!.cid)
      expect((await store.putFile(largeBytes)).toString()).toBe(large!.cid)
    } finally {
      await store.close()
    }
    const imported = await openStore({ memory: true })
    try {
      await imported.import(car('objects.car'))
      for (const [bytes, vector] of [
        [smallBytes, small!],
        [largeBytes, large!],
      ] as const) {
        const parts = await collect(imported.cat(CID.parse(vector.cid)))
        const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
        let at = 0
        for (const p of parts) {
          joined.set(p, at)
          at += p.length
        }
        expect(sameBytes(joined, bytes), `${vector.name} reads back`).toBe(true)
      }
      const objects = await collect(imported.objects())
      expect(
        objects
          .filter((o) => o.cid.toString() === small!.cid || o.cid.toString() === large!.cid)
          .map((o) => o.size)
          .sort((a, b) => a - b),
      ).toEqual([small!.size, large!.size])
    } finally {
      await imported.close()
    }
    const objectsCar = vectors.cars.find((v) => v.name === 'objects.car')!
    for (const cid of [...small!.blocks, ...large!.blocks]) expect(objectsCar.blocks).toContain(cid)
  })

  test('re-running the construction today writes the checked-in CARs byte for byte and the same vectors.json', async () => {
    const built = await buildVectors()
    expect([...built.cars.keys()]).toEqual(vectors.cars.map((v) => v.name))
    for (const [name, bytes] of built.cars) {
      if (!sameBytes(bytes, car(name))) {
        // Say what moved (a CID, the block order, a stamp) before saying that the bytes differ.
        expect(
          built.vectors.cars.find((v) => v.name === name),
          name,
        ).toEqual(vectors.cars.find((v) => v.name === name))
      }
      expect(sameBytes(bytes, car(name)), `${name}: ${firstDifference(bytes, car(name))}`).toBe(true)
    }
    expect(built.vectors).toEqual(vectors)
  })
})
