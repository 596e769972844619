// The interface-blockstore adapter's engine, loaded by openBlockstoreStorage (blockstore.ts) on
// first use. Past 500 lines because its commit protocol, its heads slots, its
// block-list chain and its compaction intent are one on-storage format (docs/storage-formats.md §3)
// that must be read together to be kept crash-safe.
import { Mutex } from './mutex.ts'
import * as dagCbor from '@ipld/dag-cbor'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { concatBytes, equalBytes } from '../block/codec.ts'
import { sha256Sync } from '../block/hash.ts'
import { DAG_CBOR, type BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { checkCompactArguments, DERIVED_NAME, type CommitBatch, type CompactOptions, type CompactReport, type StorageEngine } from './interface.ts'
import { expectDerivedBytes } from './derived.ts'
import { BLOCKSTORE_COMPACTION_KEY, BLOCKSTORE_HEADS_SLOTS, blockstoreDerivedKey, type BlockstoreHeadsRecord, type BlockstoreStorageOptions } from './blockstore.ts'

/*
 * Layout inside the blockstore
 * ----------------------------
 * - The batch's blocks, under their own CIDs.
 * - Block lists: dag-cbor blocks `{ cairn: 'blocks', prev: CID | null, cids: [CID] }`, one chain
 *   per store, newest first. Every interface-blockstore keys blocks by multihash only and
 *   `getAll()` gives the codec back wrong (raw in blockstore-core memory and blockstore-idb,
 *   CIDv0 dag-pb in blockstore-fs), so `blocks()` walks these lists, which keep the full CIDs,
 *   instead of `getAll()`. They also keep `blocks()` to what Cairn committed in a blockstore
 *   that other code (Helia) shares.
 * - The heads record, in two slots A and B under reserved keys: CIDv1 raw with the sha2-256
 *   multihash of the ASCII strings 'cairn:heads:a' / 'cairn:heads:b' (their bytes are NOT the
 *   preimage, so a store that re-hashes on put would refuse them). Not identity multihashes:
 *   Helia wraps its blockstore in blockstore-core's IdentityBlockstore, whose put drops
 *   identity CIDs and whose get answers with the digest itself, and blockstore-fs's getAll()
 *   throws ("Incorrect length") on the file name of an identity multihash, which would break
 *   enumeration of the whole store for anyone iterating it.
 *   Record: dag-cbor `{ seq, heads, log, check }`, `check` = sha2-256 of dag-cbor
 *   `{ seq, heads, log }`. Commit n (1, 2, ...) goes to slot A when n is odd, B when even.
 *
 * A commit writes the blocks, then its block lists, then the heads record, last. A crash
 * before the record leaves only unreferenced blocks; a crash during the record write (a torn
 * slot: it fails to decode or its check does not match) falls back to the other slot, the
 * previous commit.
 * - Derived values (readDerived/writeDerived), each as ONE block, whatever its size, under a
 *   reserved key made like the heads slots': CIDv1 raw with the sha2-256 multihash of
 *   'cairn:derived:<name>'. A value of 80 MB is an 80 MB block, which blockstore-fs and
 *   blockstore-idb store fine but a blockstore that caps block sizes (or a network-backed
 *   one) may refuse: that failure is a CAIRN_STORAGE error and the index is rebuilt instead.
 *   A put replaces the value whole (blockstore-fs writes a temporary file and renames it), so
 *   a crash leaves the old value or the new one. They are not in the block lists, so
 *   `blocks()` and exports never see them.
 * - Compaction (compact()) rewrites the chain of block lists with the live blocks only, under a
 *   heads record with the same heads (the next seq), then deletes the dead blocks and the old
 *   lists. Before the record it puts an intent under a reserved key made like the others
 *   ('cairn:compaction'): dag-cbor `{ cairn: 'compaction', old: CID | null, new: CID | null }`,
 *   the newest lists of the chain being replaced and of the new one. A compaction that finds an
 *   intent (one a crash interrupted) first finishes it: it walks the old chain as far as it
 *   still exists and deletes what it lists that the current chain does not (blocks the caller
 *   also calls dead; lists), and the new chain's lists if the current chain is not it, then
 *   removes the intent. Nothing listed by the current chain is ever deleted, and nothing whose
 *   multihash a listed block shares (the blockstore keys by multihash).
 */

const HEADS_SLOTS = BLOCKSTORE_HEADS_SLOTS
const RESERVED: readonly CID[] = [...HEADS_SLOTS, BLOCKSTORE_COMPACTION_KEY]
const DERIVED_PREFIX = 'cairn:derived:'
/** CIDs per block-list block: about 40 bytes each, so lists stay well under 256 KiB. */
const LIST_CHUNK = 4096

interface BlockList {
  cairn: 'blocks'
  prev: CID | null
  cids: CID[]
}

/** What a compaction puts under BLOCKSTORE_COMPACTION_KEY before its heads record: the newest lists of the chain it replaces and of the one it writes. */
interface CompactionIntent {
  cairn: 'compaction'
  old: CID | null
  new: CID | null
}

/** Every CID a chain of block lists holds (each once, in `blocks()` order) and the lists themselves, newest first. */
interface Chain {
  readonly cids: CID[]
  readonly lists: CID[]
}

/** A key per multihash: what the blockstore keys blocks by. */
const multihashKey = (cid: CID): string => String.fromCharCode(...cid.multihash.bytes)

function slotFor(seq: number): 0 | 1 {
  return seq % 2 === 1 ? 0 : 1
}

function isReserved(cid: CID): boolean {
  return RESERVED.some((slot) => equalBytes(slot.multihash.bytes, cid.multihash.bytes))
}

/**
 * True when a block's bytes are the label of a derived key, so that (hashing honestly) its
 * CID is that key and committing it would overwrite a derived value. Unlike the two heads
 * slots there is a key per possible name, so the check looks at the bytes, not the CID.
 */
function isDerivedLabel(bytes: Uint8Array): boolean {
  if (bytes.length <= DERIVED_PREFIX.length || bytes.length > DERIVED_PREFIX.length + 64) return false
  for (let i = 0; i < DERIVED_PREFIX.length; i++) if (bytes[i] !== DERIVED_PREFIX.charCodeAt(i)) return false
  return DERIVED_NAME.test(String.fromCharCode(...bytes.subarray(DERIVED_PREFIX.length)))
}

function storageError(what: string, cause: unknown): CairnError {
  if (cause instanceof CairnError) return cause
  return new CairnError('CAIRN_STORAGE', `blockstore ${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown } | null
  return e != null && (e.name === 'NotFoundError' || e.code === 'ERR_NOT_FOUND')
}

/** One block's chunks as a plain Uint8Array (blockstore-fs yields Node Buffers; hand out what every other engine does). */
function concat(chunks: Uint8Array[]): Uint8Array {
  const bytes = concatBytes(chunks)
  return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Reads a whole block; undefined when the blockstore does not have it. */
async function readBlock(blockstore: Blockstore, cid: CID): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = []
  try {
    for await (const chunk of blockstore.get(cid)) chunks.push(chunk)
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw err
  }
  return concat(chunks)
}

function encodeRecord(record: BlockstoreHeadsRecord): Uint8Array {
  const body = { seq: record.seq, heads: record.heads, log: record.log }
  return dagCbor.encode({ ...body, check: sha256Sync(dagCbor.encode(body)).digest })
}

/** The record in a slot's bytes, or undefined when they are torn or not a record of that slot. */
function decodeRecord(bytes: Uint8Array, slot: 0 | 1): BlockstoreHeadsRecord | undefined {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch {
    return undefined
  }
  if (value === null || typeof value !== 'object') return undefined
  const { seq, heads, log, check } = value as Record<string, unknown>
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || slotFor(seq) !== slot) return undefined
  if (!Array.isArray(heads) || !heads.every((h) => CID.asCID(h) !== null)) return undefined
  if (log !== null && CID.asCID(log) === null) return undefined
  if (!(check instanceof Uint8Array)) return undefined
  const record: BlockstoreHeadsRecord = { seq, heads: heads as CID[], log: log as CID | null }
  const expected = sha256Sync(dagCbor.encode({ seq, heads, log })).digest
  return equalBytes(expected, check) ? record : undefined
}

/**
 * TypeError/RangeError naming the option, before anything is read: a `concurrency` that is not
 * a count would make a commit write no block but its heads. (Written here rather than with
 * errors/arguments.ts, which the first-load chunk holds: importing it from this lazily loaded
 * module makes the bundler split that chunk.)
 */
function checkOptions(options: unknown): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('"options" expected an object')
  const { concurrency, onClose, ...rest } = options as Record<string, unknown>
  const unknown = Object.keys(rest).find((key) => rest[key] !== undefined)
  if (unknown !== undefined) throw new TypeError(`"options.${unknown}" is an unknown key; the known keys are onClose, concurrency`)
  if (concurrency !== undefined && (typeof concurrency !== 'number' || !Number.isSafeInteger(concurrency)))
    throw new TypeError(`"options.concurrency" expected a positive integer, got ${typeof concurrency === 'number' ? concurrency : typeof concurrency}`)
  if (concurrency !== undefined && concurrency < 1) throw new RangeError(`"options.concurrency" expected a positive integer, got ${concurrency}`)
  if (onClose !== undefined && typeof onClose !== 'function') throw new TypeError(`"options.onClose" expected a function, got ${onClose === null ? 'null' : typeof onClose}`)
}

/** openBlockstoreStorage's work once the blockstore is checked (see blockstore.ts): the options, then the heads record. */
export async function openBlockstoreEngine(blockstore: Blockstore, options: BlockstoreStorageOptions = {}): Promise<BlockstoreStorage> {
  checkOptions(options)
  const slots: (Uint8Array | undefined)[] = []
  try {
    for (const slot of HEADS_SLOTS) slots.push(await readBlock(blockstore, slot))
  } catch (cause) {
    throw storageError('read of the heads record', cause)
  }
  const valid = slots.map((bytes, i) => (bytes === undefined ? undefined : decodeRecord(bytes, i as 0 | 1))).filter((r): r is BlockstoreHeadsRecord => r !== undefined)
  let record: BlockstoreHeadsRecord = { seq: 0, heads: [], log: null }
  if (valid.length > 0) {
    record = valid.reduce((a, b) => (b.seq > a.seq ? b : a))
  } else if (slots[1] !== undefined) {
    // Slot B is written from the second commit on, so without a valid slot this is damage,
    // not a torn write. (Slot A alone and torn is a crash during the very first commit.)
    throw new CairnError('CAIRN_CORRUPT', 'the blockstore holds a Cairn heads record, but neither of its two slots is valid')
  }
  return new BlockstoreStorage(blockstore, record, options)
}

/**
 * Cairn storage over an interface-blockstore: blocks are written first, the heads record
 * last, alternating between two slots, so a crash leaves at worst unreferenced blocks and a
 * reopen sees the last complete commit.
 *
 * @example
 * const storage = await openBlockstoreStorage(blockstore)   // an interface-blockstore, already open
 * const store = await openStore({ storage })
 */
export class BlockstoreStorage implements StorageEngine {
  readonly kind: string = 'blockstore'
  /** `blocks()` is a get per listed block (interface-blockstore has no sequential scan). */
  readonly scanPerBlock: boolean = true
  readonly #blockstore: Blockstore
  readonly #onClose: (() => Promise<void> | void) | undefined
  readonly #concurrency: number
  #record: BlockstoreHeadsRecord
  #closed = false
  /** Commits and compactions, one at a time in call order. */
  readonly #writes = new Mutex()
  /** Derived writes, one at a time in call order (so the last call wins), beside commits. */
  /** Derived writes, one at a time, beside commits. */
  readonly #derivedWrites = new Mutex()

  /** Use {@link openBlockstoreStorage}. */
  constructor(blockstore: Blockstore, record: BlockstoreHeadsRecord, options: BlockstoreStorageOptions = {}) {
    this.#blockstore = blockstore
    this.#record = record
    this.#onClose = options.onClose
    this.#concurrency = options.concurrency ?? 16
  }

  async get(cid: CID): Promise<Uint8Array | undefined> {
    this.#open()
    if (isReserved(cid)) return undefined
    try {
      return await readBlock(this.#blockstore, cid)
    } catch (cause) {
      throw storageError(`get of ${cid}`, cause)
    }
  }

  async has(cid: CID): Promise<boolean> {
    this.#open()
    if (isReserved(cid)) return false
    try {
      return await this.#blockstore.has(cid)
    } catch (cause) {
      throw storageError(`has of ${cid}`, cause)
    }
  }

  /**
   * Every block committed through Cairn, newest commit first, each once. Blocks put into the
   * blockstore by other code, or by a commit that did not finish, are not listed.
   */
  async *blocks(): AsyncIterable<BlockRecord> {
    this.#open()
    const seen = new Set<string>()
    let record = this.#record
    let next = record.log
    while (next !== null) {
      this.#open()
      const list = await this.#readList(next)
      if (list === undefined) {
        if (record === this.#record) throw new CairnError('CAIRN_CORRUPT', `block list ${next} of the heads record is missing`, { cid: next })
        // A compaction replaced the chain meanwhile: walk the new one (`seen` skips what was listed).
        record = this.#record
        next = record.log
        continue
      }
      for (const cid of list.cids) {
        const key = cid.toString()
        if (seen.has(key)) continue
        seen.add(key)
        this.#open()
        const bytes = await this.get(cid)
        if (bytes === undefined) {
          if (record !== this.#record) continue // removed by a compaction meanwhile: a dead block
          throw new CairnError('CAIRN_CORRUPT', `block ${cid} was committed but the blockstore no longer has it`, { cid })
        }
        yield { cid, bytes }
      }
      next = list.prev
    }
  }

  async heads(): Promise<CID[]> {
    this.#open()
    return [...this.#record.heads]
  }

  /** Writes the blocks, then a list of them, then the heads record. Commits run one at a time. */
  commit(batch: CommitBatch): Promise<void> {
    try {
      this.#open()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#writes.run(() => this.#commit(batch))
  }

  /**
   * Deletes every listed block `live` rejects (see StorageEngine.compact and the layout above;
   * `minDeadRatio` does not apply): rewrites the block lists with the live blocks, puts the
   * intent, then a heads record with the same heads, then deletes the dead blocks, the old
   * lists and the intent. A crash before the record leaves the old lists, all blocks and the
   * old record; after it, the new lists list every live block, and what is left to delete is
   * deleted by the next compaction. Runs in the commit queue.
   *
   * Only blocks committed through Cairn are candidates (those the lists name): blocks a crashed
   * commit put before its heads record are unknown to the adapter and stay. A blockstore shared
   * with other code loses the dead blocks even if that code put the same blocks too.
   */
  compact(live: (cid: CID) => boolean, options?: CompactOptions): Promise<CompactReport> {
    try {
      checkCompactArguments(live, options)
      this.#open()
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#writes.run(() => this.#compact(live))
  }

  /** The derived value `name` (see StorageEngine.readDerived), copied out of the blockstore. */
  async readDerived(name: string): Promise<Uint8Array | undefined> {
    this.#open()
    const key = blockstoreDerivedKey(name)
    let bytes: Uint8Array | undefined
    try {
      bytes = await readBlock(this.#blockstore, key)
    } catch (cause) {
      throw storageError(`read of derived value "${name}"`, cause)
    }
    // A memory blockstore hands out the array it keeps: never let callers write into it.
    return bytes === undefined ? undefined : new Uint8Array(bytes)
  }

  /** Replaces the derived value `name` with one put of one block (see the layout above). */
  writeDerived(name: string, bytes: Uint8Array): Promise<void> {
    let key: CID
    let copy: Uint8Array
    try {
      this.#open()
      key = blockstoreDerivedKey(name)
      copy = new Uint8Array(expectDerivedBytes(bytes)) // copied now: later changes by the caller change nothing
    } catch (err) {
      return Promise.reject(err)
    }
    const run = async (): Promise<void> => {
      try {
        await this.#blockstore.put(key, copy)
      } catch (cause) {
        throw storageError(`write of derived value "${name}"`, cause)
      }
    }
    return this.#derivedWrites.run(run)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#writes.idle()
    await this.#derivedWrites.idle()
    await this.#onClose?.()
  }

  async #commit(batch: CommitBatch): Promise<void> {
    let log = this.#record.log
    const blocks: BlockRecord[] = [...batch.blocks]
    for (let i = 0; i < batch.blocks.length; i += LIST_CHUNK) {
      const value: BlockList = { cairn: 'blocks', prev: log, cids: batch.blocks.slice(i, i + LIST_CHUNK).map((b) => b.cid) }
      const bytes = dagCbor.encode(value)
      log = CID.createV1(DAG_CBOR, sha256Sync(bytes))
      blocks.push({ cid: log, bytes })
    }
    for (const block of blocks) {
      if (isReserved(block.cid)) throw new CairnError('CAIRN_INVALID_BLOCK', `block ${block.cid} uses a key Cairn reserves for its heads record`, { cid: block.cid })
      if (isDerivedLabel(block.bytes)) throw new CairnError('CAIRN_INVALID_BLOCK', `block ${block.cid} would take a key Cairn reserves for derived values`, { cid: block.cid })
    }
    await this.#putAll(blocks)
    const record: BlockstoreHeadsRecord = { seq: this.#record.seq + 1, heads: [...batch.heads], log }
    try {
      await this.#blockstore.put(HEADS_SLOTS[slotFor(record.seq)], encodeRecord(record))
    } catch (cause) {
      throw storageError('write of the heads record', cause)
    }
    this.#record = record
  }

  async #compact(live: (cid: CID) => boolean): Promise<CompactReport> {
    const report = { blocksRemoved: 0, bytesReclaimed: 0 }
    const chain = await this.#walk(this.#record.log, false)
    const intent = await this.#readIntent()
    if (intent !== undefined) await this.#finishIntent(intent, chain, live, report)
    const liveCids: CID[] = []
    const dead: CID[] = []
    for (const cid of chain.cids) (live(cid) ? liveCids : dead).push(cid)
    if (dead.length === 0) return report
    // The new chain lists the live blocks in the order blocks() listed them: its newest list
    // holds the first LIST_CHUNK, its oldest (prev null) the last ones.
    const lists: BlockRecord[] = []
    let log: CID | null = null
    for (let end = liveCids.length; end > 0; ) {
      const start = end - (end % LIST_CHUNK || LIST_CHUNK)
      const value: BlockList = { cairn: 'blocks', prev: log, cids: liveCids.slice(start, end) }
      const bytes = dagCbor.encode(value)
      log = CID.createV1(DAG_CBOR, sha256Sync(bytes))
      lists.push({ cid: log, bytes })
      end = start
    }
    await this.#putAll(lists)
    const intentValue: CompactionIntent = { cairn: 'compaction', old: this.#record.log, new: log }
    try {
      await this.#blockstore.put(BLOCKSTORE_COMPACTION_KEY, dagCbor.encode(intentValue))
    } catch (cause) {
      throw storageError('write of the compaction intent', cause)
    }
    const record: BlockstoreHeadsRecord = { seq: this.#record.seq + 1, heads: [...this.#record.heads], log }
    try {
      await this.#blockstore.put(HEADS_SLOTS[slotFor(record.seq)], encodeRecord(record))
    } catch (cause) {
      throw storageError('write of the heads record', cause)
    }
    this.#record = record
    // From here on the new lists are the store's: delete what they do not keep.
    const kept = new Set<string>([...liveCids, ...lists.map((l) => l.cid)].map(multihashKey))
    await this.#deleteDead(dead, kept, report)
    await this.#deleteLists(chain.lists, kept)
    await this.#delete(BLOCKSTORE_COMPACTION_KEY)
    return report
  }

  /**
   * Finishes the compaction that left `intent`: deletes what its old chain (as far as it still
   * exists) lists and the current chain does not, if `live` rejects it, then the lists of both
   * its chains that the current one does not use, and the intent. Safe however far that
   * compaction got: were its heads record never written, the old chain is the current one and
   * only the new lists it put go.
   */
  async #finishIntent(intent: CompactionIntent, current: Chain, live: (cid: CID) => boolean, report: { blocksRemoved: number; bytesReclaimed: number }): Promise<void> {
    const old = await this.#walk(intent.old, true)
    const kept = new Set<string>([...current.cids, ...current.lists].map(multihashKey))
    await this.#deleteDead(
      old.cids.filter((cid) => !live(cid)),
      kept,
      report,
    )
    await this.#deleteLists(old.lists, kept)
    await this.#deleteLists((await this.#walk(intent.new, true)).lists, kept)
    await this.#delete(BLOCKSTORE_COMPACTION_KEY)
  }

  /** Deletes the blocks `dead` whose multihash is not in `kept`, `concurrency` at a time, counting those that were there. */
  async #deleteDead(dead: readonly CID[], kept: ReadonlySet<string>, report: { blocksRemoved: number; bytesReclaimed: number }): Promise<void> {
    const doomed = new Map<string, CID>()
    for (const cid of dead) {
      const key = multihashKey(cid)
      if (!kept.has(key) && !isReserved(cid)) doomed.set(key, cid)
    }
    const all = [...doomed.values()]
    for (let i = 0; i < all.length; i += this.#concurrency) {
      await Promise.all(
        all.slice(i, i + this.#concurrency).map(async (cid) => {
          let bytes: Uint8Array | undefined
          try {
            bytes = await readBlock(this.#blockstore, cid)
          } catch (cause) {
            throw storageError(`get of ${cid}`, cause)
          }
          if (bytes === undefined) return
          await this.#delete(cid)
          report.blocksRemoved++
          report.bytesReclaimed += bytes.length
        }),
      )
    }
  }

  /** Deletes the lists `lists` (newest first) not in `kept`, oldest first: a chain cut short by a crash still starts where it did. */
  async #deleteLists(lists: readonly CID[], kept: ReadonlySet<string>): Promise<void> {
    for (let i = lists.length - 1; i >= 0; i--) if (!kept.has(multihashKey(lists[i]!))) await this.#delete(lists[i]!)
  }

  async #delete(cid: CID): Promise<void> {
    try {
      await this.#blockstore.delete(cid)
    } catch (cause) {
      if (!isNotFound(cause)) throw storageError(`delete of ${cid}`, cause)
    }
  }

  /** The intent a compaction left (see the layout above); undefined when there is none. One that does not decode is finished as having nothing to delete. */
  async #readIntent(): Promise<CompactionIntent | undefined> {
    let bytes: Uint8Array | undefined
    try {
      bytes = await readBlock(this.#blockstore, BLOCKSTORE_COMPACTION_KEY)
    } catch (cause) {
      throw storageError('read of the compaction intent', cause)
    }
    if (bytes === undefined) return undefined
    try {
      const value = dagCbor.decode<CompactionIntent>(bytes)
      const isLog = (v: unknown): v is CID | null => v === null || CID.asCID(v) !== null
      if (value !== null && typeof value === 'object' && value.cairn === 'compaction' && isLog(value.old) && isLog(value.new)) return value
    } catch {
      // torn: nothing to finish but the intent itself
    }
    return { cairn: 'compaction', old: null, new: null }
  }

  /**
   * The chain of lists from `log`: every CID it lists (once each, in blocks() order) and its
   * lists. A missing list is CAIRN_CORRUPT, unless `partial` (the old chain of a compaction a
   * crash interrupted, whose oldest lists may be deleted already): then the walk stops there.
   */
  async #walk(log: CID | null, partial: boolean): Promise<Chain> {
    const seen = new Set<string>()
    const chain: Chain = { cids: [], lists: [] }
    for (let next = log; next !== null; ) {
      this.#open()
      const list = await this.#readList(next)
      if (list === undefined) {
        if (partial) break
        throw new CairnError('CAIRN_CORRUPT', `block list ${next} of the heads record is missing`, { cid: next })
      }
      chain.lists.push(next)
      for (const cid of list.cids) {
        const key = cid.toString()
        if (seen.has(key)) continue
        seen.add(key)
        chain.cids.push(cid)
      }
      next = list.prev
    }
    return chain
  }

  /** Puts the blocks the blockstore lacks, `concurrency` at a time, each as bytes of its own (a blockstore may keep or clone a view's whole buffer); fails after all settled. */
  async #putAll(blocks: readonly BlockRecord[]): Promise<void> {
    const bs = this.#blockstore
    for (let i = 0; i < blocks.length; i += this.#concurrency) {
      const results = await Promise.allSettled(
        blocks.slice(i, i + this.#concurrency).map(async (block) => {
          if (!(await bs.has(block.cid))) await bs.put(block.cid, ownBytes(block.bytes))
        }),
      )
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed !== undefined) throw storageError('write of a block', failed.reason)
    }
  }

  /** The block list `cid`; undefined when the blockstore does not have it. */
  async #readList(cid: CID): Promise<BlockList | undefined> {
    const bytes = await this.get(cid)
    if (bytes === undefined) return undefined
    try {
      const value = dagCbor.decode<BlockList>(bytes)
      if (value.cairn === 'blocks' && Array.isArray(value.cids)) return value
    } catch (cause) {
      throw new CairnError('CAIRN_CORRUPT', `block list ${cid} does not decode`, { cid, cause })
    }
    throw new CairnError('CAIRN_CORRUPT', `block ${cid} is not a Cairn block list`, { cid })
  }

  #open(): void {
    if (this.#closed) throw new CairnError('CAIRN_CLOSED', 'blockstore storage is closed')
  }
}

/**
 * A block's bytes as a blockstore should keep them: a blockstore may hold the view it is given
 * (keeping its whole buffer alive) or structured-clone it (copying that whole buffer), so a block
 * that is a window into a bigger buffer (a CAR chunk, an import's slab) is copied down to its
 * own bytes first. The IndexedDB engine does the same (its own copy: it is on the first load).
 */
function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
}
