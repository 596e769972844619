// The IndexedDB engine. Past 500 lines because one engine's parts share its connection and its
// transaction helper: open and schema upgrade, reads, the commit transaction with its quota and abort
// mapping, derived values, tab coordination (Web Lock, BroadcastChannel) and compaction.
import { Mutex } from './mutex.ts'
import { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { expectNonNegativeInteger, expectObject, expectPositiveInteger, expectString, type KnownKeys } from '../errors/arguments.ts'
import { checkCompactArguments, type CommitBatch, type CompactOptions, type CompactReport, type StorageEngine } from './interface.ts'
import { expectDerivedBytes, expectDerivedName } from './derived.ts'

/**
 * Schema version of the database.
 * - Version 1: object store `blocks` (key: CID bytes as a binary key, value: block bytes)
 *   and object store `meta` (key 'heads': array of CID bytes).
 * - Version 2 adds object store `derived` (key: the value's name, value: its bytes). The
 *   upgrade from 1 only creates that store; blocks and heads stay as they are.
 */
const DB_VERSION = 2
const BLOCKS = 'blocks'
const META = 'meta'
const DERIVED = 'derived'
const HEADS_KEY = 'heads'

/**
 * Options of {@link openIndexedDbStorage}.
 *
 * @example
 * const store = await openStore({ storage: await openIndexedDbStorage('notes', { durability: 'relaxed', pageSize: 1000 }) })
 */
export interface IndexedDbStorageOptions {
  /**
   * Durability hint of every commit transaction. 'strict' (the default) resolves a commit only
   * once the browser has flushed it to disk, so a resolved append survives a crash or power
   * loss; 'relaxed' resolves once the write reached the OS (faster, may lose the newest
   * commits on power loss, never half a commit); 'default' lets the browser choose.
   */
  durability?: 'strict' | 'relaxed' | 'default'
  /**
   * How long `open` waits when another connection blocks a schema upgrade before it fails
   * with CAIRN_STORAGE. Default 10 000 ms.
   */
  blockedTimeoutMs?: number
  /** Blocks read per transaction while iterating `blocks()`. Default 500. */
  pageSize?: number
}

/** The keys of `IndexedDbStorageOptions` (openStore takes them too). */
export const IDB_KEYS: KnownKeys<IndexedDbStorageOptions> = { durability: 1, blockedTimeoutMs: 1, pageSize: 1 }

/**
 * Seams for specs, not part of the public API (the entry points do not export them): a
 * spec opens the engine with `openIndexedDbStorageWith` to reach into its transactions.
 */
export interface IndexedDbSeams {
  /**
   * Called with each commit transaction after every write of the batch was queued and before
   * it completes; `tx.abort()` here makes the commit fail as a browser abort would.
   */
  readonly beforeComplete?: ((tx: IDBTransaction) => void) | undefined
}

function factory(): IDBFactory {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB
  if (idb == null) {
    throw new CairnError('CAIRN_UNSUPPORTED', 'IndexedDB is not available in this runtime (globalThis.indexedDB is missing); use the files engine in Node/Deno, MemoryStorage, or a blockstore')
  }
  return idb
}

function storageError(what: string, cause: unknown): CairnError {
  const detail = cause instanceof Error || (typeof DOMException !== 'undefined' && cause instanceof DOMException) ? `${(cause as Error).name}: ${(cause as Error).message}` : String(cause)
  return new CairnError('CAIRN_STORAGE', `IndexedDB ${what} failed: ${detail}`, { cause })
}

/** The browser's "origin out of storage quota" failure: a QuotaExceededError (legacy DOMException code 22). */
function isQuotaExceeded(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return e.name === 'QuotaExceededError' || (typeof DOMException !== 'undefined' && err instanceof DOMException && e.code === 22)
}

/** A write transaction named for error messages, with how much it writes (for CAIRN_QUOTA). */
interface SizedWrite {
  readonly what: string
  readonly bytes: number
  readonly blocks?: number
}

function quotaError(write: string | SizedWrite, cause: unknown): CairnError {
  const mib = (n: number): string => `${(n / (1024 * 1024)).toFixed(n < 1024 * 1024 ? 3 : 1)} MiB`
  const amount = typeof write === 'string' ? '' : ` of ${write.blocks === undefined ? '' : `${write.blocks} block${write.blocks === 1 ? '' : 's'}, `}${write.bytes} bytes (${mib(write.bytes)})`
  return new CairnError(
    'CAIRN_QUOTA',
    `IndexedDB ${typeof write === 'string' ? write : write.what}${amount} was refused: the origin is out of storage quota (QuotaExceededError), and nothing of it was written. Free space (delete data this origin no longer needs) or ask for persistent storage with store.persist(), which some browsers reward with a larger quota, then retry`,
    { cause },
  )
}

/** The origin's StorageManager (`navigator.storage`), where the runtime has one. */
function storageManager(): Partial<StorageManager> | undefined {
  return (globalThis as { navigator?: { storage?: Partial<StorageManager> } }).navigator?.storage ?? undefined
}

/** Resolves with a request's result, rejects with its error. */
function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = (event) => {
      // Handled here: keep the error from also aborting a transaction that other requests share.
      event.preventDefault()
      reject(req.error)
    }
  })
}

/**
 * A block's bytes as IndexedDB should store them. Structured clone copies a view's whole
 * underlying buffer, so a block that is a window into a bigger buffer (a CAR chunk, say) is
 * copied down to its own bytes first.
 */
function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
}

function toBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  throw new CairnError('CAIRN_CORRUPT', 'IndexedDB holds a value that is not bytes')
}

function keyCid(key: IDBValidKey): CID {
  try {
    return CID.decode(toBytes(key))
  } catch (cause) {
    throw new CairnError('CAIRN_CORRUPT', 'IndexedDB holds a block key that is not a CID', { cause })
  }
}

/**
 * Opens (creating it if needed) the IndexedDB database `name` as a Cairn storage engine.
 * Rejects with CAIRN_UNSUPPORTED where IndexedDB does not exist, CAIRN_STORAGE when the
 * browser refuses (quota, private mode, blocked upgrade) or the database belongs to
 * something else.
 *
 * @example
 * const storage = await openIndexedDbStorage('notes')
 * await storage.commit({ blocks: [block], heads: [block.cid] })
 */
export async function openIndexedDbStorage(name: string, options: IndexedDbStorageOptions = {}): Promise<IndexedDbStorage> {
  return openIndexedDbStorageWith(name, options, {})
}

/** {@link openIndexedDbStorage} with seams for specs (not exported by the entry points). */
export async function openIndexedDbStorageWith(name: string, options: IndexedDbStorageOptions, seams: IndexedDbSeams): Promise<IndexedDbStorage> {
  expectString('name', name)
  const { durability = 'strict', blockedTimeoutMs = 10_000, pageSize = 500 } = expectObject('options', options, IDB_KEYS) as IndexedDbStorageOptions
  if (durability !== 'strict' && durability !== 'relaxed' && durability !== 'default') {
    throw new (typeof durability === 'string' ? RangeError : TypeError)(`"durability" expected "strict", "relaxed" or "default", got ${JSON.stringify(durability)}`)
  }
  expectPositiveInteger('pageSize', pageSize)
  const db = await openDatabase(factory(), name, expectNonNegativeInteger('blockedTimeoutMs', blockedTimeoutMs))
  if (!db.objectStoreNames.contains(BLOCKS) || !db.objectStoreNames.contains(META) || !db.objectStoreNames.contains(DERIVED)) {
    db.close()
    throw notCairnStore(name, [BLOCKS, META, DERIVED])
  }
  return new IndexedDbStorage(db, name, options, seams)
}

/** The database `name` lacks some of `stores`: it belongs to something else. */
function notCairnStore(name: string, stores: readonly string[]): CairnError {
  return new CairnError('CAIRN_STORAGE', `IndexedDB database "${name}" exists but is not a Cairn store (no ${stores.map((s) => `"${s}"`).join('/')} object stores)`)
}

function openDatabase(idb: IDBFactory, name: string, blockedTimeoutMs: number): Promise<IDBDatabase> {
  return new Promise<IDBDatabase>((resolve, reject) => {
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const fail = (err: CairnError): void => {
      if (settled) return
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      reject(err)
    }
    let req: IDBOpenDBRequest
    try {
      req = idb.open(name, DB_VERSION)
    } catch (cause) {
      fail(storageError(`open of "${name}"`, cause))
      return
    }
    let foreign = false
    req.onupgradeneeded = (event) => {
      const db = req.result
      if (event.oldVersion > 0 && (!db.objectStoreNames.contains(BLOCKS) || !db.objectStoreNames.contains(META))) {
        // An existing database that Cairn did not make: leave it exactly as it was.
        foreign = true
        req.transaction?.abort()
        return
      }
      // A new database, or a Cairn store of an older version: create what is missing, keep the rest.
      if (!db.objectStoreNames.contains(BLOCKS)) db.createObjectStore(BLOCKS)
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META)
      if (!db.objectStoreNames.contains(DERIVED)) db.createObjectStore(DERIVED)
    }
    req.onblocked = () => {
      // Another connection holds an older version open and has not closed on `versionchange`.
      // Cairn's own connections close at once, so wait a while, then give up.
      timer ??= setTimeout(() => fail(new CairnError('CAIRN_STORAGE', `IndexedDB open of "${name}" is blocked by another open connection (another tab?) that does not close`)), blockedTimeoutMs)
    }
    req.onsuccess = () => {
      const db = req.result
      if (settled) {
        db.close()
        return
      } // gave up while blocked; do not leak the late connection
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      resolve(db)
    }
    req.onerror = (event) => {
      event.preventDefault()
      fail(foreign ? notCairnStore(name, [BLOCKS, META]) : storageError(`open of "${name}"`, req.error))
    }
  })
}

/**
 * Deletes the IndexedDB database `name` and everything in it. Cairn connections to it (in
 * this or another tab) close themselves when asked; the returned promise resolves once the
 * browser has deleted the database.
 *
 * @example
 * await store.close()
 * await deleteIndexedDbStorage('notes')
 */
export async function deleteIndexedDbStorage(name: string): Promise<void> {
  expectString('name', name)
  const idb = factory()
  await new Promise<void>((resolve, reject) => {
    const req = idb.deleteDatabase(name)
    req.onsuccess = () => resolve()
    req.onerror = (event) => {
      event.preventDefault()
      reject(storageError(`delete of "${name}"`, req.error))
    }
  })
}

/**
 * Browser storage engine on IndexedDB: one object store of blocks keyed by CID bytes, one
 * `meta` record with the heads. A commit is one readwrite transaction over both, so the
 * browser makes the blocks and heads durable together or not at all. Derived values live in
 * the `derived` object store, one record per name, each write its own transaction.
 *
 * @example
 * const storage = await openIndexedDbStorage('notes')
 * const store = await openStore({ storage })
 */
export class IndexedDbStorage implements StorageEngine {
  readonly kind: string = 'indexeddb'
  /** Name of the IndexedDB database. */
  readonly name: string
  readonly #db: IDBDatabase
  readonly #durability: IDBTransactionDurability
  readonly #pageSize: number
  readonly #seams: IndexedDbSeams
  /** Why the engine no longer serves calls; set by close() or by the browser. */
  #closed: string | undefined
  /** True once close() was called (as opposed to a close forced by the browser). */
  #closing = false
  /** Commits and compactions, one at a time in call order. */
  readonly #writes = new Mutex()
  /** Tells the other connections of this origin (tabs, workers) that a commit landed. */
  readonly #channel: BroadcastChannel | undefined
  readonly #externalCommit = new Set<() => void>()

  /** Use {@link openIndexedDbStorage}. `seams` are for specs only (see IndexedDbSeams). */
  constructor(db: IDBDatabase, name: string, options: IndexedDbStorageOptions = {}, seams: IndexedDbSeams = {}) {
    this.#db = db
    this.name = name
    this.#durability = options.durability ?? 'strict'
    this.#pageSize = options.pageSize ?? 500
    this.#seams = seams
    // Another connection wants to delete or upgrade the database: step aside rather than block it.
    db.onversionchange = () => {
      this.#closed ??= `IndexedDB storage "${name}" was closed because another connection is deleting or upgrading the database`
      db.close()
    }
    // The browser closed the connection itself (storage cleared, disk error).
    db.onclose = () => {
      this.#closed ??= `IndexedDB storage "${name}" was closed by the browser`
    }
    if (typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(`cairn:${name}`)
      this.#channel.onmessage = () => {
        for (const listener of this.#externalCommit) listener()
      }
    }
  }

  /**
   * Runs `task` holding this database's exclusive Web Lock (`cairn:<name>`), shared by every
   * tab and worker of the origin: the log re-reads the heads inside it and catches up before
   * it plans a commit, so two tabs never overwrite each other's heads. Where Web Locks are
   * missing the task runs as it is (one writer per database is then the app's to ensure).
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
    if (locks === undefined) return task()
    return locks.request(`cairn:${this.name}`, { mode: 'exclusive' }, task) as Promise<T>
  }

  /** Calls `listener` when another connection to this database committed (BroadcastChannel). */
  onExternalCommit(listener: () => void): () => void {
    this.#externalCommit.add(listener)
    return () => {
      this.#externalCommit.delete(listener)
    }
  }

  async get(cid: CID): Promise<Uint8Array | undefined> {
    const store = this.#store('readonly')
    const value = await this.#read('get', request(store.get(cid.bytes)))
    return value === undefined ? undefined : toBytes(value)
  }

  /** Several blocks in one readonly transaction: one round trip to the IndexedDB backend instead of one per block. */
  async getMany(cids: readonly CID[]): Promise<(Uint8Array | undefined)[]> {
    const store = this.#store('readonly')
    const values = await Promise.all(cids.map((cid) => this.#read('get', request(store.get(cid.bytes)))))
    return values.map((v) => (v === undefined ? undefined : toBytes(v)))
  }

  async has(cid: CID): Promise<boolean> {
    const store = this.#store('readonly')
    return (await this.#read('has', request(store.getKey(cid.bytes)))) !== undefined
  }

  /**
   * Every stored block, read `pageSize` at a time, each page in its own short transaction
   * (a transaction cannot stay open across the caller's awaits). Blocks committed while
   * iterating may or may not be listed; none is listed twice.
   */
  async *blocks(): AsyncIterable<BlockRecord> {
    let after: IDBValidKey | undefined
    for (;;) {
      const store = this.#store('readonly')
      const range = after === undefined ? null : IDBKeyRange.lowerBound(after, true)
      const [keys, values] = await this.#read('blocks', Promise.all([request(store.getAllKeys(range, this.#pageSize)), request(store.getAll(range, this.#pageSize))]))
      for (let i = 0; i < keys.length; i++) yield { cid: keyCid(keys[i]!), bytes: toBytes(values[i]) }
      if (keys.length < this.#pageSize) return
      after = keys[keys.length - 1]
    }
  }

  async heads(): Promise<CID[]> {
    const tx = this.#transaction(META, 'readonly')
    const value = await this.#read('heads', request(tx.objectStore(META).get(HEADS_KEY)))
    if (value === undefined) return []
    if (!Array.isArray(value)) throw new CairnError('CAIRN_CORRUPT', `IndexedDB storage "${this.name}" has a heads record that is not a list`)
    try {
      return value.map((bytes: unknown) => CID.decode(toBytes(bytes)))
    } catch (cause) {
      throw new CairnError('CAIRN_CORRUPT', `IndexedDB storage "${this.name}" has a heads record that does not decode`, { cause })
    }
  }

  /**
   * Writes the batch's blocks and heads in one readwrite transaction. Resolves on the
   * transaction's `complete`; on `error`/`abort` rejects — with CAIRN_QUOTA when the origin is
   * out of storage quota, CAIRN_STORAGE otherwise — and nothing of the batch is visible; the
   * engine keeps serving later commits. Commits run one at a time in call order.
   */
  commit(batch: CommitBatch): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(new CairnError('CAIRN_CLOSED', this.#closed))
    // A commit accepted before close() still runs: close() waits for the queue.
    return this.#writes.run(() => this.#commit(batch))
  }

  /**
   * Deletes every block `live` rejects (see StorageEngine.compact; `minDeadRatio` does not
   * apply). The keys of `blocks` are read `pageSize` at a time, each page in its own readonly
   * transaction, and each page's dead blocks are deleted in one readwrite transaction (with the
   * engine's durability). `meta` is never touched, so a crash between transactions leaves the
   * heads as they were and only some dead blocks, which the next compaction removes. Runs in
   * the commit queue. The caller holds the store's lock (`exclusive`), so no other tab commits
   * meanwhile.
   */
  compact(live: (cid: CID) => boolean, options?: CompactOptions): Promise<CompactReport> {
    try {
      checkCompactArguments(live, options)
      if (this.#closed !== undefined) throw new CairnError('CAIRN_CLOSED', this.#closed)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#writes.run(() => this.#compact(live))
  }

  /** The derived value `name` (see StorageEngine.readDerived); a fresh copy on every read (structured clone). */
  async readDerived(name: string): Promise<Uint8Array | undefined> {
    expectDerivedName(name)
    const tx = this.#transaction(DERIVED, 'readonly')
    const value = await this.#read('read of a derived value', request(tx.objectStore(DERIVED).get(name)))
    return value === undefined ? undefined : toBytes(value)
  }

  /**
   * Replaces the derived value `name`: one put in its own readwrite transaction (with the
   * engine's durability), resolved on `complete`. The bytes are cloned when the put is
   * queued, so changing them afterwards changes nothing. Large values (tens of MB) are one
   * record; browsers keep those outside their database files. Out of quota: CAIRN_QUOTA, and
   * the previous value stays.
   */
  writeDerived(name: string, bytes: Uint8Array): Promise<void> {
    let tx: IDBTransaction
    try {
      expectDerivedName(name)
      expectDerivedBytes(bytes)
      tx = this.#transaction(DERIVED, 'readwrite')
    } catch (err) {
      return Promise.reject(err)
    }
    return this.#writeTransaction(tx, { what: `write of derived value "${name}"`, bytes: bytes.length }, () => {
      tx.objectStore(DERIVED).put(ownBytes(bytes), name)
    })
  }

  /**
   * Asks the browser to make this origin's storage persistent (`navigator.storage.persist()`:
   * not evicted under storage pressure; Chromium decides from site engagement, Firefox may
   * prompt). Resolves to whether it is persistent now; false where the API is missing (insecure
   * contexts, workers, older runtimes). Rejects with CAIRN_STORAGE if the browser fails.
   */
  async persist(): Promise<boolean> {
    const manager = storageManager()
    if (typeof manager?.persist !== 'function') return false
    try {
      return (await manager.persist()) === true
    } catch (cause) {
      throw storageError('persist', cause)
    }
  }

  /** Whether this origin's storage is persistent already (`navigator.storage.persisted()`); false where the API is missing. */
  async persisted(): Promise<boolean> {
    const manager = storageManager()
    if (typeof manager?.persisted !== 'function') return false
    try {
      return (await manager.persisted()) === true
    } catch (cause) {
      throw storageError('persisted', cause)
    }
  }

  async close(): Promise<void> {
    this.#closed ??= `IndexedDB storage "${this.name}" is closed`
    this.#closing = true
    await this.#writes.idle()
    this.#channel?.close()
    this.#externalCommit.clear()
    // IDBDatabase.close waits for running transactions itself and is safe to call twice.
    this.#db.close()
  }

  async #commit(batch: CommitBatch): Promise<void> {
    const tx = this.#transaction([BLOCKS, META], 'readwrite', true)
    let bytes = 0
    for (const block of batch.blocks) bytes += block.bytes.length
    await this.#writeTransaction(tx, { what: 'commit', bytes, blocks: batch.blocks.length }, () => {
      const blocks = tx.objectStore(BLOCKS)
      for (const block of batch.blocks) blocks.put(ownBytes(block.bytes), block.cid.bytes)
      tx.objectStore(META).put(
        // Own bytes: structured clone stores a view's whole buffer, and a CID may view a shared slab.
        batch.heads.map((cid) => ownBytes(cid.bytes)),
        HEADS_KEY,
      )
      this.#seams.beforeComplete?.(tx)
    })
    this.#channel?.postMessage('commit')
  }

  async #compact(live: (cid: CID) => boolean): Promise<CompactReport> {
    let blocksRemoved = 0
    let bytesReclaimed = 0
    let after: IDBValidKey | undefined
    for (;;) {
      const store = this.#transaction(BLOCKS, 'readonly', true).objectStore(BLOCKS)
      const keys = await this.#read('compaction', request(store.getAllKeys(after === undefined ? null : IDBKeyRange.lowerBound(after, true), this.#pageSize)))
      const dead = keys.filter((key) => !live(keyCid(key)))
      if (dead.length > 0) {
        const tx = this.#transaction(BLOCKS, 'readwrite', true)
        let removed = 0
        let bytes = 0
        await this.#writeTransaction(tx, 'compaction', () => {
          const blocks = tx.objectStore(BLOCKS)
          for (const key of dead) {
            // Read in the same transaction, so the count is of blocks this transaction deleted.
            const get = blocks.get(key)
            get.onsuccess = () => {
              if (get.result === undefined) return
              removed++
              bytes += toBytes(get.result).byteLength
            }
            blocks.delete(key)
          }
        })
        blocksRemoved += removed
        bytesReclaimed += bytes
      }
      if (keys.length < this.#pageSize) return { blocksRemoved, bytesReclaimed }
      after = keys[keys.length - 1]
    }
  }

  /**
   * Runs `fill` (the puts) in the readwrite transaction `tx`; resolves on `complete`. When it
   * aborts, rejects naming `write` (and saying how much it wrote, when given): with CAIRN_QUOTA
   * when the browser refused it for the origin's quota (at commit, where Chromium checks, or
   * from a put), otherwise with CAIRN_STORAGE; the DOMException is the `cause` of both.
   */
  #writeTransaction(tx: IDBTransaction, write: string | SizedWrite, fill: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let firstError: unknown
      tx.oncomplete = () => resolve()
      tx.onerror = () => {
        firstError ??= tx.error
      }
      tx.onabort = () => {
        // An abort by tx.abort() (ours after a throwing put, or a caller's) leaves tx.error null.
        const cause = tx.error ?? firstError ?? new DOMException('the transaction was aborted', 'AbortError')
        const quota = isQuotaExceeded(cause) ? cause : isQuotaExceeded(firstError) ? firstError : undefined
        reject(quota === undefined ? storageError(typeof write === 'string' ? write : write.what, cause) : quotaError(write, quota))
      }
      try {
        fill()
      } catch (cause) {
        // A put that throws synchronously (DataCloneError, DataError, ...) has not aborted the
        // transaction by itself: abort it so that no earlier put lands.
        firstError ??= cause
        try {
          tx.abort()
        } catch {
          /* already finishing or aborted */
        }
      }
    })
  }

  #store(mode: IDBTransactionMode): IDBObjectStore {
    return this.#transaction(BLOCKS, mode).objectStore(BLOCKS)
  }

  #transaction(stores: string | string[], mode: IDBTransactionMode, queued = false): IDBTransaction {
    // A queued commit may still run while close() drains the queue; nothing else may.
    if (this.#closed !== undefined && !(queued && this.#closing)) throw new CairnError('CAIRN_CLOSED', this.#closed)
    try {
      return mode === 'readwrite' ? this.#db.transaction(stores, mode, { durability: this.#durability }) : this.#db.transaction(stores, mode)
    } catch (cause) {
      if (this.#closed !== undefined) throw new CairnError('CAIRN_CLOSED', this.#closed, { cause })
      throw storageError('transaction', cause)
    }
  }

  async #read<T>(what: string, pending: Promise<T>): Promise<T> {
    try {
      return await pending
    } catch (cause) {
      if (cause instanceof CairnError) throw cause
      throw storageError(what, cause)
    }
  }
}
