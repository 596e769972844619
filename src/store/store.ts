import { CID } from 'multiformats/cid'
import { decodeBlock, encodeValue, equalBytes, linksInValue } from '../block/codec.ts'
import type { BlockRecord } from '../block/interface.ts'
import { assertIpld } from '../block/validate.ts'
import { expectAsOf, expectCid, expectCids, expectFunction, expectNonNegativeInteger, expectObject, expectOptionalBoolean, expectString, expectTime } from '../errors/arguments.ts'
import { expectFilter } from '../log/event/filter.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { ChangeHub, changesOf } from '../log/changes.ts'
import { EventReader, toStoredEvent, type LoadedEvent } from '../log/views/event-reader.ts'
import { listsFor, matchesFilter, scan, streamAsOfEvent } from '../log/views/query.ts'
import { indexEvent, openViews } from '../log/views/open.ts'
import type { SeqList } from '../log/views/seq-list.ts'
import { encodeSnapshot, INDEX_SNAPSHOT } from '../log/views/snapshot.ts'
import type { LogViews, OrderKey } from '../log/views/views.ts'
import { nextStamp } from '../log/rules/stamp.ts'
import { checkInputMeta, decodeEvent, encodeEvent } from '../log/event/format.ts'
import type { AppendInput, AppendOptions, BatchAppendInput, EventBlock, EventFilter, EventMeta, PageOptions, QueryOptions, ReadOptions, ReplayOptions, Stamp, StoredEvent } from '../log/event/interface.ts'
import { sortCids } from '../log/event/order.ts'
import { catFile, importFile, type FileSource } from '../objects/unixfs.ts'
import { type ObjectInfo, type ObjectsQuery, type PutFileOptions, type PutOptions, type Referrer } from '../objects/interface.ts'
import { OBJECTS_STREAM, OBJECT_PUT, type ObjectPutData } from '../log/event/object-record.ts'
import type { StorageEngine } from '../storage/interface.ts'
import type { ChangeListener, ChangesOptions, IndexStatus, Reducer, ReduceOptions, StoreOptions, StoreStats, SubscribeOptions, VerifyReport } from './interface.ts'
import { Mutex } from '../log/mutex.ts'
import { assertCompleteDag } from '../objects/complete.ts'
import type { ByteSource, ExportOptions, ImportOptions, ImportReport } from '../car/interface.ts'
import { writeCar } from '../car/writer.ts'
import { chunksOf, expectByteSource } from '../car/source.ts'
import { diffBlocks, newEvents } from '../log/export.ts'
import { planImport, readVerifiedCar, type ImportPlan } from '../log/plan-import.ts'
import { syncHints } from '../log/hints.ts'
import { verifyReachable } from '../log/verify.ts'
import { openProjection } from '../projections/projection.ts'
import type { Projection, ProjectionHost, ProjectionSpec } from '../projections/interface.ts'
import { DERIVED_NAME } from '../storage/interface.ts'

/** Events after the last index snapshot that trigger a new one (with a sixteenth of the log). */
const SNAPSHOT_MIN = 16384
/** Events indexed on open that are kept decoded in the event cache. */
const DEFAULT_WARM = 1024

/** An append after its input was checked, before it is stamped. */
interface Draft {
  stream: string
  type: string
  data: unknown
  meta: EventMeta | undefined
  expectedVersion: number | undefined
  /** Set for object puts: the value, so the referrer index needs no read-back. */
  object?: { value: unknown }
}

/**
 * A Cairn store: an event log and an object store over one storage engine.
 * Open one with `openStore`.
 *
 * @example
 * const store = await openStore({ memory: true })
 * await store.append({ stream: 'user-1', type: 'user.created', data: { name: 'Ada' } })
 */
export class CairnStore {
  readonly #storage: StorageEngine
  readonly #views: LogViews
  readonly #events: EventReader
  /** Events the last index snapshot written (or loaded) covers. */
  #snapshotSize: number
  /** The snapshot write in flight, if any. */
  #snapshotWrite: Promise<void> | undefined
  readonly #opened: { fromSnapshot: boolean; indexedOnOpen: number }
  /** Committed events whose object/referrer indexing is still to do (a block read failed). */
  readonly #unindexed: { cid: CID; event: EventBlock; value: { value: unknown } | undefined; verified?: ReadonlyMap<string, BlockRecord> | undefined }[] = []
  readonly #clock: () => number
  readonly #writes = new Mutex()
  readonly #hub = new ChangeHub()
  readonly #closeTasks = new Set<() => Promise<void>>()
  #heads: CID[]
  #closed = false
  #closing: Promise<void> | undefined
  /** Names of the open projections: one projection per name and store. */
  readonly #projectionNames = new Set<string>()
  /** Derived values of projections when the engine keeps none (they then last as long as the store). */
  readonly #derived = new Map<string, Uint8Array>()

  private constructor(storage: StorageEngine, views: LogViews, heads: CID[], options: StoreOptions, opened: { fromSnapshot: boolean; indexedOnOpen: number }) {
    this.#storage = storage
    this.#views = views
    this.#events = new EventReader(storage, views)
    this.#snapshotSize = opened.fromSnapshot ? views.size - opened.indexedOnOpen : 0
    this.#opened = opened
    this.#heads = heads
    this.#clock = options.clock ?? Date.now
  }

  /**
   * Opens a store on a storage engine: loads the persisted index snapshot and indexes only
   * the events committed after it (or, without a usable snapshot or with `rebuildIndex`,
   * rebuilds the indexes from the blocks and writes a fresh snapshot).
   */
  static async open(storage: StorageEngine, options: StoreOptions = {}): Promise<CairnStore> {
    try {
      if (options.clock !== undefined) expectFunction('clock', options.clock)
      const rebuild = expectOptionalBoolean('rebuildIndex', options.rebuildIndex)
      const heads = sortCids(await storage.heads())
      const opened = await openViews(storage, heads, rebuild)
      const store = new CairnStore(storage, opened.views, heads, options, { fromSnapshot: opened.fromSnapshot, indexedOnOpen: opened.indexed })
      for (const e of opened.fresh.slice(-DEFAULT_WARM)) store.#events.remember(e)
      // Persist what this open had to index, so the next one does not index it again.
      if (opened.indexed > 0) store.#maybeSnapshot(1, true)
      return store
    } catch (err) {
      await storage.close().catch(() => {})
      throw err
    }
  }

  /**
   * How open found the indexes: from a persisted snapshot (and how many newer events it
   * indexed from blocks), or rebuilt from the blocks. For diagnostics and tests.
   */
  indexStatus(): IndexStatus {
    return { ...this.#opened, snapshotEvents: this.#snapshotSize }
  }

  /** Name of the storage engine underneath ('memory', 'files', 'indexeddb', 'blockstore'). */
  get engine(): string {
    return this.#storage.kind
  }

  /** The log's heads, sorted by CID bytes: the events no other event names as a parent. */
  get heads(): CID[] {
    return [...this.#heads]
  }

  /** Number of events in `stream` in this replica's view (0 for an unknown stream). */
  version(stream: string): number {
    this.#check()
    return this.#views.streamLength(expectString('stream', stream))
  }

  /**
   * Appends one event. With `expectedVersion`, fails with CAIRN_VERSION_CONFLICT (and writes
   * nothing) unless the stream holds exactly that many events.
   *
   * @example
   * const ev = await store.append({ stream: 'cart-7', type: 'item.added', data: { sku: 'x' } }, { expectedVersion: 0 })
   */
  async append<D = unknown>(input: AppendInput<D>, options: AppendOptions = {}): Promise<StoredEvent<D>> {
    this.#check()
    expectObject('options', options)
    const draft = checkInput(input, 'input', options.expectedVersion)
    const [event] = await this.#commitDrafts([draft], [])
    return event as StoredEvent<D>
  }

  /**
   * Appends several events atomically: all are durable or none is. Each input may carry its
   * own `expectedVersion`, checked against the stream as it stands before that input.
   */
  async appendMany<D = unknown>(inputs: readonly BatchAppendInput<D>[]): Promise<StoredEvent<D>[]> {
    this.#check()
    if (!Array.isArray(inputs)) throw new TypeError('"inputs" expected an array of events')
    const drafts = inputs.map((input, i) => checkInput(input, `inputs[${i}]`, (input as BatchAppendInput | undefined)?.expectedVersion))
    if (drafts.length === 0) return []
    return await this.#commitDrafts(drafts, []) as StoredEvent<D>[]
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
    this.#check()
    expectString('stream', stream)
    expectObject('options', options)
    const from = Math.max(1, options.fromVersion === undefined ? 1 : expectNonNegativeInteger('fromVersion', options.fromVersion))
    const to = options.toVersion === undefined ? Infinity : expectNonNegativeInteger('toVersion', options.toVersion)
    const limit = options.limit === undefined ? Infinity : expectNonNegativeInteger('limit', options.limit)
    const reverse = expectOptionalBoolean('reverse', options.reverse)
    const asOf = options.asOf === undefined ? undefined : expectAsOf('asOf', options.asOf)
    const views = this.#views
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
    for await (const loaded of this.#load(scan(views, {
      lists: [list],
      maxTs: asOf === undefined ? undefined : Math.floor(asOf),
      lower: from > 1 ? { key: views.key(list.at(from - 1)), inclusive: true } : undefined,
      upper: to < list.length ? { key: views.key(list.at(to - 1)), inclusive: true } : undefined,
      reverse,
      limit,
    }), (seq) => { version ??= views.version(seq) })) {
      // Versions as of the start: consecutive from the first one yielded, whatever lands meanwhile.
      yield toStoredEvent<D>(loaded, version!)
      version! += reverse ? -1 : 1
    }
  }

  /** The events of a lazy scan, read in overlapping batches (see EventReader.stream). */
  #load(seqs: Iterable<number>, onFirst?: (seq: number) => void): AsyncGenerator<LoadedEvent> {
    return this.#events.stream(seqs, () => this.#check(), onFirst)
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
    this.#check()
    expectObject('query', query)
    const filter = expectFilter(query, '')
    const since = query.since === undefined ? undefined : Math.ceil(expectTime('since', query.since))
    const until = query.until === undefined ? undefined : Math.ceil(expectTime('until', query.until))
    const limit = query.limit === undefined ? Infinity : expectNonNegativeInteger('limit', query.limit)
    const reverse = expectOptionalBoolean('reverse', query.reverse)
    const after = query.after === undefined ? undefined : this.#keyOrThrow(expectCid('after', query.after))
    const views = this.#views
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
    for await (const loaded of this.#load(seqs)) yield toStoredEvent<D>(loaded, this.#views.version(loaded.seq))
  }

  /** Events whose `meta.causation` is this CID (as a string), or this string, in canonical order. */
  async *causedBy<D = unknown>(cause: CID | string, options: PageOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#check()
    const key = typeof cause === 'string' ? expectString('cause', cause) : expectCid('cause', cause).toString()
    yield* this.#page<D>(this.#views.causedBy(key), options)
  }

  /** Events whose `meta.correlation` is `id`, in canonical order. */
  async *correlated<D = unknown>(id: string, options: PageOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#check()
    yield* this.#page<D>(this.#views.correlated(expectString('id', id)), options)
  }

  async *#page<D>(list: SeqList | undefined, options: PageOptions): AsyncGenerator<StoredEvent<D>> {
    expectObject('options', options)
    const limit = options.limit === undefined ? Infinity : expectNonNegativeInteger('limit', options.limit)
    const reverse = expectOptionalBoolean('reverse', options.reverse)
    const after = options.after === undefined ? undefined : this.#keyOrThrow(expectCid('after', options.after))
    if (list === undefined) return
    yield* this.#stored<D>(scan(this.#views, { lists: [list], ...cursorBounds(after, reverse), reverse, limit }))
  }

  /**
   * Counts over the whole log (see `StoreStats`): events, streams, types, objects, and the
   * bytes of event blocks plus recorded object sizes. Read from the views, not from storage.
   */
  async stats(): Promise<StoreStats> {
    this.#check()
    const v = this.#views
    return { events: v.size, streams: v.streamCount, types: v.typeCount, objects: v.objectCount, bytes: v.bytes() }
  }

  /**
   * One value for the whole log's state: a CIDv1 (raw codec, sha2-256) of the concatenated
   * bytes of every event's CID in canonical order. Replicas with the same heads hold the same
   * events, hence the same order and the same hash. Incremental: appends hash only what is new;
   * an import rehashes from the last checkpoint (every 4096 events) before its first insert.
   */
  async stateHash(): Promise<CID> {
    this.#check()
    return this.#views.stateHash()
  }

  /** One event by CID. Throws CAIRN_NOT_FOUND when the log holds no such event. */
  async getEvent<D = unknown>(cid: CID): Promise<StoredEvent<D>> {
    this.#check()
    const seq = this.#seqOrThrow(expectCid('cid', cid))
    return toStoredEvent<D>(await this.#events.load(seq), this.#views.version(seq))
  }

  /**
   * Folds a stream's events, in canonical order, into a state; with `asOf` (a time or an event
   * CID), the stream as it was then (see `read`).
   *
   * @example
   * const total = await store.reduce('cart-7', (sum, e) => sum + (e.data as { price: number }).price, 0, { asOf: new Date('2024-05-01') })
   */
  async reduce<S, D = unknown>(stream: string, reducer: Reducer<S, D>, initial: S, options: ReduceOptions = {}): Promise<S> {
    this.#check()
    expectFunction('reducer', reducer)
    expectObject('options', options)
    let state = initial
    for await (const e of this.read<D>(stream, options.asOf === undefined ? {} : { asOf: options.asOf })) state = reducer(state, e)
    return state
  }

  /**
   * Replays one stream's chain ending at `from`: walks `prev` links back from that event,
   * reading every block from storage and verifying it (bytes against the CID, event format),
   * then yields the events oldest first, those passing `filter`. The chain is the branch the
   * writer of `from` saw; `version` is each event's current version in its stream.
   */
  async *replay<D = unknown>(from: CID, options: ReplayOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#check()
    expectCid('from', from)
    expectObject('options', options)
    const keep = replayFilter(options.filter)
    this.#seqOrThrow(from)
    const chain: { cid: CID; event: EventBlock }[] = []
    for (let cid: CID | null = from; cid !== null;) {
      this.#check()
      const bytes = await this.#storage.get(cid)
      if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `event ${cid} is referenced by the log but missing from storage`, { cid })
      const event = await decodeEvent(cid, bytes)
      chain.push({ cid, event })
      cid = event.prev
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const { cid, event } = chain[i]!
      const seq = this.#views.seqOf(cid)
      const stored = toStoredEvent<D>({ cid, event }, seq < 0 ? 0 : this.#views.version(seq))
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
   */
  subscribe(filter: EventFilter, listener: ChangeListener, options: SubscribeOptions = {}): () => void {
    this.#check()
    const f = expectFilter(expectObject('filter', filter), 'filter.')
    expectFunction('listener', listener)
    expectObject('options', options)
    if (options.onError !== undefined) expectFunction('onError', options.onError)
    return this.#hub.subscribe(f, listener, options.onError)
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
    this.#check()
    expectObject('options', options)
    const filter = options.filter === undefined ? {} : expectFilter(expectObject('filter', options.filter), 'filter.')
    const after = options.after === undefined ? undefined : this.#keyOrThrow(expectCid('after', options.after))
    const signal: unknown = options.signal
    if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof (signal as AbortSignal).addEventListener !== 'function' || typeof (signal as AbortSignal).aborted !== 'boolean')) {
      throw new TypeError('"signal" expected an AbortSignal')
    }
    yield* changesOf(this.#views, this.#events, this.#hub, filter, after, signal as AbortSignal | undefined) as AsyncGenerator<StoredEvent<D>>
  }

  /**
   * Stores an IPLD value as a dag-cbor block and records it in `$objects`. The same value
   * gives the same CID; putting it again (with the same type) writes nothing.
   *
   * @example
   * const cid = await store.put({ title: 'Notes', cover: fileCid }, { type: 'doc' })
   */
  async put(value: unknown, options: PutOptions = {}): Promise<CID> {
    this.#check()
    expectObject('options', options)
    const type = options.type === undefined ? 'object' : expectString('type', options.type)
    const block = encodeValue(value, 'value')
    await this.#writes.run(async () => {
      this.#check()
      if (this.#views.hasObject(block.cid, type)) return
      // An object's DAG must be complete: put what it links to first.
      const visited = new Set<string>()
      for (const link of linksInValue(value)) {
        await assertCompleteDag(link, this.#views, { storage: this.#storage }, visited, `linked from the value ${block.cid}`, async () => {})
      }
      await this.#commitLocked([objectDraft(block.cid, type, block.bytes.length, { value })], [block])
    })
    return block.cid
  }

  /** Reads a value back, verifying its bytes against the CID. Raw blocks come back as bytes. */
  async get<T = unknown>(cid: CID): Promise<T> {
    this.#check()
    expectCid('cid', cid)
    const bytes = await this.#storage.get(cid)
    if (bytes === undefined) throw new CairnError('CAIRN_NOT_FOUND', `no block ${cid} in this store`, { cid })
    return (await decodeBlock<T>(cid, bytes)).value
  }

  /**
   * Stores bytes or a byte stream as a UnixFS file (CIDv1, raw leaves, 256 KiB chunks) and
   * records it in `$objects`. Memory stays flat whatever the file's size.
   */
  async putFile(source: FileSource, options: PutFileOptions = {}): Promise<CID> {
    this.#check()
    expectObject('options', options)
    const type = options.type === undefined ? 'file' : expectString('type', options.type)
    const chunks = chunksOf(expectByteSource('source', source))
    const file = await importFile(chunks, (blocks) =>
      this.#writes.run(async () => {
        this.#check()
        await this.#storage.commit({ blocks, heads: this.#heads })
      }))
    await this.#writes.run(async () => {
      this.#check()
      if (this.#views.hasObject(file.cid, type)) {
        if (file.rest.length > 0) await this.#storage.commit({ blocks: file.rest, heads: this.#heads })
        return
      }
      await this.#commitLocked([objectDraft(file.cid, type, file.size, undefined)], file.rest)
    })
    return file.cid
  }

  /** Streams a file's bytes, verifying every block read. */
  async *cat(cid: CID): AsyncGenerator<Uint8Array> {
    this.#check()
    yield* catFile(this.#storage, expectCid('cid', cid))
  }

  /** Objects recorded in `$objects`, optionally of one type, in the order they were first put. */
  async *objects(query: ObjectsQuery = {}): AsyncGenerator<ObjectInfo> {
    this.#check()
    expectObject('query', query)
    const type = query.type === undefined ? undefined : expectString('type', query.type)
    yield* this.#views.objects(type)
  }

  /** The objects and events whose values link to `cid`. */
  async *referrers(cid: CID): AsyncGenerator<Referrer> {
    this.#check()
    yield* this.#views.referrers(expectCid('cid', cid))
  }

  /**
   * Streams a CARv1 whose roots are the current heads. Without `since`, it holds every block
   * reachable from the heads; with `since` (heads the receiver holds), exactly the blocks
   * reachable from our heads and not from those. Pull-based: memory stays flat.
   *
   * @example
   * for await (const chunk of store.export({ since: peerHeads })) socket.write(chunk)
   */
  export(options: ExportOptions = {}): AsyncIterable<Uint8Array> {
    this.#check()
    expectObject('options', options)
    const since = options.since === undefined ? [] : expectCids('since', options.since)
    const heads = this.heads
    const unindexed = (cid: CID): boolean => this.#unindexed.some((u) => u.cid.equals(cid))
    return writeCar(heads, diffBlocks(this.#views, this.#storage, heads, since, this.#views.size, unindexed))
  }

  /**
   * Imports a CAR: checks every block against its CID, every new event's format, parents,
   * predecessor and clock, and the completeness of every object and file, then commits all of
   * it with the new heads in one storage commit. On any failure it throws a typed error
   * naming the CID and the store is unchanged. A CAR without Cairn events (a file packed by
   * other tools, a foreign repo) is kept as objects of type `foreignType` under its roots.
   */
  async import(source: ByteSource, options: ImportOptions = {}): Promise<ImportReport> {
    this.#check()
    expectObject('options', options)
    expectByteSource('source', source)
    const maxBlockBytes = options.maxBlockBytes === undefined ? 4 * 1024 * 1024 : expectNonNegativeInteger('maxBlockBytes', options.maxBlockBytes)
    const maxBytes = options.maxBytes === undefined ? 1024 * 1024 * 1024 : expectNonNegativeInteger('maxBytes', options.maxBytes)
    const maxClockDrift = options.maxClockDrift === undefined ? 24 * 60 * 60 * 1000 : expectNonNegativeInteger('maxClockDrift', options.maxClockDrift)
    const foreignType = options.foreignType === undefined ? 'car' : expectString('foreignType', options.foreignType)
    const car = await readVerifiedCar(source, { maxBlockBytes, maxBytes })
    return this.#writes.run(async () => {
      this.#check()
      const plan = await planImport(car, this.#views, this.#storage, this.#heads, { now: this.#clock(), maxClockDrift, foreignType })
      const before = this.#views.size
      const noop = plan.events.length === 0 && plan.foreign.length === 0 && plan.blocks.length === 0
      if (!noop) {
        const drafts = plan.foreign.map((f) => objectDraft(f.cid, foreignType, f.size, undefined))
        await this.#commitLocked(drafts, plan.blocks, plan)
      }
      return {
        blocks: plan.blocks.length + plan.foreign.length,
        events: this.#views.size - before - plan.foreign.length,
        heads: this.heads,
        roots: car.roots,
        foreign: plan.foreign.map((f) => f.cid),
      }
    })
  }

  /**
   * Our heads plus ancestors at exponentially growing distances: what a peer that has never
   * seen our heads needs in order to find the newest point we share.
   */
  syncHints(): CID[] {
    this.#check()
    return syncHints(this.#views, this.#heads)
  }

  /** Walks every block reachable from the heads and re-hashes it. Throws CAIRN_CORRUPT on a missing link. */
  async verify(): Promise<VerifyReport> {
    this.#check()
    return verifyReachable(this.#storage, this.#heads)
  }

  /**
   * Registers a projection: per-stream state folded from the events matching `filter`, kept
   * current on every append and import (an import that lands events mid-history recomputes
   * the affected keys from the snapshot before the first change), with snapshots persisted
   * beside the blocks. Resolves once the projection has caught up with the log.
   *
   * @example
   * const carts = await store.project('carts', { filter: { streamPrefix: 'cart-' }, initial: 0, reducer: (n, e) => n + 1 })
   * await carts.get('cart-7')
   */
  async project<S, D = unknown>(name: string, spec: ProjectionSpec<S, D>): Promise<Projection<S>> {
    this.#check()
    if (this.#closing !== undefined) throw new CairnError('CAIRN_CLOSED', 'the store is closing')
    expectString('name', name)
    if (!DERIVED_NAME.test(`p.${name}`)) throw new RangeError(`"name" expected [a-z0-9._-], at most 60 characters, got ${JSON.stringify(name)}`)
    if (this.#projectionNames.has(name)) throw new CairnError('CAIRN_DUPLICATE_ID', `a projection named "${name}" is already open in this store; close it first`)
    this.#projectionNames.add(name)
    const host = this.#projectionHost(name)
    try {
      return await openProjection(host, name, spec)
    } catch (err) {
      host.release()
      throw err
    }
  }

  #projectionHost(name: string): ProjectionHost {
    const storage = this.#storage
    const derived = this.#derived
    let released = false
    return {
      release: () => {
        if (!released) this.#projectionNames.delete(name)
        released = true
      },
      heads: () => this.heads,
      has: (cid) => this.#views.has(cid),
      eventsSince: (since) => {
        const seqs = newEvents(this.#views, this.#heads, since).reverse()
        return this.#stored(seqs)
      },
      read: (stream, options) => this.read(stream, options),
      query: (query) => this.query(query),
      onCommit: (listener) => this.#hub.onCommit(listener),
      onClose: (task) => {
        this.#closeTasks.add(task)
        return () => { this.#closeTasks.delete(task) }
      },
      readDerived: async (name) => storage.readDerived === undefined ? derived.get(name) : storage.readDerived(name),
      writeDerived: async (name, bytes) => {
        if (storage.writeDerived === undefined) derived.set(name, bytes)
        else await storage.writeDerived(name, bytes)
      },
    }
  }

  /** Waits for writes in flight, then closes the storage. Later calls throw CAIRN_CLOSED. */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    // Projections first: they persist what they folded (a commit landing later is caught up on open).
    for (const task of [...this.#closeTasks]) await task()
    await this.#writes.run(async () => {
      await this.#indexQueued()
      await this.#snapshotWrite
      this.#maybeSnapshot(1, true)
      await this.#snapshotWrite
      this.#closed = true
      this.#hub.close()
      await this.#storage.close()
    })
  }

  #check(): void {
    if (this.#closed) throw new CairnError('CAIRN_CLOSED', 'the store is closed')
  }

  /**
   * Indexes queued events' objects, referrers and containment, oldest first. A failed read
   * leaves the rest queued for the next commit (or close) and holds back index snapshots, so
   * a reopen indexes those events from blocks again.
   */
  async #indexQueued(): Promise<void> {
    while (this.#unindexed.length > 0) {
      const { cid, event, value, verified } = this.#unindexed[0]!
      try {
        await indexEvent(this.#views, this.#storage, cid, event, value, verified)
      } catch {
        // Retried later from storage: do not keep an import's blocks alive meanwhile.
        for (const item of this.#unindexed) item.verified = undefined
        return
      }
      this.#unindexed.shift()
    }
  }

  #seqOrThrow(cid: CID): number {
    const seq = this.#views.seqOf(cid)
    if (seq < 0) throw new CairnError('CAIRN_NOT_FOUND', `no event ${cid} in this store`, { cid })
    return seq
  }

  #keyOrThrow(cid: CID): OrderKey {
    return this.#views.key(this.#seqOrThrow(cid))
  }

  /**
   * Writes a fresh index snapshot once at least `min` events arrived since the last one
   * (and, for big logs, a sixteenth of the log: snapshot writes stay O(1) per event), or
   * with `always` (on close) once anything arrived. The
   * columns are copied synchronously (inside the caller's consistent moment), then hashed
   * and written in the background; one write at a time. Errors only cost the next open time.
   */
  #maybeSnapshot(min: number, always = false): void {
    const views = this.#views
    const since = views.size - this.#snapshotSize
    if (this.#storage.writeDerived === undefined || this.#snapshotWrite !== undefined || this.#unindexed.length > 0) return
    if (always ? since === 0 : since < Math.max(min, this.#snapshotSize >> 4)) return
    const size = views.size
    const encoded = encodeSnapshot(views, this.#heads)
    const storage = this.#storage
    this.#snapshotWrite = (async () => {
      try {
        await storage.writeDerived!(INDEX_SNAPSHOT, await encoded)
        this.#snapshotSize = size
      } catch {
        // Derived data: a failed write leaves the previous snapshot, and the next open indexes more.
      } finally {
        this.#snapshotWrite = undefined
      }
    })()
  }

  #commitDrafts(drafts: Draft[], extra: BlockRecord[]): Promise<StoredEvent[]> {
    return this.#writes.run(async () => {
      this.#check()
      return this.#commitLocked(drafts, extra)
    })
  }

  /**
   * Stamps, encodes and commits drafts as one batch, on top of `imported` events when an
   * import brings some. Runs inside the write mutex.
   */
  async #commitLocked(drafts: Draft[], extra: BlockRecord[], imported?: ImportPlan): Promise<StoredEvent[]> {
    const views = this.#views
    /** Per draft: the stored event it resolved to (a retried meta.id) or the new one. */
    const results: CID[] = []
    const fresh: { cid: CID; event: EventBlock; draft: Draft; size: number }[] = []
    const blocks: BlockRecord[] = [...extra]
    const pendingByStream = new Map<string, { cid: CID; event: EventBlock }[]>()
    const pendingIds = new Map<string, { cid: CID; event: EventBlock }>()
    let heads = imported?.heads ?? this.#heads
    let parentStamps: Stamp[] = heads.map((h) => {
      const seq = views.seqOf(h)
      return seq >= 0 ? views.stamp(seq) : imported!.events.find((e) => e.cid.equals(h))!.event
    })
    const now = this.#clock()
    for (const draft of drafts) {
      const id = draft.meta?.id
      if (id !== undefined) {
        const storedSeq = views.byId(draft.stream, id)
        const prior = storedSeq >= 0 ? await this.#events.load(storedSeq) : pendingIds.get(`${draft.stream}\u0000${id}`)
        if (prior !== undefined) {
          if (!sameContent(prior.event, draft)) {
            throw new CairnError('CAIRN_DUPLICATE_ID', `stream "${draft.stream}" already holds an event with meta.id "${id}" and different content`, { stream: draft.stream, cid: prior.cid })
          }
          results.push(prior.cid)
          continue
        }
      }
      const pending = pendingByStream.get(draft.stream) ?? []
      const current = views.streamLength(draft.stream) + pending.length
      if (draft.expectedVersion !== undefined && draft.expectedVersion !== current) {
        throw new CairnError('CAIRN_VERSION_CONFLICT', `stream "${draft.stream}" is at version ${current}, expected ${draft.expectedVersion}`, {
          stream: draft.stream, expectedVersion: draft.expectedVersion, actualVersion: current,
        })
      }
      const lastSeq = views.stream(draft.stream)?.last()
      const last = pending.at(-1)?.cid ?? (lastSeq === undefined ? null : views.cid(lastSeq)) // drafts on an import are only $objects puts
      const stamp = nextStamp(parentStamps, now)
      const event: EventBlock = {
        v: 1, stream: draft.stream, type: draft.type, ts: stamp.ts, tc: stamp.tc,
        prev: last, parents: heads, data: draft.data,
        ...(draft.meta === undefined ? {} : { meta: draft.meta }),
      }
      const block = encodeEvent(event)
      blocks.push(block)
      const item = { cid: block.cid, event, draft, size: block.bytes.length }
      fresh.push(item)
      results.push(block.cid)
      pending.push(item)
      pendingByStream.set(draft.stream, pending)
      if (id !== undefined) pendingIds.set(`${draft.stream}\u0000${id}`, item)
      heads = [block.cid]
      parentStamps = [stamp]
    }
    const commit = fresh.length > 0 || blocks.length > 0 || imported !== undefined
    if (commit) await this.#storage.commit({ blocks, heads })
    // With no await from here to the heads update, nobody sees a head the views lack.
    const added: { seq: number; cid: CID; event: EventBlock }[] = []
    const addAll = (items: readonly { cid: CID; event: EventBlock; size: number }[]): void => {
      views.addEvents(items)
      for (const e of items) added.push({ seq: views.seqOf(e.cid), cid: e.cid, event: e.event })
    }
    if (imported !== undefined && imported.events.length > 0) {
      // One merge per list for the whole import, however far back its events land.
      addAll(imported.events)
    }
    if (fresh.length > 0) addAll(fresh)
    if (commit) this.#heads = heads
    for (const e of added) this.#events.remember(e)
    // The commit is durable: from here nothing may fail the call. Object, referrer and
    // containment indexing reads blocks, so it is queued and retried if a read fails.
    for (const item of imported?.events ?? []) this.#unindexed.push({ cid: item.cid, event: item.event, value: undefined, verified: imported!.verified })
    for (const item of fresh) this.#unindexed.push({ cid: item.cid, event: item.event, value: item.draft.object, verified: imported?.verified })
    await this.#indexQueued()
    // Each new event's public shape is built once, for subscribers, commit listeners and the caller.
    const stored: (StoredEvent | undefined)[] = new Array(added.length)
    const storedAt = (i: number): StoredEvent => (stored[i] ??= toStoredEvent(added[i]!, views.version(added[i]!.seq)))
    this.#hub.publish(added, storedAt, this.#heads)
    this.#maybeSnapshot(SNAPSHOT_MIN)
    const addedAt = new Map(added.map((e, i) => [e.seq, i]))
    const out: StoredEvent[] = []
    for (const cid of results) {
      const seq = views.seqOf(cid)
      const i = addedAt.get(seq)
      // A retried meta.id resolves to an event stored earlier: read it back.
      out.push(i !== undefined ? storedAt(i) : toStoredEvent(await this.#events.load(seq), views.version(seq)))
    }
    return out
  }
}

function objectDraft(cid: CID, type: string, size: number, object: { value: unknown } | undefined): Draft {
  const data: ObjectPutData = { cid, type, size }
  return { stream: OBJECTS_STREAM, type: OBJECT_PUT, data, meta: undefined, expectedVersion: undefined, ...(object === undefined ? {} : { object }) }
}

function checkInput(input: unknown, name: string, expectedVersion: unknown): Draft {
  const o = expectObject(name, input)
  const stream = expectString(`${name}.stream`, o['stream'])
  if (stream.startsWith('$')) throw new RangeError(`"${name}.stream" must not start with "$" (reserved for system streams), got ${JSON.stringify(stream)}`)
  const type = expectString(`${name}.type`, o['type'])
  const data = o['data'] === undefined ? null : o['data']
  assertIpld(data, 'data')
  const meta = checkInputMeta(o['meta'], `${name}.meta`)
  if (meta !== undefined) assertIpld(meta, 'meta')
  const expected = expectedVersion === undefined ? undefined : expectNonNegativeInteger('expectedVersion', expectedVersion)
  return { stream, type, data, meta, expectedVersion: expected }
}

/** Scan bounds for a cursor: strictly after it, or strictly before it when reading newest first. */
function cursorBounds(after: OrderKey | undefined, reverse: boolean): { lower?: { key: OrderKey; inclusive: boolean }; upper?: { key: OrderKey; inclusive: boolean } } {
  if (after === undefined) return {}
  return reverse ? { upper: { key: after, inclusive: false } } : { lower: { key: after, inclusive: false } }
}

function replayFilter(filter: unknown): (e: StoredEvent) => boolean {
  if (filter === undefined) return () => true
  if (typeof filter === 'function') return filter as (e: StoredEvent) => boolean
  const o = expectObject('filter', filter)
  if (o['type'] === undefined) return () => true
  if (typeof o['type'] === 'string') {
    const type = expectString('filter.type', o['type'])
    return (e) => e.type === type
  }
  if (!Array.isArray(o['type'])) throw new TypeError('"filter.type" expected a string or an array of strings')
  const types = new Set(o['type'].map((t, i) => expectString(`filter.type[${i}]`, t)))
  return (e) => types.has(e.type)
}

/** Whether a retried append carries what the stored event with the same meta.id holds. */
function sameContent(stored: EventBlock, draft: Draft): boolean {
  if (stored.type !== draft.type) return false
  return equalBytes(encodeValue({ d: stored.data, m: stored.meta ?? null }).bytes, encodeValue({ d: draft.data, m: draft.meta ?? null }).bytes)
}
