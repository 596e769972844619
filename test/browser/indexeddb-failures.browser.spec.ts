// How the IndexedDB engine fails in real Chromium: a transaction the browser aborts becomes
// CAIRN_STORAGE, a write over the quota becomes CAIRN_QUOTA (real IndexedDB in a storage bucket
// with a small quota, so Chromium itself refuses the commit), and in both cases nothing of the
// write is visible, also after a reopen, and the engine keeps taking commits.
// Also: persist()/persisted() answer booleans, false where navigator.storage is missing.
import { afterEach, describe, expect, test } from 'vitest'
import { encodeRaw, encodeValue } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { deleteIndexedDbStorage, openIndexedDbStorage, openIndexedDbStorageWith, type IndexedDbStorage } from '../../src/storage/indexeddb.ts'

const names: string[] = []
let n = 0
function dbName(): string {
  const name = `cairn-idb-failures-${Date.now().toString(36)}-${n++}`
  names.push(name)
  return name
}

afterEach(async () => {
  for (const name of names.splice(0)) await deleteIndexedDbStorage(name)
})

const small = (count: number, tag: string): BlockRecord[] => Array.from({ length: count }, (_, i) => encodeValue({ tag, i }))

/** Incompressible bytes (browsers compress what they store), `count` raw blocks of `size` bytes each. */
async function randomBlocks(count: number, size: number): Promise<BlockRecord[]> {
  const out: BlockRecord[] = []
  for (let b = 0; b < count; b++) {
    const bytes = new Uint8Array(size)
    for (let o = 0; o < size; o += 65_536) crypto.getRandomValues(bytes.subarray(o, Math.min(size, o + 65_536)))
    out.push(await encodeRaw(bytes))
  }
  return out
}

async function listed(s: IndexedDbStorage): Promise<string[]> {
  const out: string[] = []
  for await (const b of s.blocks()) out.push(b.cid.toString())
  return out.sort()
}

const ids = (blocks: readonly BlockRecord[]): string[] => blocks.map((b) => b.cid.toString()).sort()

/** What a reopened connection sees: heads and every block. */
async function seenAfterReopen(name: string): Promise<{ heads: string[]; blocks: string[] }> {
  const s = await openIndexedDbStorage(name)
  try {
    return { heads: (await s.heads()).map(String), blocks: await listed(s) }
  } finally {
    await s.close()
  }
}

/** A storage bucket (Storage Buckets API, Chromium): its own IndexedDB under its own quota. */
interface StorageBucket {
  readonly name: string
  readonly indexedDB: IDBFactory
}
interface StorageBucketManager {
  open(name: string, options: { quota: number }): Promise<StorageBucket>
  delete(name: string): Promise<void>
}

const MiB = 1024 * 1024

/**
 * Runs `task` with `globalThis.indexedDB` being the IndexedDB of a new storage bucket whose
 * quota is `quota` bytes, so the engines opened inside it write to real IndexedDB that Chromium
 * refuses beyond that quota. (A fresh bucket also has fresh quota bookkeeping: Chromium lets a
 * bucket spend what it cached of its quota for up to 30 s, which would hide an origin quota
 * lowered after the origin's IndexedDB was used; the e2e spec lowers the origin's quota before
 * the app starts instead.)
 */
async function inBucketWithQuota<T>(quota: number, task: () => Promise<T>): Promise<T> {
  const buckets = (navigator as Navigator & { storageBuckets: StorageBucketManager }).storageBuckets
  const bucket = await buckets.open(`cairn-quota-${Date.now().toString(36)}-${n++}`, { quota })
  const own = Object.getOwnPropertyDescriptor(globalThis, 'indexedDB')
  Object.defineProperty(globalThis, 'indexedDB', { value: bucket.indexedDB, configurable: true, writable: true })
  try {
    return await task()
  } finally {
    if (own === undefined) Reflect.deleteProperty(globalThis, 'indexedDB')
    else Object.defineProperty(globalThis, 'indexedDB', own)
    await buckets.delete(bucket.name)
  }
}

/**
 * Another store in the bucket holding about `bytes` (blocks under 64 KiB, which Chromium keeps
 * inline): deleting it is how a spec "frees space". Needed because in a browser context without
 * a profile on disk (Vitest's), Chromium may go on counting the large values of a refused write
 * against the quota, so the room left after a refusal is not known; on a profile on disk it did
 * not in our runs (see e2e/quota.spec.ts, which appends under the same quota right away).
 */
async function ballast(bytes: number): Promise<() => Promise<void>> {
  const name = dbName()
  const s = await openIndexedDbStorage(name)
  const blocks = await randomBlocks(Math.ceil(bytes / 60_000), 60_000)
  await s.commit({ blocks, heads: [blocks[0]!.cid] })
  await s.close()
  return () => deleteIndexedDbStorage(name)
}

/**
 * The two quota specs fill a 4 MiB bucket to 2.75 MiB before the write that must be refused.
 * Once in a full suite run on a loaded machine (2026-12-03), Chromium refused that ballast
 * itself (2.8 MB into the fresh 4 MiB bucket; the cause was not found: the spec passed alone
 * three times and in the next full run). A retry runs the whole spec again in a fresh bucket;
 * a regression fails every attempt.
 */
const QUOTA_RETRY = { retry: 2 }

describe('indexeddb engine failures', () => {
  test('a transaction the browser aborts (a failing request) rejects with CAIRN_STORAGE naming the DOMException, and leaves nothing', async () => {
    const name = dbName()
    const good = small(4, 'good')
    const ok = await openIndexedDbStorage(name)
    await ok.commit({ blocks: good, heads: [good[3]!.cid] })
    await ok.close()

    // After the batch's puts, an add() of a key that exists fails with ConstraintError: the
    // browser itself aborts the transaction, with that error as the transaction's `error`.
    const s = await openIndexedDbStorageWith(name, {}, { beforeComplete: (tx) => tx.objectStore('blocks').add(good[0]!.bytes, good[0]!.cid.bytes) })
    const bad = small(30, 'bad')
    const err = await s.commit({ blocks: bad, heads: [bad[29]!.cid] }).catch((e: unknown) => e)
    expect(isCairnError(err, 'CAIRN_STORAGE')).toBe(true)
    expect((err as Error).message).toMatch(/^IndexedDB commit failed: ConstraintError: /)
    expect((err as Error).cause).toBeInstanceOf(DOMException)
    expect(((err as Error).cause as DOMException).name).toBe('ConstraintError')
    expect((await s.heads()).map(String)).toEqual([good[3]!.cid.toString()])
    for (const b of bad) expect(await s.has(b.cid)).toBe(false)
    await s.close()
    expect(await seenAfterReopen(name)).toEqual({ heads: [good[3]!.cid.toString()], blocks: ids(good) })
  })

  test('an explicit abort rejects with CAIRN_STORAGE (AbortError), leaves nothing, and the next commit lands', async () => {
    const name = dbName()
    let abort = true
    const s = await openIndexedDbStorageWith(name, {}, { beforeComplete: (tx) => abort && tx.abort() })
    const first = small(3, 'first')
    const err = await s.commit({ blocks: first, heads: [first[0]!.cid] }).catch((e: unknown) => e)
    expect(isCairnError(err, 'CAIRN_STORAGE')).toBe(true)
    expect((err as Error).message).toBe('IndexedDB commit failed: AbortError: the transaction was aborted')
    expect(((err as Error).cause as DOMException).name).toBe('AbortError')
    expect(await s.heads()).toEqual([])
    expect(await listed(s)).toEqual([])
    abort = false
    await s.commit({ blocks: first, heads: [first[0]!.cid] })
    await s.close()
    expect(await seenAfterReopen(name)).toEqual({ heads: [first[0]!.cid.toString()], blocks: ids(first) })
  })

  test('a commit over the quota rejects with CAIRN_QUOTA saying how much, leaves nothing, and the engine takes commits once there is room', QUOTA_RETRY, async () => {
    const base = small(5, 'base')
    const big = await randomBlocks(8, 256 * 1024) // 2 MiB, more than the room left
    const after = await randomBlocks(4, 16 * 1024)
    const name = dbName()
    const reopened = await inBucketWithQuota(4 * MiB, async () => {
      const freeSpace = await ballast(2.75 * MiB)
      const s = await openIndexedDbStorage(name)
      await s.commit({ blocks: base, heads: [base[4]!.cid] })

      const err = await s.commit({ blocks: [...base, ...big], heads: [big[7]!.cid] }).catch((e: unknown) => e)
      expect(isCairnError(err, 'CAIRN_QUOTA')).toBe(true)
      const bytes = [...base, ...big].reduce((sum, b) => sum + b.bytes.length, 0)
      expect((err as Error).message).toBe(
        `IndexedDB commit of 13 blocks, ${bytes} bytes (2.0 MiB) was refused: the origin is out of storage quota (QuotaExceededError), and nothing of it was written. Free space (delete data this origin no longer needs) or ask for persistent storage with store.persist(), which some browsers reward with a larger quota, then retry`,
      )
      expect((err as Error).cause).toBeInstanceOf(DOMException)
      expect(((err as Error).cause as DOMException).name).toBe('QuotaExceededError')

      // nothing of the batch is visible
      expect((await s.heads()).map(String)).toEqual([base[4]!.cid.toString()])
      for (const b of big) expect(await s.has(b.cid)).toBe(false)
      expect(await listed(s)).toEqual(ids(base))

      // the engine is not wedged: once space is freed, the next commit lands on the same connection
      await freeSpace()
      await s.commit({ blocks: after, heads: [after[0]!.cid] })
      expect((await s.heads()).map(String)).toEqual([after[0]!.cid.toString()])
      await s.close()
      return seenAfterReopen(name)
    })
    expect(reopened).toEqual({ heads: [after[0]!.cid.toString()], blocks: ids([...base, ...after]) })
  })

  test('a derived write over the quota rejects with CAIRN_QUOTA and keeps the previous value', QUOTA_RETRY, async () => {
    const [huge] = await randomBlocks(1, 2 * MiB)
    await inBucketWithQuota(4 * MiB, async () => {
      const freeSpace = await ballast(2.75 * MiB)
      const s = await openIndexedDbStorage(dbName())
      await s.writeDerived('index', new Uint8Array([1, 2, 3]))
      const err = await s.writeDerived('index', huge!.bytes).catch((e: unknown) => e)
      expect(isCairnError(err, 'CAIRN_QUOTA')).toBe(true)
      expect((err as Error).message).toMatch(/^IndexedDB write of derived value "index" of 2097152 bytes \(2\.0 MiB\) was refused: .* store\.persist\(\)/)
      expect(((err as Error).cause as DOMException).name).toBe('QuotaExceededError')
      expect(await s.readDerived('index')).toEqual(new Uint8Array([1, 2, 3]))
      await freeSpace()
      await s.writeDerived('index', new Uint8Array([4, 5]))
      expect(await s.readDerived('index')).toEqual(new Uint8Array([4, 5]))
      await s.close()
    })
  })

  test('a QuotaExceededError thrown inside the commit (as a put may throw it) also gives CAIRN_QUOTA and nothing written', async () => {
    const name = dbName()
    const s = await openIndexedDbStorageWith(
      name,
      {},
      {
        beforeComplete: () => {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError')
        },
      },
    )
    const blocks = small(3, 'thrown')
    const err = await s.commit({ blocks, heads: [blocks[0]!.cid] }).catch((e: unknown) => e)
    expect(isCairnError(err, 'CAIRN_QUOTA')).toBe(true)
    expect((err as Error).message).toContain('commit of 3 blocks')
    expect(await s.heads()).toEqual([])
    expect(await listed(s)).toEqual([])
    await s.close()
  })

  test('persist() and persisted() answer booleans from navigator.storage, and false where it is missing', async () => {
    const s = await openIndexedDbStorage(dbName())
    const persisted = await s.persisted()
    expect(typeof persisted).toBe('boolean')
    expect(persisted).toBe(await navigator.storage.persisted())
    const persist = await s.persist()
    expect(typeof persist).toBe('boolean')
    expect(await s.persisted()).toBe(persist)

    // A runtime without the StorageManager (an insecure context, an old browser): false, no throw.
    Object.defineProperty(navigator, 'storage', { value: undefined, configurable: true })
    try {
      expect(await s.persist()).toBe(false)
      expect(await s.persisted()).toBe(false)
    } finally {
      Reflect.deleteProperty(navigator, 'storage')
    }
    expect(navigator.storage).toBeDefined()
    await s.close()
  })
})
