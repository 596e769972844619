import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'

/**
 * One atomic write: blocks and the new heads, durable together or not at all.
 *
 * @example
 * const block = encodeValue({ hello: 'world' })
 * await storage.commit({ blocks: [block], heads: [block.cid] })
 */
export interface CommitBatch {
  /** Blocks to add. Blocks already stored may be repeated; engines skip or overwrite them. */
  readonly blocks: readonly BlockRecord[]
  /** The log's heads after this commit, sorted by CID bytes. */
  readonly heads: readonly CID[]
}

/**
 * Where blocks and the heads record live. Every engine honours the same contract:
 * after `commit` resolves, a reopen (even after a crash) sees all of the batch;
 * if it did not resolve, a reopen sees none of its heads and at worst some of its
 * blocks, unreferenced. Engines store bytes as given; the layers above verify.
 *
 * @example
 * // Any engine honouring this contract can carry a store:
 * const store = await openStore({ storage: new MemoryStorage() })
 */
export interface StorageEngine {
  /** Short engine name for diagnostics: 'memory', 'files', 'indexeddb', 'blockstore'. */
  readonly kind: string
  /**
   * True when `blocks()` costs a lookup per block rather than one sequential read (the
   * blockstore adapter): opening a store then walks the log event by event instead of
   * scanning every block.
   */
  readonly scanPerBlock?: boolean
  /**
   * A block's bytes, or undefined when the engine does not hold it.
   *
   * @example
   * const bytes = await storage.get(cid)   // undefined when the engine does not hold it
   */
  get(cid: CID): Promise<Uint8Array | undefined>
  /**
   * Several blocks at once, in the order asked (engines where one request per block is costly, like IndexedDB).
   *
   * @example
   * const [a, b] = await storage.getMany!([cidA, cidB])
   */
  getMany?(cids: readonly CID[]): Promise<(Uint8Array | undefined)[]>
  /**
   * Whether the engine holds the block.
   *
   * @example
   * if (!(await storage.has(cid))) missing.push(cid)
   */
  has(cid: CID): Promise<boolean>
  /**
   * Every stored block, in no particular order.
   *
   * @example
   * for await (const { cid, bytes } of storage.blocks()) await verify(cid, bytes)
   */
  blocks(): AsyncIterable<BlockRecord>
  /**
   * The heads written by the last successful commit; [] for a new store.
   *
   * @example
   * const heads = await storage.heads()   // [] for a new store
   */
  heads(): Promise<CID[]>
  /**
   * Stores the batch's blocks and heads together: all of it or, on a failure, none.
   *
   * @example
   * await storage.commit({ blocks: [block], heads: [block.cid] })
   */
  commit(batch: CommitBatch): Promise<void>
  /**
   * Releases the engine's resources; the engine is unusable afterwards.
   *
   * @example
   * await storage.close()
   */
  close(): Promise<void>
  /**
   * Derived data kept beside the blocks (index snapshots, projection snapshots), by name.
   * Rebuildable from the blocks, so outside the commit contract: a crash may leave an older
   * value, never a mix of two (each write replaces the whole value atomically). The layer
   * above checksums what it stores and says which heads it covers. Engines without it make
   * the store rebuild its indexes on every open.
   *
   * @example
   * const snapshot = await storage.readDerived?.('my-index')   // undefined when never written
   */
  readDerived?(name: string): Promise<Uint8Array | undefined>
  /**
   * Present when other writers may commit to the same storage at the same time (tabs of one
   * origin on one IndexedDB database): runs `task` holding the storage's exclusive write lock
   * across all of them. The log re-reads `heads()` inside it, catches up with what the others
   * committed, and only then plans and commits, so no writer overwrites another's heads.
   */
  exclusive?<T>(task: () => Promise<T>): Promise<T>
  /**
   * Present with `exclusive`: calls `listener` after another writer committed (e.g. through a
   * BroadcastChannel), so the log can catch up and its subscribers see those events live.
   * Returns the function that stops listening.
   */
  onExternalCommit?(listener: () => void): () => void
  /**
   * Replaces the derived value `name` (see `readDerived`). Names are `[a-z0-9._-]{1,64}`.
   *
   * @example
   * await storage.writeDerived?.('my-index', bytes)
   */
  writeDerived?(name: string, bytes: Uint8Array): Promise<void>
  /**
   * Asks the runtime to keep this storage persistent: exempt from eviction under storage
   * pressure, and in some browsers allowed a larger quota (IndexedDB:
   * `navigator.storage.persist()`, which may prompt the user or decide from site engagement).
   * Resolves to whether the storage is persistent now; false where the runtime cannot say.
   */
  persist?(): Promise<boolean>
  /** Whether this storage is persistent already (`navigator.storage.persisted()`), without asking; false where the runtime cannot say. */
  persisted?(): Promise<boolean>
  /**
   * Reclaims the space of blocks no head reaches (left by a refused or interrupted import, an
   * interrupted `putFile`, ...): removes stored blocks for which `live` answers false, and only
   * those. The caller guarantees that no commit runs until the returned promise settles (it
   * holds the log's write lock) and that `live` answers true for every block any head reaches
   * (and every block it still means to reference); `live` must be synchronous, cheap and give
   * the same answer every time for one compaction. The heads never change.
   *
   * Crash safety: a crash (SIGKILL, power loss) at any point during compaction leaves every
   * block `live` accepts readable after a reopen, and the heads unchanged; at worst some dead
   * blocks are still there (a later compaction reclaims them). A failed compaction rejects
   * (CAIRN_STORAGE, CAIRN_CLOSED) with the same guarantee.
   *
   * Reads may run during a compaction and see a dead block or not; `blocks()` may or may not
   * list the dead blocks, never a live one twice or not at all. A second compaction with the
   * same `live` reclaims nothing. Throws TypeError/RangeError for bad arguments, before
   * anything is touched. Optional: engines without it keep every block.
   *
   * @example
   * const { blocksRemoved } = await storage.compact!((cid) => reachable.has(cid.toString()), { minDeadRatio: 0 })
   */
  compact?(live: (cid: CID) => boolean, options?: CompactOptions): Promise<CompactReport>
}

/**
 * Options of {@link StorageEngine.compact}.
 *
 * @example
 * await store.compact({ minDeadRatio: 0 })   // files engine: rewrite every segment holding a dead block
 */
export interface CompactOptions {
  /**
   * For engines that rewrite storage in units holding many blocks (the files engine's
   * segments): a unit is rewritten only when at least this share of its bytes (0 … 1) is dead;
   * 0 rewrites every unit holding any dead block, so that every dead block goes. Engines that
   * delete blocks one by one (memory, IndexedDB, blockstore) remove every dead block whatever
   * it says. Default 0.5.
   */
  readonly minDeadRatio?: number
}

/**
 * What {@link StorageEngine.compact} did.
 *
 * @example
 * const { blocksRemoved, bytesReclaimed, segmentsRewritten } = await store.compact()
 */
export interface CompactReport {
  /** Blocks removed: distinct CIDs no longer stored. */
  readonly blocksRemoved: number
  /**
   * Bytes the engine freed, as it counts them: the removed blocks' bytes (memory, IndexedDB,
   * blockstore), or the decrease of the segment files' total size (files engine, which also
   * drops framing and commit records of rewritten segments).
   */
  readonly bytesReclaimed: number
  /** Files engine: segments rewritten. Absent for engines that delete blocks one by one. */
  readonly segmentsRewritten?: number
}

/** Default of {@link CompactOptions.minDeadRatio}: rewrite a segment once half of it is dead. */
export const DEFAULT_MIN_DEAD_RATIO = 0.5

/**
 * Checks the arguments of `compact` (TypeError/RangeError naming the argument) and returns the
 * dead ratio to use.
 */
export function checkCompactArguments(live: unknown, options: unknown): number {
  if (typeof live !== 'function') throw new TypeError(`"live" expected a function, got ${live === null ? 'null' : typeof live}`)
  if (options === undefined) return DEFAULT_MIN_DEAD_RATIO
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('"options" expected an object')
  const ratio = (options as CompactOptions).minDeadRatio ?? DEFAULT_MIN_DEAD_RATIO
  if (typeof ratio !== 'number') throw new TypeError(`"minDeadRatio" expected a number, got ${typeof ratio}`)
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`"minDeadRatio" expected a number from 0 to 1, got ${ratio}`)
  return ratio
}

/**
 * Names accepted by `readDerived`/`writeDerived`: safe as file names and object-store keys.
 *
 * @example
 * DERIVED_NAME.test('my-index.v2')   // true: a name readDerived and writeDerived take
 */
export const DERIVED_NAME: RegExp = /^[a-z0-9._-]{1,64}$/
