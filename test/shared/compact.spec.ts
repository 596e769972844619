// Compaction (StorageEngine.compact), run against every engine of the current runtime: it
// removes exactly the blocks `live` rejects, keeps the others byte for byte and the heads as
// they were, reclaims nothing the second time, and a reopen sees the same.
import * as dagCbor from '@ipld/dag-cbor'
import { MemoryBlockstore } from 'blockstore-core/memory'
import type { Blockstore } from 'interface-blockstore'
import { base32 } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'
import { describe, expect, test } from 'vitest'
import { encodeRaw, encodeValue, equalBytes } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { BLOCKSTORE_COMPACTION_KEY, BLOCKSTORE_HEADS_SLOTS, openBlockstoreStorage } from '../../src/storage/blockstore.ts'
import type { CompactReport, StorageEngine } from '../../src/storage/interface.ts'
import { engineKinds, withFixture } from '../support/engines.ts'

const kinds = await engineKinds()

function blocksOf(n: number, tag: string): BlockRecord[] {
  return Array.from({ length: n }, (_, i) => encodeValue({ tag, i, pad: 'x'.repeat((i * 37) % 300) }))
}

const sorted = (cids: readonly CID[]): string[] => cids.map(String).sort()

async function listed(s: StorageEngine): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  for await (const b of s.blocks()) {
    expect(out.has(b.cid.toString()), `listed twice: ${b.cid}`).toBe(false)
    out.set(b.cid.toString(), b.bytes)
  }
  return out
}

function compactOf(s: StorageEngine): NonNullable<StorageEngine['compact']> {
  expect(typeof s.compact, `${s.kind} offers compact`).toBe('function')
  return s.compact!.bind(s)
}

/**
 * A store with live batches (each moving the heads) and, between them, dead blocks committed
 * with the heads unchanged, as an interrupted putFile or import leaves them. One live block is
 * also repeated in a dead commit, and both kinds hold a 100 kB block.
 */
async function populate(s: StorageEngine): Promise<{ live: BlockRecord[]; dead: BlockRecord[]; heads: CID[] }> {
  const live: BlockRecord[] = []
  const dead: BlockRecord[] = []
  let heads: CID[] = []
  const bigLive = await encodeRaw(new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff))
  const bigDead = await encodeRaw(new Uint8Array(100_000).map((_, i) => (i * 11) & 0xff))
  for (let round = 0; round < 4; round++) {
    const batch = [...blocksOf(12, `live-${round}`), ...(round === 1 ? [bigLive] : [])]
    live.push(...batch)
    heads = [batch[0]!.cid, batch[5]!.cid].sort((a, b) => (a.toString() < b.toString() ? -1 : 1))
    await s.commit({ blocks: batch, heads })
    const garbage = [...blocksOf(9, `dead-${round}`), ...(round === 2 ? [bigDead] : [])]
    dead.push(...garbage)
    // Dead: committed without moving the heads, and one live block comes again with them.
    await s.commit({ blocks: [...garbage, live[3]!], heads })
  }
  return { live, dead, heads }
}

async function expectLive(s: StorageEngine, blocks: readonly BlockRecord[]): Promise<void> {
  for (const b of blocks) {
    const got = await s.get(b.cid)
    expect(got !== undefined && equalBytes(got, b.bytes), `get ${b.cid}`).toBe(true)
    expect(await s.has(b.cid), `has ${b.cid}`).toBe(true)
  }
}

async function expectGone(s: StorageEngine, blocks: readonly BlockRecord[]): Promise<void> {
  for (const b of blocks) {
    expect(await s.has(b.cid), `has ${b.cid}`).toBe(false)
    expect(await s.get(b.cid), `get ${b.cid}`).toBeUndefined()
  }
}

/** `blocks()` lists exactly `blocks`, each once and byte for byte. */
async function expectListed(s: StorageEngine, blocks: readonly BlockRecord[]): Promise<void> {
  const all = await listed(s)
  expect([...all.keys()].sort()).toEqual(sorted(blocks.map((b) => b.cid)))
  for (const b of blocks) expect(equalBytes(all.get(b.cid.toString())!, b.bytes), `listed bytes of ${b.cid}`).toBe(true)
}

const liveSet = (blocks: readonly BlockRecord[]): ((cid: CID) => boolean) => {
  const keys = new Set(blocks.map((b) => b.cid.toString()))
  return (cid) => keys.has(cid.toString())
}

for (const kind of kinds) {
  describe(`compaction: ${kind.name}`, () => {
    test('removes exactly the dead blocks; live ones stay byte for byte, heads unchanged; a second compaction reclaims nothing; a reopen sees the same', async () => {
      await withFixture(kind, async (fx) => {
        let s = await fx.open()
        const { live, dead, heads } = await populate(s)
        await expectListed(s, [...live, ...dead])
        const asked = new Set<string>()
        const isLive = liveSet(live)
        const report: CompactReport = await compactOf(s)(
          (cid) => {
            asked.add(cid.toString())
            return isLive(cid)
          },
          { minDeadRatio: 0 },
        )
        // Only stored blocks are asked about, and every dead one.
        for (const key of asked)
          expect(
            [...live, ...dead].some((b) => b.cid.toString() === key),
            `asked about ${key}`,
          ).toBe(true)
        for (const b of dead) expect(asked.has(b.cid.toString())).toBe(true)
        expect(report.blocksRemoved).toBe(dead.length)
        const deadBytes = dead.reduce((sum, b) => sum + b.bytes.length, 0)
        if (kind.name === 'files') expect(report.bytesReclaimed).toBeGreaterThan(deadBytes)
        else expect(report.bytesReclaimed).toBe(deadBytes)
        await expectGone(s, dead)
        await expectLive(s, live)
        expect(sorted(await s.heads())).toEqual(sorted(heads))
        await expectListed(s, live)

        const again = await compactOf(s)(isLive, { minDeadRatio: 0 })
        expect(again).toMatchObject({ blocksRemoved: 0, bytesReclaimed: 0 })
        await expectListed(s, live)

        if (kind.persistent) {
          await s.close()
          s = await fx.open()
          expect(sorted(await s.heads())).toEqual(sorted(heads))
          await expectGone(s, dead)
          await expectLive(s, live)
          await expectListed(s, live)
          expect(await compactOf(s)(isLive, { minDeadRatio: 0 })).toMatchObject({ blocksRemoved: 0, bytesReclaimed: 0 })
        }
        await s.close()
      })
    })

    test('the store keeps working after a compaction: commits land (a dead block may come back), and survive a reopen', async () => {
      await withFixture(kind, async (fx) => {
        let s = await fx.open()
        const { live, dead } = await populate(s)
        await compactOf(s)(liveSet(live), { minDeadRatio: 0 })
        // A block removed as dead comes again in a commit: it must be stored again, not skipped as held.
        const back = dead[4]!
        const fresh = blocksOf(3, 'after')
        await s.commit({ blocks: [...fresh, back], heads: [fresh[0]!.cid] })
        await expectLive(s, [...live, ...fresh, back])
        await expectListed(s, [...live, ...fresh, back])
        if (kind.persistent) {
          await s.close()
          s = await fx.open()
          expect(sorted(await s.heads())).toEqual([fresh[0]!.cid.toString()])
          await expectLive(s, [...live, ...fresh, back])
          await expectListed(s, [...live, ...fresh, back])
        }
        await s.close()
      })
    })

    test('with every block live, nothing is removed and nothing changes', async () => {
      await withFixture(kind, async (fx) => {
        const s = await fx.open()
        const { live, dead, heads } = await populate(s)
        expect(await compactOf(s)(() => true)).toMatchObject({ blocksRemoved: 0, bytesReclaimed: 0 })
        expect(await compactOf(s)(() => true, { minDeadRatio: 0 })).toMatchObject({ blocksRemoved: 0, bytesReclaimed: 0 })
        await expectLive(s, [...live, ...dead])
        await expectListed(s, [...live, ...dead])
        expect(sorted(await s.heads())).toEqual(sorted(heads))
        await s.close()
      })
    })

    test('reads during a compaction find every live block', async () => {
      await withFixture(kind, async (fx) => {
        const s = await fx.open()
        const { live, dead } = await populate(s)
        let done = false
        const compaction = compactOf(s)(liveSet(live), { minDeadRatio: 0 }).finally(() => {
          done = true
        })
        let rounds = 0
        do {
          await expectLive(s, live)
          rounds++
        } while (!done)
        await compaction
        expect(rounds).toBeGreaterThan(0)
        await expectGone(s, dead)
        await s.close()
      })
    })

    test('bad arguments are refused before anything is removed; a closed engine refuses with CAIRN_CLOSED', async () => {
      await withFixture(kind, async (fx) => {
        const s = await fx.open()
        const { live, dead } = await populate(s)
        const compact = compactOf(s) as (live: unknown, options?: unknown) => Promise<CompactReport>
        await expect(compact(undefined)).rejects.toThrow(TypeError)
        await expect(compact(new Set())).rejects.toThrow(TypeError)
        await expect(compact(() => false, { minDeadRatio: 1.5 })).rejects.toThrow(RangeError)
        await expect(compact(() => false, { minDeadRatio: -0.1 })).rejects.toThrow(RangeError)
        await expect(compact(() => false, { minDeadRatio: Number.NaN })).rejects.toThrow(RangeError)
        await expect(compact(() => false, { minDeadRatio: '0' })).rejects.toThrow(TypeError)
        await expect(compact(() => false, 'all')).rejects.toThrow(TypeError)
        await expectLive(s, [...live, ...dead])
        await s.close()
        await expect(compact(() => false)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
      })
    })
  })
}

/**
 * A blockstore whose writes (put, delete) fail for good after `budget` of them: the process
 * died there. Reads go on, as a reopen's would.
 */
function dyingAfter(inner: MemoryBlockstore, budget: number): { blockstore: Blockstore; writes: () => number } {
  let writes = 0
  const write = (): void => {
    if (writes++ >= budget) throw new Error('the process died here')
  }
  const blockstore = {
    get: (cid: CID) => inner.get(cid),
    has: (cid: CID) => inner.has(cid),
    async put(cid: CID, bytes: Uint8Array) {
      write()
      return inner.put(cid, bytes)
    },
    async delete(cid: CID) {
      write()
      await inner.delete(cid)
    },
  } as unknown as Blockstore
  return { blockstore, writes: () => writes }
}

const mhKey = (cid: CID): string => base32.encode(cid.multihash.bytes)
/** What a MemoryBlockstore holds, by base32 multihash (a field its types call private). */
const contents = (bs: MemoryBlockstore): Map<string, Uint8Array[]> => (bs as unknown as { data: Map<string, Uint8Array[]> }).data

describe('compaction: blockstore adapter cut off after any number of writes', () => {
  test('every live block, the heads and blocks() survive; the next compaction removes every dead block, old list and the intent', async () => {
    const populateInto = async (inner: MemoryBlockstore): Promise<{ live: BlockRecord[]; dead: BlockRecord[]; heads: CID[] }> => {
      const s = await openBlockstoreStorage(inner)
      const made = await populate(s)
      await s.close()
      return made
    }
    // A compaction run through: how many writes it makes.
    const probe = new MemoryBlockstore()
    const { live, dead, heads } = await populateInto(probe)
    const counting = dyingAfter(probe, Number.POSITIVE_INFINITY)
    const full = await openBlockstoreStorage(counting.blockstore)
    await compactOf(full)(liveSet(live), { minDeadRatio: 0 })
    const total = counting.writes()
    expect(total).toBeGreaterThan(dead.length)
    for (let budget = 0; budget <= total; budget++) {
      const inner = new MemoryBlockstore()
      await populateInto(inner)
      const dying = await openBlockstoreStorage(dyingAfter(inner, budget).blockstore)
      const outcome = await compactOf(dying)(liveSet(live)).then(
        () => 'done',
        (err: Error) => err.message,
      )
      expect(outcome, `cut off after ${budget} writes`).toMatch(budget < total ? /the process died here/ : /done/)
      // Reopen the blockstore as the crash left it.
      let s = await openBlockstoreStorage(inner)
      expect(sorted(await s.heads())).toEqual(sorted(heads))
      await expectLive(s, live)
      const all = await listed(s)
      for (const b of live) expect(all.has(b.cid.toString())).toBe(true)
      for (const key of all.keys()) expect([...live, ...dead].some((b) => b.cid.toString() === key)).toBe(true)
      await compactOf(s)(liveSet(live))
      await expectGone(s, dead)
      await expectListed(s, live)
      await s.close()
      s = await openBlockstoreStorage(inner)
      await expectListed(s, live)
      expect(sorted(await s.heads())).toEqual(sorted(heads))
      await s.close()
      // Nothing else is left: the live blocks, the heads slots, and block lists (no old ones:
      // the chain lists each live block once, so they fit in one list).
      const reserved = new Set(BLOCKSTORE_HEADS_SLOTS.map(mhKey))
      const liveKeys = new Set(live.map((b) => mhKey(b.cid)))
      const extra = [...contents(inner).keys()].filter((key) => !reserved.has(key) && !liveKeys.has(key))
      expect(extra, `after ${budget} writes`).toHaveLength(1)
      expect(extra).not.toContain(mhKey(BLOCKSTORE_COMPACTION_KEY))
      const list = dagCbor.decode<{ cairn: string; cids: CID[] }>(contents(inner).get(extra[0]!)![0]!)
      expect(list.cairn).toBe('blocks')
      expect(sorted(list.cids)).toEqual(sorted(live.map((b) => b.cid)))
    }
  })
})
