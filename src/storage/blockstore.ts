import * as dagCbor from '@ipld/dag-cbor'
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { concatBytes, equalBytes } from '../block/codec.ts'
import { sha256Sync } from '../block/hash.ts'
import { DAG_CBOR, RAW, type BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { DERIVED_NAME, type CommitBatch, type StorageEngine } from './interface.ts'
import { expectDerivedBytes, expectDerivedName } from './derived.ts'

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
 */

const slotKey = (label: string): CID => CID.createV1(RAW, sha256Sync(new TextEncoder().encode(label)))
/**
 * The reserved keys of the heads record's slots A and B. Exported for tools that share the
 * blockstore (exclude them from GC, leave them out of exports) and for tests.
 */
export const BLOCKSTORE_HEADS_SLOTS: readonly [CID, CID] = [slotKey('cairn:heads:a'), slotKey('cairn:heads:b')]
const HEADS_SLOTS = BLOCKSTORE_HEADS_SLOTS
const DERIVED_PREFIX = 'cairn:derived:'
/** The reserved key of derived value `name` (see the layout above). Exported for tools that share the blockstore. */
export function blockstoreDerivedKey(name: string): CID {
  return slotKey(DERIVED_PREFIX + expectDerivedName(name))
}
/** CIDs per block-list block: about 40 bytes each, so lists stay well under 256 KiB. */
const LIST_CHUNK = 4096

/** Options of {@link openBlockstoreStorage}. */
export interface BlockstoreStorageOptions {
  /** Called once by `close()`, after the last commit finished, to close the underlying blockstore. */
  onClose?: () => Promise<void> | void
  /** How many blocks a commit checks and writes at once. Default 16. */
  concurrency?: number
}

/** The heads record as it sits in a slot (without its check). */
export interface BlockstoreHeadsRecord {
  /** Commit number: 1 for the first commit; 0 for a store nothing was committed to. */
  seq: number
  heads: CID[]
  /** Newest block list, or null before the first commit with blocks. */
  log: CID | null
}

interface BlockList {
  cairn: 'blocks'
  prev: CID | null
  cids: CID[]
}

function slotFor(seq: number): 0 | 1 {
  return seq % 2 === 1 ? 0 : 1
}

function isReserved(cid: CID): boolean {
  return HEADS_SLOTS.some((slot) => equalBytes(slot.multihash.bytes, cid.multihash.bytes))
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
 * Opens Cairn storage over any interface-blockstore v7 blockstore (blockstore-fs,
 * blockstore-idb, blockstore-level, Helia's), which must already be open. Reads the heads
 * record; rejects with CAIRN_CORRUPT when both slots are present and neither is valid.
 *
 * @example
 * const bs = new FsBlockstore('./blocks'); await bs.open()
 * const storage = await openBlockstoreStorage(bs, { onClose: () => bs.close() })
 */
export async function openBlockstoreStorage(blockstore: Blockstore, options: BlockstoreStorageOptions = {}): Promise<BlockstoreStorage> {
  if (blockstore === null || typeof blockstore !== 'object' || typeof blockstore.get !== 'function' || typeof blockstore.put !== 'function') {
    throw new TypeError('"blockstore" expected an interface-blockstore Blockstore')
  }
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
  #tail: Promise<unknown> = Promise.resolve()
  /** Derived writes, one at a time in call order (so the last call wins), beside commits. */
  #derivedTail: Promise<unknown> = Promise.resolve()

  /** Use {@link openBlockstoreStorage}. */
  constructor(blockstore: Blockstore, record: BlockstoreHeadsRecord, options: BlockstoreStorageOptions = {}) {
    this.#blockstore = blockstore
    this.#record = record
    this.#onClose = options.onClose
    this.#concurrency = Math.max(1, options.concurrency ?? 16)
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
    let next = this.#record.log
    while (next !== null) {
      this.#open()
      const list = await this.#list(next)
      for (const cid of list.cids) {
        const key = cid.toString()
        if (seen.has(key)) continue
        seen.add(key)
        this.#open()
        const bytes = await this.get(cid)
        if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `block ${cid} was committed but the blockstore no longer has it`, { cid })
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
    const run = (): Promise<void> => this.#commit(batch)
    const result = this.#tail.then(run, run)
    this.#tail = result.catch(() => undefined)
    return result
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
    const result = this.#derivedTail.then(run, run)
    this.#derivedTail = result.catch(() => undefined)
    return result
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#tail
    await this.#derivedTail
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

  /** Puts the blocks the blockstore lacks, `concurrency` at a time; fails after all settled. */
  async #putAll(blocks: readonly BlockRecord[]): Promise<void> {
    const bs = this.#blockstore
    for (let i = 0; i < blocks.length; i += this.#concurrency) {
      const results = await Promise.allSettled(
        blocks.slice(i, i + this.#concurrency).map(async (block) => {
          if (!(await bs.has(block.cid))) await bs.put(block.cid, block.bytes)
        }),
      )
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed !== undefined) throw storageError('write of a block', failed.reason)
    }
  }

  async #list(cid: CID): Promise<BlockList> {
    const bytes = await this.get(cid)
    if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `block list ${cid} of the heads record is missing`, { cid })
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
