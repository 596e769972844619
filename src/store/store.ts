// CairnStore: the public methods, one each, with their doc comments and examples. Past 500 lines
// because of those docs and argument checks, not logic: every write goes to the log (src/log/log.ts),
// every read to its views; splitting the class would split the API a reader looks up in one place.
import type { CID } from 'multiformats/cid'
import { decodeBlock, encodeValue } from '../block/codec.ts'
import { type ByteSource, expectByteSource } from '../car/interface.ts'
import { expectAsOf, expectCid, expectFunction, expectNonNegativeInteger, expectObject, expectOptionalBoolean, expectStoredString, expectString, expectTime } from '../errors/arguments.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { expectOptionalSignal, progressPlan } from '../errors/progress.ts'
import { changesOf } from '../log/changes.ts'
import { expectFilter, FILTER_KEYS } from '../log/event/filter.ts'
import { decodeEvent } from '../log/event/format.ts'
import type { AppendInput, AppendOptions, BatchAppendInput, EventBlock, EventFilter, PageOptions, QueryOptions, ReadOptions, ReplayOptions, StoredEvent } from '../log/event/interface.ts'
import { EventLog, type LogOpenOptions } from '../log/log.ts'
import { ACCESS_GRANT, ACCESS_REVOKE, ACCESS_STREAM, type AccessConfig, type GrantData, type RevokeData } from '../log/rules/access-names.ts'
import type { VerifyReport } from '../log/verify.ts'
import { toStoredEvent, type LoadedEvent } from '../log/views/event-reader.ts'
import { listsFor, matchesFilter, scan, streamAsOfEvent } from '../log/views/query.ts'
import type { SeqList } from '../log/views/seq-list.ts'
import type { OrderKey } from '../log/views/views.ts'
import type { ObjectInfo, ObjectsQuery, PutFileOptions, PutOptions, Referrer } from '../objects/interface.ts'
import type { FileSource } from '../objects/unixfs.ts'
import type { Projection, ProjectionSpec } from '../projections/interface.ts'
import { type CompactOptions, type CompactReport, DERIVED_NAME, type StorageEngine } from '../storage/interface.ts'
import {
  APPEND_KEYS,
  CHANGES_KEYS,
  checkAppendInput,
  checkBatchInputs,
  COMPACT_KEYS,
  cursorBounds,
  OBJECTS_KEYS,
  PAGE_KEYS,
  PROGRESS_KEYS,
  PUT_FILE_KEYS,
  PUT_KEYS,
  QUERY_KEYS,
  READ_KEYS,
  REDUCE_KEYS,
  REPLAY_KEYS,
  SUBSCRIBE_KEYS,
} from './arguments.ts'
import type { ChangeListener, ChangesOptions, IndexStatus, Reducer, ReduceOptions, StoreStats, SubscribeOptions, VerifyOptions } from './interface.ts'
import { expectAccessRules, type GrantOptions, normalizeExportOptions, normalizeStoreOptions, type ExportOptions, type ImportOptions, type ImportReport, type StoreOptions } from './options.ts'
import type { Transaction, TransactionResult } from './transaction.ts'

/**
 * A Cairn store: an event log and an object store over one storage engine.
 * Open one with `openStore`.
 *
 * This class holds the public methods: each checks its arguments, then reads from the log's
 * views or hands the change to the log (`EventLog`), which plans and applies it. An options or
 * filter object with a key the method does not know (one whose value is not undefined) is a
 * TypeError naming it, before anything is read or changed: a misspelt option is never ignored.
 *
 * @example
 * const store = await openStore({ memory: true })
 * await store.append({ stream: 'user-1', type: 'user.created', data: { name: 'Ada' } })
 */
export class CairnStore {
  readonly #log: EventLog
  readonly #closeTasks = new Set<() => Promise<void>>()
  #closing: Promise<void> | undefined
  /** Names of the open projections: one projection per name and store. */
  readonly #projectionNames = new Set<string>()
  /** Derived values of projections when the engine keeps none (they then last as long as the store). */
  readonly #derived = new Map<string, Uint8Array>()

  private constructor(log: EventLog) {
    this.#log = log
  }

  /**
   * Opens a store on a storage engine: loads the persisted index snapshot and indexes only
   * the events committed after it (or, without a usable snapshot or with `rebuildIndex`,
   * rebuilds the indexes from the blocks and writes a fresh snapshot).
   *
   * @example
   * const store = await CairnStore.open(await openIndexedDbStorage('notes', { pageSize: 1000 }), { rebuildIndex: true })
   */
  static async open(storage: StorageEngine, options: StoreOptions = {}): Promise<CairnStore> {
    let normalized: LogOpenOptions
    try {
      normalized = await normalizeStoreOptions(options)
    } catch (err) {
      await storage.close().catch(() => {})
      throw err
    }
    return new CairnStore(await EventLog.open(storage, normalized))
  }

  /**
   * How open found the indexes: from a persisted snapshot (and how many newer events it
   * indexed from blocks), or rebuilt from the blocks. For diagnostics and tests.
   *
   * @example
   * const { fromSnapshot, indexedOnOpen } = store.indexStatus()   // e.g. true, 12: the snapshot plus 12 newer events
   */
  indexStatus(): IndexStatus {
    return { ...this.#log.opened, snapshotEvents: this.#log.snapshotEvents }
  }

  /** Name of the storage engine underneath ('memory', 'files', 'indexeddb', 'blockstore'). */
  get engine(): string {
    return this.#log.storage.kind
  }

  /** The log's heads, sorted by CID bytes: the events no other event names as a parent. */
  get heads(): CID[] {
    return [...this.#log.heads]
  }

  /**
   * Appends one event. With `expectedVersion`, fails with CAIRN_VERSION_CONFLICT (and writes
   * nothing) unless the stream holds exactly that many events. A key of `input` other than
   * `stream`, `type`, `data` and `meta` is a TypeError (an `expectedVersion` there too: it goes
   * in `options`).
   *
   * @example
   * const ev = await store.append({ stream: 'cart-7', type: 'item.added', data: { sku: 'x' } }, { expectedVersion: 0 })
   */
  async append<D = unknown>(input: AppendInput<D>, options: AppendOptions = {}): Promise<StoredEvent<D>> {
    this.#log.check()
    expectObject('options', options, APPEND_KEYS)
    const draft = checkAppendInput(input, 'input', options)
    const [event] = await this.#log.append([draft])
    return event as StoredEvent<D>
  }

  /**
   * Appends several events atomically: all are durable or none is. Each input may carry its
   * own `expectedVersion`, checked against the stream as it stands before that input.
   *
   * @example
   * const [debit, credit] = await store.appendMany([
   *   { stream: 'acct-1', type: 'debited', data: { amount: 5 }, expectedVersion: 3 },
   *   { stream: 'acct-2', type: 'credited', data: { amount: 5 } },
   * ])
   */
  async appendMany<D = unknown>(inputs: readonly BatchAppendInput<D>[]): Promise<StoredEvent<D>[]> {
    this.#log.check()
    const drafts = checkBatchInputs(inputs)
    if (drafts.length === 0) return []
    return (await this.#log.append(drafts)) as StoredEvent<D>[]
  }

  // ---- trust: who signs, who may write ----

  /** The did:key this replica signs its events with, or undefined for an unsigned store. */
  get author(): string | undefined {
    return this.#log.admission.rules.signer?.did
  }

  /** The store's access rules (its root admins), or undefined when it was opened without any. */
  get access(): AccessConfig | undefined {
    return this.#log.admission.rules.access
  }

  /**
   * Grants `did` the right to write the streams starting with `streams` (`'*'`: all), and with
   * `admin: true` to grant and revoke too. Appends a signed `access.grant` event to `$access`;
   * only an admin's signer may (else CAIRN_UNAUTHORIZED, nothing written). Replicas that import
   * it admit the grantee's events that name it in their causal past.
   *
   * @example
   * const store = await openStore({ memory: true, signer: admin, access: { admins: [admin.did] } })
   * await store.grant(writer.did, { streams: 'todo/' })
   */
  async grant(did: string, options: GrantOptions): Promise<StoredEvent<GrantData>> {
    this.#log.check()
    expectAccessRules(this.access, 'grant')
    const data = (await onDemand()).normalizeGrant(did, options)
    const [event] = await this.#log.append([{ stream: ACCESS_STREAM, type: ACCESS_GRANT, data, meta: undefined, expectedVersion: undefined }])
    return event as StoredEvent<GrantData>
  }

  /**
   * Revokes every grant `did` holds. Its events that have this revocation in their causal past
   * are refused on every replica; events it appended concurrently (without having seen it) stay,
   * since no replica can tell them from events written before (see the README's threat model).
   *
   * @example
   * await store.revoke(writer.did)
   */
  async revoke(did: string): Promise<StoredEvent<RevokeData>> {
    this.#log.check()
    expectAccessRules(this.access, 'revoke')
    const revoked = (await onDemand()).expectDidKey(did)
    const [event] = await this.#log.append([{ stream: ACCESS_STREAM, type: ACCESS_REVOKE, data: { did: revoked }, meta: undefined, expectedVersion: undefined }])
    return event as StoredEvent<RevokeData>
  }

  /**
   * Whether `did` may write `stream` as the log stands now (its heads' past); without a stream,
   * whether the rules know `did` at all (an admin, or any grant in force). Always true on a
   * store without access rules.
   *
   * @example
   * if (!store.can(peer.did, 'todo/1')) console.log('read-only peer')
   */
  can(did: string, stream?: string): boolean {
    this.#log.check()
    expectString('did', did)
    if (stream !== undefined) expectString('stream', stream)
    return this.#log.admission.can(did, stream)
  }

  /**
   * Number of events in `stream` in this replica's view (0 for an unknown stream).
   *
   * @example
   * await store.append({ stream: 'cart-7', type: 'item.added' }, { expectedVersion: store.version('cart-7') })
   */
  version(stream: string): number {
    this.#log.check()
    return this.#log.views.streamLength(expectString('stream', stream))
  }

  /**
   * Events of one stream in canonical order (newest first with `reverse`), between
   * `fromVersion` and `toVersion` (1-based, inclusive), at most `limit`. With `asOf`, the stream
   * as it was: at a time (events with `ts <= asOf`) or at an event CID (the stream's events that
   * are ancestors-or-self of it, versions renumbered within that past). Lazy: positioning is a
   * binary search and `limit: 10` visits about 10 events. A read sees the stream as it was when
   * iteration began, with the versions of that moment.
   *
   * @example
   * for await (const e of store.read('cart-7', { asOf: checkout.cid })) console.log(e.version, e.type)
   */
  async *read<D = unknown>(stream: string, options: ReadOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#log.check()
    expectString('stream', stream)
    expectObject('options', options, READ_KEYS)
    const from = Math.max(1, options.fromVersion === undefined ? 1 : expectNonNegativeInteger('fromVersion', options.fromVersion))
    const to = options.toVersion === undefined ? Infinity : expectNonNegativeInteger('toVersion', options.toVersion)
    const limit = options.limit === undefined ? Infinity : expectNonNegativeInteger('limit', options.limit)
    const reverse = expectOptionalBoolean('reverse', options.reverse)
    const asOf = options.asOf === undefined ? undefined : expectAsOf('asOf', options.asOf)
    const views = this.#log.views
    if (asOf !== undefined && typeof asOf !== 'number') {
      // At an event: the stream's part of its causal past, renumbered.
      const past = streamAsOfEvent(views, stream, this.#seqOrThrow(asOf))
      const last = Math.min(to, past.length)
      const picked: number[] = []
      for (let v = reverse ? last : from; (reverse ? v >= from : v <= last) && picked.length < limit; v += reverse ? -1 : 1) picked.push(past[v - 1]!)
      let v = reverse ? last : from
      for await (const loaded of this.#load(picked)) {
        yield toStoredEvent<D>(loaded, v)
        v += reverse ? -1 : 1
      }
      return
    }
    const list = views.stream(stream)
    if (list === undefined || from > list.length || to === 0) return
    let version: number | undefined
    for await (const loaded of this.#load(
      scan(views, {
        lists: [list],
        maxTs: asOf === undefined ? undefined : Math.floor(asOf),
        lower: from > 1 ? { key: views.key(list.at(from - 1)), inclusive: true } : undefined,
        upper: to < list.length ? { key: views.key(list.at(to - 1)), inclusive: true } : undefined,
        reverse,
        limit,
      }),
      (seq) => {
        version ??= views.version(seq)
      },
    )) {
      // Versions as of the start: consecutive from the first one yielded, whatever lands meanwhile.
      yield toStoredEvent<D>(loaded, version!)
      version! += reverse ? -1 : 1
    }
  }

  /** The events of a lazy scan, read in overlapping batches (see EventReader.stream). */
  #load(seqs: Iterable<number>, onFirst?: (seq: number) => void): AsyncGenerator<LoadedEvent> {
    return this.#log.events.stream(seqs, () => this.#log.check(), onFirst)
  }

  /**
   * Events across streams in canonical order (newest first with `reverse`): of one `type`,
   * `stream` or `streamPrefix`, stamped in [`since`, `until`) — times in ms or Dates, `since`
   * inclusive, `until` exclusive — strictly after the cursor `after` (an event CID; strictly
   * before it with `reverse`), at most `limit`. System streams (`$objects`) are left out unless
   * the filter names them. Walks the type's own list when `type` is given; with `streamPrefix`,
   * merges the streams under it when they hold fewer events than the alternative, else filters.
   * Lazy: `limit: 10` visits about 10 events when most match. Sees the log as it was when
   * iteration began; `version` is the event's version when it is yielded.
   *
   * @example
   * const page = await collect(store.query({ type: 'order.placed', limit: 50 }))
   * const next = await collect(store.query({ type: 'order.placed', limit: 50, after: page.at(-1)!.cid }))
   */
  async *query<D = unknown>(query: QueryOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#log.check()
    expectObject('query', query, QUERY_KEYS)
    const filter = expectFilter(query, '')
    const since = query.since === undefined ? undefined : Math.ceil(expectTime('since', query.since))
    const until = query.until === undefined ? undefined : Math.ceil(expectTime('until', query.until))
    const limit = query.limit === undefined ? Infinity : expectNonNegativeInteger('limit', query.limit)
    const reverse = expectOptionalBoolean('reverse', query.reverse)
    const after = query.after === undefined ? undefined : this.#keyOrThrow(expectCid('after', query.after))
    const views = this.#log.views
    const seqs = scan(views, {
      lists: listsFor(views, filter),
      filter: (s) => matchesFilter(views, s, filter),
      minTs: since,
      maxTs: until === undefined ? undefined : until - 1,
      ...cursorBounds(after, reverse),
      reverse,
      limit,
    })
    yield* this.#stored<D>(seqs)
  }

  /** Events of a scan as the public shape, each with its version when yielded. */
  async *#stored<D>(seqs: Iterable<number>): AsyncGenerator<StoredEvent<D>> {
    for await (const loaded of this.#load(seqs)) yield toStoredEvent<D>(loaded, this.#log.views.version(loaded.seq))
  }

  /**
   * Events whose `meta.causation` is this CID (as a string), or this string, in canonical order.
   *
   * @example
   * for await (const e of store.causedBy(command.cid, { limit: 10 })) console.log(e.type)
   */
  async *causedBy<D = unknown>(cause: CID | string, options: PageOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#log.check()
    const key = typeof cause === 'string' ? expectString('cause', cause) : expectCid('cause', cause).toString()
    yield* this.#page<D>(this.#log.views.causedBy(key), options)
  }

  /**
   * Events whose `meta.correlation` is `id`, in canonical order.
   *
   * @example
   * for await (const e of store.correlated('checkout-42')) console.log(e.stream, e.type)
   */
  async *correlated<D = unknown>(id: string, options: PageOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#log.check()
    yield* this.#page<D>(this.#log.views.correlated(expectString('id', id)), options)
  }

  async *#page<D>(list: SeqList | undefined, options: PageOptions): AsyncGenerator<StoredEvent<D>> {
    expectObject('options', options, PAGE_KEYS)
    const limit = options.limit === undefined ? Infinity : expectNonNegativeInteger('limit', options.limit)
    const reverse = expectOptionalBoolean('reverse', options.reverse)
    const after = options.after === undefined ? undefined : this.#keyOrThrow(expectCid('after', options.after))
    if (list === undefined) return
    yield* this.#stored<D>(scan(this.#log.views, { lists: [list], ...cursorBounds(after, reverse), reverse, limit }))
  }

  /**
   * Counts over the whole log (see `StoreStats`): events, streams, types, objects, and the
   * bytes of event blocks plus recorded object sizes. Read from the views, not from storage.
   *
   * @example
   * const { events, streams, objects, bytes } = await store.stats()
   */
  async stats(): Promise<StoreStats> {
    this.#log.check()
    const v = this.#log.views
    return { events: v.size, streams: v.streamCount, types: v.typeCount, objects: v.objectCount, bytes: v.bytes() }
  }

  /**
   * One value for the whole log's state: a CIDv1 (raw codec, sha2-256) of the concatenated
   * bytes of every event's CID in canonical order. Replicas with the same heads hold the same
   * events, hence the same order and the same hash. Incremental: appends hash only what is new;
   * an import rehashes from the last checkpoint (every 4096 events) before its first insert.
   *
   * @example
   * if ((await a.stateHash()).equals(await b.stateHash())) console.log('the replicas hold the same events')
   */
  async stateHash(): Promise<CID> {
    this.#log.check()
    return this.#log.views.stateHash()
  }

  /**
   * One event by CID. Throws CAIRN_NOT_FOUND when the log holds no such event.
   *
   * @example
   * const cause = await store.getEvent(CID.parse(event.meta!.causation!))
   */
  async getEvent<D = unknown>(cid: CID): Promise<StoredEvent<D>> {
    this.#log.check()
    const seq = this.#seqOrThrow(expectCid('cid', cid))
    return toStoredEvent<D>(await this.#log.events.load(seq), this.#log.views.version(seq))
  }

  /**
   * Folds a stream's events, in canonical order, into a state; with `asOf` (a time or an event
   * CID), the stream as it was then (see `read`).
   *
   * @example
   * const total = await store.reduce('cart-7', (sum, e) => sum + (e.data as { price: number }).price, 0, { asOf: new Date('2024-05-01') })
   */
  async reduce<S, D = unknown>(stream: string, reducer: Reducer<S, D>, initial: S, options: ReduceOptions = {}): Promise<S> {
    this.#log.check()
    expectFunction('reducer', reducer)
    expectObject('options', options, REDUCE_KEYS)
    let state = initial
    for await (const e of this.read<D>(stream, options.asOf === undefined ? {} : { asOf: options.asOf })) state = reducer(state, e)
    return state
  }

  /**
   * Replays one stream's chain ending at `from`: walks `prev` links back from that event,
   * reading every block from storage and verifying it (bytes against the CID, event format),
   * then yields the events oldest first, those passing `filter`: a predicate, or a
   * `ReplayFilter` (`EventFilter`'s `stream`, `type`, `streamPrefix`, with `type` also a list);
   * a key it does not have is a TypeError. The chain is the branch the writer of `from` saw;
   * `version` is each event's current version in its stream.
   *
   * @example
   * for await (const e of store.replay(head.cid, { filter: { type: ['item.added', 'item.removed'] } })) console.log(e.version, e.type)
   */
  async *replay<D = unknown>(from: CID, options: ReplayOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#log.check()
    expectCid('from', from)
    expectObject('options', options, REPLAY_KEYS)
    const filter: unknown = options.filter
    const keep = filter === undefined ? () => true : typeof filter === 'function' ? (filter as (e: StoredEvent) => boolean) : (await onDemand()).replayFilter(filter)
    this.#seqOrThrow(from)
    const chain: { cid: CID; event: EventBlock }[] = []
    for (let cid: CID | null = from; cid !== null; ) {
      this.#log.check()
      const bytes = await this.#log.storage.get(cid)
      if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `event ${cid} is referenced by the log but missing from storage`, { cid })
      const event = await decodeEvent(cid, bytes)
      chain.push({ cid, event })
      cid = event.prev
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const { cid, event } = chain[i]!
      const seq = this.#log.views.seqOf(cid)
      const stored = toStoredEvent<D>({ cid, event }, seq < 0 ? 0 : this.#log.views.version(seq))
      if (keep(stored)) yield stored
    }
  }

  /**
   * Calls `listener` for every new event matching `filter`: local appends and imported events
   * alike, each once, each commit's events in canonical order (an import may bring events
   * older than ones already delivered). `$objects` events only when the filter names that
   * stream. Listeners run synchronously once a commit's views are updated; what they throw goes
   * to `options.onError`, or is rethrown in a microtask — never into the store or the write.
   * Returns the function that unsubscribes.
   *
   * @example
   * const unsubscribe = store.subscribe({ type: 'message.sent' }, (e) => console.log(e.data), { onError: console.error })
   * unsubscribe()
   */
  subscribe(filter: EventFilter, listener: ChangeListener, options: SubscribeOptions = {}): () => void {
    this.#log.check()
    const f = expectFilter(expectObject('filter', filter, FILTER_KEYS), 'filter.')
    expectFunction('listener', listener)
    expectObject('options', options, SUBSCRIBE_KEYS)
    if (options.onError !== undefined) expectFunction('onError', options.onError)
    return this.#log.hub.subscribe(f, listener, options.onError)
  }

  /**
   * The events after `after` (an event CID; default: from the first) that match `filter`, in
   * canonical order as the log stands when iteration begins; then waits for new ones and yields
   * each once as it lands (appends and imports; each commit's in canonical order, so an import
   * may bring events older than ones already yielded). Ends when the store closes, `signal`
   * aborts, or the consumer breaks. Events not yet consumed stay in the log, not in a buffer.
   *
   * @example
   * for await (const e of store.changes({ filter: { type: 'order.placed' } })) ship(e)
   */
  async *changes<D = unknown>(options: ChangesOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#log.check()
    expectObject('options', options, CHANGES_KEYS)
    const filter = options.filter === undefined ? {} : expectFilter(expectObject('filter', options.filter, FILTER_KEYS), 'filter.')
    const after = options.after === undefined ? undefined : this.#keyOrThrow(expectCid('after', options.after))
    const signal = expectOptionalSignal('signal', options.signal)
    yield* changesOf(this.#log.views, this.#log.events, this.#log.hub, filter, after, signal) as AsyncGenerator<StoredEvent<D>>
  }

  /**
   * Runs `body` with a transaction that gathers appends, puts and files, and commits them all
   * as one atomic batch when the body returns: one storage commit, all durable and visible at
   * once. Rules (`expectedVersion`, `meta.id`, what values link to) are checked at commit
   * against the log as it stands then. If the body throws, or a check fails, nothing is
   * committed and the error propagates (a file chunked meanwhile leaves only unreferenced
   * blocks). Reads inside the body see the log without the transaction's writes. Writes made
   * through the store itself (not `tx`) inside the body are not part of the transaction.
   *
   * @example
   * const { events } = await store.transaction(async (tx) => {
   *   const receipt = tx.put({ total: 42 }, { type: 'receipt' })
   *   tx.append({ stream: 'order-7', type: 'order.paid', data: { receipt } }, { expectedVersion: 2 })
   * })
   */
  async transaction<T>(body: (tx: Transaction) => Promise<T> | T): Promise<TransactionResult<T>> {
    this.#log.check()
    expectFunction('body', body)
    // Loaded on first use: an app that never runs a transaction does not ship the builder.
    const { TransactionBuilder } = await import('./transaction.ts')
    const builder = new TransactionBuilder(this.#log)
    let value: T
    try {
      value = await body(builder.api)
    } catch (err) {
      await builder.close().catch(() => {})
      builder.release()
      throw err
    }
    try {
      await builder.close()
    } catch (err) {
      builder.release()
      throw err
    }
    return { value, events: await builder.commit() }
  }

  /**
   * Stores an IPLD value as a dag-cbor block and records it in `$objects`. The same value
   * gives the same CID; putting it again (with the same type) writes nothing.
   *
   * @example
   * const cid = await store.put({ title: 'Notes', cover: fileCid }, { type: 'doc' })
   */
  async put(value: unknown, options: PutOptions = {}): Promise<CID> {
    this.#log.check()
    expectObject('options', options, PUT_KEYS)
    const type = options.type === undefined ? 'object' : expectStoredString('type', options.type)
    const block = encodeValue(value, 'value')
    await this.#log.putObject(block, type, value)
    return block.cid
  }

  /**
   * Reads a value back, verifying its bytes against the CID. Raw blocks come back as bytes.
   *
   * @example
   * const doc = await store.get<{ title: string }>(cid)
   */
  async get<T = unknown>(cid: CID): Promise<T> {
    this.#log.check()
    expectCid('cid', cid)
    const bytes = await this.#log.storage.get(cid)
    if (bytes === undefined) throw new CairnError('CAIRN_NOT_FOUND', `no block ${cid} in this store`, { cid })
    return (await decodeBlock<T>(cid, bytes)).value
  }

  /**
   * Stores bytes or a byte stream as a UnixFS file (CIDv1, raw leaves, 256 KiB chunks) and
   * records it in `$objects`. Memory stays flat whatever the file's size.
   *
   * `onProgress` gets `{ operation: 'putFile', blocks, bytes, totalBytes }`: blocks made, file
   * bytes read from `source` (`totalBytes` when `source` is a Uint8Array), at most every 1 MiB or
   * 1,000 blocks, then once just before the file is recorded. An abort (or a throw from
   * `onProgress`) before then rejects with `signal.reason` and records nothing: no `object.put`
   * event; the blocks chunked so far are unreferenced, and `compact` reclaims them.
   *
   * @example
   * const controller = new AbortController()
   * const cid = await store.putFile(file.stream(), {
   *   type: 'photo',
   *   signal: controller.signal,
   *   onProgress: ({ bytes }) => console.log(`${bytes} of ${file.size} bytes`),
   * })
   */
  async putFile(source: FileSource, options: PutFileOptions = {}): Promise<CID> {
    this.#log.check()
    expectObject('options', options, PUT_FILE_KEYS)
    const type = options.type === undefined ? 'file' : expectStoredString('type', options.type)
    const progress = progressPlan('putFile', options, source instanceof Uint8Array ? source.length : undefined)
    return this.#log.putFile(expectByteSource('source', source), type, progress)
  }

  /**
   * Streams a file's bytes, verifying every block before any of its bytes leave. Chunks may
   * share memory with the store's blocks (a repeated block may come as the same array): read
   * them, copy them if you need to change them, and do not transfer their buffers.
   *
   * @example
   * for await (const chunk of store.cat(photoCid)) res.write(chunk)   // res: a node:http ServerResponse
   */
  async *cat(cid: CID): AsyncGenerator<Uint8Array> {
    this.#log.check()
    const checked = expectCid('cid', cid)
    // Loaded on first use, with the UnixFS exporter it loads in turn.
    const { catFile } = await import('../objects/unixfs.ts')
    yield* catFile(this.#log.storage, checked)
  }

  /**
   * Objects recorded in `$objects`, optionally of one type, in the order they were first put.
   *
   * @example
   * for await (const { cid, size } of store.objects({ type: 'photo' })) console.log(cid.toString(), size)
   */
  async *objects(query: ObjectsQuery = {}): AsyncGenerator<ObjectInfo> {
    this.#log.check()
    expectObject('query', query, OBJECTS_KEYS)
    const type = query.type === undefined ? undefined : expectString('type', query.type)
    yield* this.#log.views.objects(type)
  }

  /**
   * The objects and events whose values link to `cid`.
   *
   * @example
   * for await (const { kind, cid } of store.referrers(photoCid)) console.log(kind, cid.toString())   // 'object' or 'event'
   */
  async *referrers(cid: CID): AsyncGenerator<Referrer> {
    this.#log.check()
    yield* this.#log.views.referrers(expectCid('cid', cid))
  }

  /**
   * Streams a CARv1 whose roots are the current heads. Without `since`, it holds every block
   * reachable from the heads; with `since` (heads the receiver holds), exactly the blocks
   * reachable from our heads and not from those. With `roots` instead, it holds just the DAGs
   * under those CIDs — an object with everything it links to, a file's UnixFS blocks — rooted
   * at them, with no events (see `ExportOptions.roots`): `ipfs-car unpack` takes it without
   * `--root`, and `import` into another store keeps it as objects of its `foreignType`.
   * Pull-based: memory stays flat. Chunks are 64 KiB, except that most of a large block comes
   * as a view of its bytes: read them, copy them if you need to change them, and do not
   * transfer their buffers.
   *
   * `onProgress` gets `{ operation: 'export', blocks, bytes }` (blocks and CAR bytes handed out
   * so far) at most every 1 MiB or 1,000 blocks, then once after the last chunk. An abort (or a
   * throw from `onProgress`) ends the iterator: the consumer's next `next()` rejects with
   * `signal.reason`. Argument mistakes throw here; a missing root rejects the first `next()`.
   *
   * @example
   * for await (const chunk of store.export({ since: peerHeads })) socket.write(chunk)
   * // one file, as a CAR rooted at it:
   * const car = await bytesOf(store.export({ roots: [fileCid], onProgress: (p) => console.log(p.bytes) }))
   */
  export(options: ExportOptions = {}): AsyncIterable<Uint8Array> {
    this.#log.check()
    const { since, roots, progress } = normalizeExportOptions(options)
    const plan = progressPlan('export', progress)
    return roots === undefined ? this.#log.export(since, plan) : this.#log.exportDag(roots, plan)
  }

  /**
   * Imports a CAR: checks every block against its CID, every new event's format, parents,
   * predecessor and clock, and the completeness of every object and file, then commits all of
   * it with the new heads in one storage commit. On any failure it throws a typed error
   * naming the CID and the store is unchanged. A CAR without Cairn events (a file packed by
   * other tools, a foreign repo, one object's DAG from `export({ roots })`) is kept as objects
   * of type `foreignType` under its roots, each with an `object.put` event of this store's.
   *
   * `onProgress` gets `{ operation: 'import', blocks, bytes, totalBytes }`: CAR blocks and
   * bytes read so far (`totalBytes` when `source` is a Uint8Array; `importFromBlob` and
   * `importFromFile` add the Blob's or file's size), at most every 1 MiB or 1,000 blocks, then
   * once when the CAR is read and checked, just before the commit. An abort, or a throw from
   * `onProgress`, up to then rejects with `signal.reason` (or what it threw) and changes
   * nothing: heads, stats, `stateHash`, queries are as before; file blocks already staged to
   * storage are unreferenced, and `compact` reclaims them. Past the final report the import
   * commits.
   *
   * @example
   * const controller = new AbortController()
   * setTimeout(() => controller.abort(), 30_000)
   * const report = await store.import(response.body!, {
   *   signal: controller.signal,
   *   onProgress: ({ blocks, bytes }) => console.log(`${blocks} blocks, ${bytes} bytes`),
   * })
   */
  async import(source: ByteSource, options: ImportOptions = {}): Promise<ImportReport> {
    this.#log.check()
    expectObject('options', options)
    expectByteSource('source', source)
    const rules = (await onDemand()).normalizeImportOptions(options)
    const progress = progressPlan('import', options, source instanceof Uint8Array ? source.length : undefined)
    return this.#log.import(source, rules, progress)
  }

  /**
   * Our heads plus ancestors at exponentially growing distances: what a peer that has never
   * seen our heads needs in order to find the newest point we share.
   *
   * @example
   * const hints = store.syncHints()   // the heads first, then older events further and further back
   */
  syncHints(): CID[] {
    this.#log.check()
    return this.#log.hints()
  }

  /**
   * Asks the browser to keep this store's storage when space runs low (IndexedDB:
   * `navigator.storage.persist()`; some browsers also grant more quota). Resolves to whether
   * the storage is persistent now; false on engines without the notion (files and memory
   * engines are as persistent as their disk, or not at all).
   *
   * @example
   * if (!(await store.persist())) console.warn('the browser may evict this store when space runs low')
   */
  async persist(): Promise<boolean> {
    this.#log.check()
    return (await this.#log.storage.persist?.()) ?? false
  }

  /**
   * Whether the browser has granted persistent storage to this store (see `persist`).
   *
   * @example
   * keepButton.hidden = await store.persisted()
   */
  async persisted(): Promise<boolean> {
    this.#log.check()
    return (await this.#log.storage.persisted?.()) ?? false
  }

  /**
   * Reclaims the space of blocks no head reaches — left by a refused or interrupted import, an
   * interrupted `putFile`, a failed transaction — and never touches a block the log reaches:
   * events, the DAGs of recorded objects and files, blocks linked from events, files still being
   * put. Crash-safe on every engine: a crash at any point leaves every reachable block readable.
   * The files engine rewrites segments in which at least `minDeadRatio` (default 0.5) of the
   * bytes are dead; the other engines delete every dead block.
   *
   * @example
   * const { blocksRemoved, bytesReclaimed } = await store.compact()
   */
  async compact(options: CompactOptions = {}): Promise<CompactReport> {
    this.#log.check()
    expectObject('options', options, COMPACT_KEYS)
    return this.#log.compact(options)
  }

  /**
   * Walks every block reachable from the heads and re-hashes it. Throws CAIRN_CORRUPT on a
   * missing link. `onProgress` gets `{ operation: 'verify', blocks, bytes }` (blocks re-hashed
   * and their bytes) at most every 1 MiB or 1,000 blocks, then once when done, with the
   * report's totals; an abort (or a throw from `onProgress`) rejects with `signal.reason`.
   *
   * @example
   * const { blocks, dangling } = await store.verify({ onProgress: (p) => console.log(`${p.blocks} blocks checked`) })
   */
  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    this.#log.check()
    expectObject('options', options, PROGRESS_KEYS)
    return this.#log.verify(progressPlan('verify', options))
  }

  /**
   * Registers a projection: per-stream state folded from the events matching `filter`, kept
   * current on every append and import (an import that lands events mid-history recomputes
   * the affected keys from the snapshot before the first change), with snapshots persisted
   * beside the blocks. Resolves once the projection has caught up with the log. `name` is 1 to
   * 62 characters, each a-z, 0-9, `.`, `_` or `-` (its snapshot is saved as `p.<name>`), else a
   * RangeError.
   *
   * @example
   * const carts = await store.project('carts', { filter: { streamPrefix: 'cart-' }, initial: 0, reducer: (n, e) => n + 1 })
   * await carts.get('cart-7')
   */
  async project<S, D = unknown>(name: string, spec: ProjectionSpec<S, D>): Promise<Projection<S>> {
    this.#log.check()
    expectString('name', name)
    // Its snapshot is the derived value `p.<name>`, whose name DERIVED_NAME bounds: 1 to 62 characters here.
    if (!DERIVED_NAME.test(`p.${name}`)) throw new RangeError(`"name" expected 1 to 62 characters of a-z 0-9 . _ -, got ${JSON.stringify(name.slice(0, 80))}`)
    // Loaded on first use, with the projection machinery: an app that never projects does not ship it.
    const hosting = await import('./projection-host.ts')
    if (this.#closing !== undefined) throw new CairnError('CAIRN_CLOSED', 'the store is closing')
    if (this.#projectionNames.has(name)) throw new CairnError('CAIRN_DUPLICATE_ID', `a projection named "${name}" is already open in this store; close it first`)
    this.#projectionNames.add(name)
    const host = hosting.projectionHost(name, {
      log: this.#log,
      names: this.#projectionNames,
      closeTasks: this.#closeTasks,
      derived: this.#derived,
      read: (stream, options) => this.read(stream, options),
      query: (query) => this.query(query),
      stored: (seqs) => this.#stored(seqs),
    })
    try {
      return await hosting.openProjection(host, name, spec)
    } catch (err) {
      host.release()
      throw err
    }
  }

  /**
   * Waits for writes in flight, then closes the storage. Later calls throw CAIRN_CLOSED.
   *
   * @example
   * await store.close()
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    // Projections first: they persist what they folded (a commit landing later is caught up on open).
    for (const task of [...this.#closeTasks]) await task()
    await this.#log.close()
  }

  #seqOrThrow(cid: CID): number {
    const seq = this.#log.views.seqOf(cid)
    if (seq < 0) throw new CairnError('CAIRN_NOT_FOUND', `no event ${cid} in this store`, { cid })
    return seq
  }

  #keyOrThrow(cid: CID): OrderKey {
    return this.#log.views.key(this.#seqOrThrow(cid))
  }
}

/** The store's argument checks that only cold paths need (on-demand.ts), loaded on first use. */
function onDemand(): Promise<typeof import('./on-demand.ts')> {
  return import('./on-demand.ts')
}
