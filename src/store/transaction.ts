import type { CID } from 'multiformats/cid'
import { encodeValue } from '../block/codec.ts'
import type { BlockRecord } from '../block/interface.ts'
import { expectByteSource } from '../car/interface.ts'
import { expectObject, expectStoredString } from '../errors/arguments.ts'
import { progressPlan } from '../errors/progress.ts'
import type { AppendInput, AppendOptions, BatchAppendInput, StoredEvent } from '../log/event/interface.ts'
import type { EventLog } from '../log/log.ts'
import { type Draft, objectDraft, type UnitOfWork } from '../log/plan.ts'
import type { PutFileOptions, PutOptions } from '../objects/interface.ts'
import type { FileSource } from '../objects/unixfs.ts'
import { APPEND_KEYS, checkAppendInput, checkBatchInputs, PUT_FILE_KEYS, PUT_KEYS } from './arguments.ts'

/**
 * The writes of one `store.transaction`: gathered while its body runs, committed together when
 * it returns. Nothing is written (beyond a file's unreferenced blocks) or visible before then.
 *
 * @example
 * await store.transaction(async (tx) => {
 *   const photo = await tx.putFile(file.stream(), { type: 'photo' })
 *   tx.append({ stream: 'album-1', type: 'photo.added', data: { photo } })
 * })
 */
export interface Transaction {
  /** Adds an append to the transaction. `expectedVersion` is checked at commit, counting earlier appends of the transaction. */
  append<D = unknown>(input: AppendInput<D>, options?: AppendOptions): void
  /** Adds several appends (each may carry `expectedVersion`). */
  appendMany<D = unknown>(inputs: readonly BatchAppendInput<D>[]): void
  /** Adds a value as an object; returns its CID at once. What it links to must be stored or put in this transaction. */
  put(value: unknown, options?: PutOptions): CID
  /**
   * Chunks a file now and records it at commit; returns its CID. Await it before the body
   * returns. `onProgress` and `signal` work as in `store.putFile`, over the chunking: the final
   * report comes once the file is chunked, and an abort (or a throw from `onProgress`) before
   * then rejects with `signal.reason` and fails the transaction, which commits nothing.
   */
  putFile(source: FileSource, options?: PutFileOptions): Promise<CID>
}

/**
 * What `store.transaction` resolves to.
 *
 * @example
 * const { value: cid, events } = await store.transaction((tx) => tx.put({ total: 42 }))
 */
export interface TransactionResult<T> {
  /** What the body returned. */
  readonly value: T
  /** The events of the transaction's appends, in the order they were added (a retried `meta.id` gives the stored event). */
  readonly events: StoredEvent[]
}

/** Gathers a transaction's writes (see Transaction) and commits them through the log. */
export class TransactionBuilder {
  readonly #log: EventLog
  readonly #drafts: Draft[] = []
  readonly #appends: number[] = []
  readonly #blocks: BlockRecord[] = []
  readonly #values: { cid: CID; value: unknown }[] = []
  readonly #files: Promise<unknown>[] = []
  readonly #releases: (() => void)[] = []
  #open = true

  constructor(log: EventLog) {
    this.#log = log
  }

  /** The object the body receives. */
  readonly api: Transaction = {
    append: (input, options = {}) => {
      this.#check()
      expectObject('options', options, APPEND_KEYS)
      this.#append(checkAppendInput(input, 'input', options))
    },
    appendMany: (inputs) => {
      this.#check()
      const drafts = checkBatchInputs(inputs)
      for (const d of drafts) this.#append(d)
    },
    put: (value, options = {}) => {
      this.#check()
      expectObject('options', options, PUT_KEYS)
      const type = options.type === undefined ? 'object' : expectStoredString('type', options.type)
      const block = encodeValue(value, 'value')
      this.#blocks.push(block)
      this.#values.push({ cid: block.cid, value })
      this.#drafts.push(objectDraft(block.cid, type, block.bytes.length, { value }))
      return block.cid
    },
    putFile: (source, options = {}) => {
      this.#check()
      expectObject('options', options, PUT_FILE_KEYS)
      const type = options.type === undefined ? 'file' : expectStoredString('type', options.type)
      const checked = expectByteSource('source', source)
      const plan = progressPlan('putFile', options, checked instanceof Uint8Array ? checked.length : undefined)
      // The record keeps its place among the transaction's writes; the chunking fills it in.
      const at = this.#drafts.length
      this.#drafts.push(undefined as unknown as Draft)
      const done = this.#log.chunkFile(checked, plan).then((file) => {
        this.#releases.push(file.release)
        // The final report, once the file is chunked: an abort up to here fails the transaction.
        file.progress?.done()
        this.#blocks.push(...file.rest)
        this.#drafts[at] = objectDraft(file.cid, type, file.size, undefined)
        return file.cid
      })
      this.#files.push(done)
      return done
    },
  }

  #append(draft: Draft): void {
    this.#appends.push(this.#drafts.length)
    this.#drafts.push(draft)
  }

  #check(): void {
    if (!this.#open) throw new TypeError('the transaction is over: use its object only inside the body')
    this.#log.check()
  }

  /** Ends the body: no more writes. Waits for files still being chunked (a failed one fails the transaction). */
  async close(): Promise<void> {
    this.#open = false
    await Promise.all(this.#files)
  }

  /** Commits what was gathered; resolves to the appends' events. */
  async commit(): Promise<StoredEvent[]> {
    const work: UnitOfWork = { drafts: this.#drafts, blocks: this.#blocks, values: this.#values }
    try {
      const stored = await this.#log.commitWork(work)
      return this.#appends.map((i) => stored[i]!)
    } finally {
      this.release()
    }
  }

  /** Lets compaction reclaim the blocks of files this transaction chunked (recorded or given up). */
  release(): void {
    for (const release of this.#releases.splice(0)) release()
  }
}
