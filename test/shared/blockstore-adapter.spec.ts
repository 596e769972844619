// The interface-blockstore adapter's own guarantees: a two-slot heads record that survives a
// torn write, blocks before heads, and a listing that keeps codecs and hides its bookkeeping.
import { describe, expect, test } from 'vitest'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { MemoryBlockstore } from 'blockstore-core/memory'
import type { AbortOptions } from 'abort-error'
import { CID } from 'multiformats/cid'
import { encodeRaw, encodeValue } from '../../src/block/codec.ts'
import { sha256Sync } from '../../src/block/hash.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { BLOCKSTORE_HEADS_SLOTS, openBlockstoreStorage } from '../../src/storage/blockstore.ts'

const [SLOT_A, SLOT_B] = BLOCKSTORE_HEADS_SLOTS

function blocksOf(n: number, tag: string): BlockRecord[] {
  return Array.from({ length: n }, (_, i) => encodeValue({ tag, i }))
}

async function readSlot(bs: MemoryBlockstore, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const c of bs.get(cid)) chunks.push(c)
  return chunks.length === 1 ? chunks[0]! : new Uint8Array(chunks.flatMap((c) => [...c]))
}

async function listed(s: { blocks(): AsyncIterable<BlockRecord> }): Promise<string[]> {
  const out: string[] = []
  for await (const b of s.blocks()) out.push(b.cid.toString())
  return out.sort()
}

/** Two commits: slot A holds commit 1 (heads [a]), slot B commit 2 (heads [b]), the newest. */
async function twoCommits(bs: MemoryBlockstore): Promise<{ first: BlockRecord[]; second: BlockRecord[] }> {
  const s = await openBlockstoreStorage(bs)
  const first = blocksOf(3, 'one')
  const second = blocksOf(3, 'two')
  await s.commit({ blocks: first, heads: [first[2]!.cid] })
  await s.commit({ blocks: second, heads: [second[2]!.cid] })
  await s.close()
  return { first, second }
}

/** Throws from the n-th put (counting every put, heads record included). */
class FlakyBlockstore extends MemoryBlockstore {
  puts = 0
  failOn = Infinity
  override put(key: CID, val: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>, options?: AbortOptions): CID | Promise<CID> {
    if (++this.puts === this.failOn) throw new Error('disk full (test)')
    return super.put(key, val, options)
  }
}

describe('blockstore adapter', () => {
  test('the slot keys are sha2-256 CIDs, not identity ones', () => {
    // Identity CIDs are short-circuited by Helia's IdentityBlockstore and break blockstore-fs getAll().
    for (const slot of BLOCKSTORE_HEADS_SLOTS) expect(slot.multihash.code).toBe(0x12)
    expect(SLOT_A.equals(SLOT_B)).toBe(false)
  })

  for (const [what, damage] of [
    ['garbage', (_bytes: Uint8Array) => new TextEncoder().encode('not cbor at all \u00ff')],
    ['a torn write (truncated)', (bytes: Uint8Array) => bytes.slice(0, Math.floor(bytes.length / 2))],
    ['an empty file', (_bytes: Uint8Array) => new Uint8Array(0)],
    [
      'a record whose check does not match',
      (bytes: Uint8Array) => {
        const record = dagCbor.decode<{ seq: number; heads: CID[]; log: CID | null; check: Uint8Array }>(bytes)
        return dagCbor.encode({ ...record, heads: [] })
      },
    ],
    ['a valid record of the other slot', (_bytes: Uint8Array, other?: Uint8Array) => other!],
  ] as const) {
    test(`the newest slot holding ${what} falls back to the previous heads`, async () => {
      const bs = new MemoryBlockstore()
      const { first, second } = await twoCommits(bs)
      await bs.put(SLOT_B, damage(await readSlot(bs, SLOT_B), await readSlot(bs, SLOT_A)))
      let s = await openBlockstoreStorage(bs)
      expect((await s.heads()).map(String)).toEqual([first[2]!.cid.toString()])
      // The blocks of the lost commit are still there, unreferenced.
      expect(await s.has(second[0]!.cid)).toBe(true)
      // The next commit overwrites the damaged slot and counts on from the survivor.
      const third = blocksOf(2, 'three')
      await s.commit({ blocks: third, heads: [third[1]!.cid] })
      await s.close()
      s = await openBlockstoreStorage(bs)
      expect((await s.heads()).map(String)).toEqual([third[1]!.cid.toString()])
      expect(await listed(s)).toEqual([...first, ...third].map((b) => b.cid.toString()).sort())
      await s.close()
    })
  }

  test('a damaged older slot does not matter', async () => {
    const bs = new MemoryBlockstore()
    const { second } = await twoCommits(bs)
    await bs.put(SLOT_A, new Uint8Array([1, 2, 3]))
    const s = await openBlockstoreStorage(bs)
    expect((await s.heads()).map(String)).toEqual([second[2]!.cid.toString()])
  })

  test('both slots damaged is CAIRN_CORRUPT', async () => {
    const bs = new MemoryBlockstore()
    await twoCommits(bs)
    await bs.put(SLOT_A, new Uint8Array([0xa1]))
    await bs.put(SLOT_B, new TextEncoder().encode('garbage'))
    await expect(openBlockstoreStorage(bs)).rejects.toMatchObject({ name: 'CairnError', code: 'CAIRN_CORRUPT' })
  })

  test('a torn first commit (slot A damaged, slot B never written) opens empty', async () => {
    const bs = new MemoryBlockstore()
    const s0 = await openBlockstoreStorage(bs)
    const [a] = blocksOf(1, 'first')
    await s0.commit({ blocks: [a!], heads: [a!.cid] })
    await s0.close()
    await bs.put(SLOT_A, (await readSlot(bs, SLOT_A)).slice(0, 5))
    const s = await openBlockstoreStorage(bs)
    expect(await s.heads()).toEqual([])
    expect(await listed(s)).toEqual([])
  })

  test('blocks() lists exactly the committed blocks with their codecs, never the slots or block lists', async () => {
    const bs = new MemoryBlockstore()
    const s = await openBlockstoreStorage(bs)
    const pbBytes = dagPb.encode({ Data: new Uint8Array([8, 1]), Links: [] })
    const pb = { cid: CID.createV1(dagPb.code, sha256Sync(pbBytes)), bytes: pbBytes }
    const batch: BlockRecord[] = [...blocksOf(5000, 'many'), await encodeRaw(new Uint8Array([1, 2, 3])), pb]
    await s.commit({ blocks: batch, heads: [batch[0]!.cid] })
    await s.commit({ blocks: [batch[1]!], heads: [batch[1]!.cid] })
    const all: BlockRecord[] = []
    for await (const b of s.blocks()) all.push(b)
    expect(all.map((b) => b.cid.toString()).sort()).toEqual(batch.map((b) => b.cid.toString()).sort())
    expect(new Set(all.map((b) => b.cid.code))).toEqual(new Set([0x71, 0x55, 0x70]))
    const raw = all.find((b) => b.cid.code === 0x55)!
    expect(raw.bytes).toEqual(new Uint8Array([1, 2, 3]))
    // The blockstore itself holds more: the two slots and the block lists (5002 CIDs: two lists, then one).
    let stored = 0
    for await (const _ of bs.getAll()) stored++
    expect(stored).toBe(batch.length + 2 + 3)
    for (const slot of BLOCKSTORE_HEADS_SLOTS) {
      expect(await s.has(slot)).toBe(false)
      expect(await s.get(slot)).toBeUndefined()
    }
    await expect(s.commit({ blocks: [{ cid: SLOT_A, bytes: new Uint8Array(1) }], heads: [] })).rejects.toMatchObject({ code: 'CAIRN_INVALID_BLOCK' })
    await s.close()
  })

  test('a put that throws mid-batch leaves the heads unchanged, also after reopen', async () => {
    const bs = new FlakyBlockstore()
    let s = await openBlockstoreStorage(bs, { concurrency: 1 })
    const first = blocksOf(2, 'ok')
    await s.commit({ blocks: first, heads: [first[1]!.cid] })
    bs.puts = 0
    bs.failOn = 3
    const failing = blocksOf(5, 'fails')
    const err = await s.commit({ blocks: failing, heads: [failing[4]!.cid] }).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'CairnError', code: 'CAIRN_STORAGE' })
    expect((err as Error).cause).toMatchObject({ message: 'disk full (test)' })
    expect((await s.heads()).map(String)).toEqual([first[1]!.cid.toString()])
    expect(await listed(s)).toEqual(first.map((b) => b.cid.toString()).sort())
    await s.close()
    s = await openBlockstoreStorage(bs)
    expect((await s.heads()).map(String)).toEqual([first[1]!.cid.toString()])
    expect(await listed(s)).toEqual(first.map((b) => b.cid.toString()).sort())
    // Retrying the same batch works; the blocks that did land are skipped.
    bs.failOn = Infinity
    await s.commit({ blocks: failing, heads: [failing[4]!.cid] })
    expect((await s.heads()).map(String)).toEqual([failing[4]!.cid.toString()])
    expect(await listed(s)).toEqual([...first, ...failing].map((b) => b.cid.toString()).sort())
    await s.close()
  })

  test('a failed heads-record write leaves the heads unchanged', async () => {
    const bs = new FlakyBlockstore()
    const s = await openBlockstoreStorage(bs)
    const blocks = blocksOf(3, 'last')
    bs.failOn = 3 + 1 + 1 // three blocks, one block list, then the heads record
    await expect(s.commit({ blocks, heads: [blocks[0]!.cid] })).rejects.toMatchObject({ code: 'CAIRN_STORAGE' })
    expect(await s.heads()).toEqual([])
    expect(await (await openBlockstoreStorage(bs)).heads()).toEqual([])
  })

  test('commits run one at a time in call order', async () => {
    const bs = new MemoryBlockstore()
    const s = await openBlockstoreStorage(bs)
    const batches = Array.from({ length: 8 }, (_, i) => blocksOf(20, `c${i}`))
    await Promise.all(batches.map((b) => s.commit({ blocks: b, heads: [b[0]!.cid] })))
    expect((await s.heads()).map(String)).toEqual([batches[7]![0]!.cid.toString()])
    await s.close()
    const again = await openBlockstoreStorage(bs)
    expect((await again.heads()).map(String)).toEqual([batches[7]![0]!.cid.toString()])
    expect((await listed(again)).length).toBe(8 * 20)
  })

  test('close waits for pending commits, calls onClose once, then every method is CAIRN_CLOSED', async () => {
    const bs = new MemoryBlockstore()
    let closes = 0
    const s = await openBlockstoreStorage(bs, {
      onClose: () => {
        closes++
      },
    })
    const [a] = blocksOf(1, 'x')
    const pending = s.commit({ blocks: [a!], heads: [a!.cid] })
    await s.close()
    await pending
    await s.close()
    expect(closes).toBe(1)
    await expect(s.get(a!.cid)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(s.has(a!.cid)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(s.heads()).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(s.commit({ blocks: [], heads: [] })).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    await expect(listed(s)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
    expect((await (await openBlockstoreStorage(bs)).heads()).map(String)).toEqual([a!.cid.toString()])
  })

  test('bad options are argument errors, checked before the blockstore is read; a commit never names blocks it did not write', async () => {
    const bs = new MemoryBlockstore()
    const bad: [unknown, ErrorConstructor, RegExp][] = [
      [null, TypeError, /"options" expected an object/],
      [[], TypeError, /"options" expected an object/],
      [{ concurency: 4 }, TypeError, /"options.concurency" is an unknown key/],
      [{ concurrency: 'many' }, TypeError, /"options.concurrency" expected a positive integer/],
      [{ concurrency: Number.NaN }, TypeError, /"options.concurrency" expected a positive integer/],
      [{ concurrency: 2.5 }, TypeError, /"options.concurrency" expected a positive integer/],
      [{ concurrency: 0 }, RangeError, /"options.concurrency" expected a positive integer/],
      [{ onClose: 'close' }, TypeError, /"options.onClose" expected a function/],
    ]
    let reads = 0
    const counting = new Proxy(bs, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown
        if (typeof v !== 'function') return v
        return (...args: unknown[]) => {
          reads++
          return (v as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
    for (const [options, kind, message] of bad) {
      const err = await openBlockstoreStorage(counting, options as never).catch((e: unknown) => e)
      expect(err, JSON.stringify(options)).toBeInstanceOf(kind)
      expect((err as Error).message).toMatch(message)
    }
    expect(reads).toBe(0)
    // undefined values mean "the default", as everywhere else.
    const s = await openBlockstoreStorage(bs, { concurrency: undefined, onClose: undefined })
    const blocks = blocksOf(40, 'ok')
    await s.commit({ blocks, heads: [blocks[39]!.cid] })
    for (const b of blocks) expect(await bs.has(b.cid)).toBe(true)
    await s.close()
  })
})
