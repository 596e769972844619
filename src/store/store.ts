import { CID } from 'multiformats/cid'
import { decodeBlock, encodeValue, equalBytes, linksInValue } from '../block/codec.ts'
import type { BlockRecord } from '../block/interface.ts'
import { assertIpld } from '../block/validate.ts'
import { expectNonNegativeInteger, expectObject, expectString } from '../errors/arguments.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { indexEvent, rebuildViews } from '../index/rebuild.ts'
import { toStoredEvent, type EventEntry, type LogViews } from '../index/views.ts'
import { nextStamp } from '../log/clock.ts'
import { checkInputMeta, encodeEvent } from '../log/event.ts'
import type { AppendInput, AppendOptions, BatchAppendInput, EventBlock, EventMeta, ReadOptions, Stamp, StoredEvent } from '../log/interface.ts'
import { sortCids } from '../log/order.ts'
import { catFile, importFile, type FileSource } from '../objects/files.ts'
import { OBJECTS_STREAM, OBJECT_PUT, type ObjectInfo, type ObjectPutData, type ObjectsQuery, type PutFileOptions, type PutOptions, type Referrer } from '../objects/interface.ts'
import type { StorageEngine } from '../storage/interface.ts'
import type { Reducer, StoreOptions, VerifyReport } from './interface.ts'
import { Mutex } from './mutex.ts'
import type { ByteSource, ExportOptions, ImportOptions, ImportReport } from '../car/interface.ts'
import { writeCar } from '../car/writer.ts'
import { diffBlocks } from '../sync/export.ts'
import { planImport, readVerifiedCar, type ImportPlan } from '../sync/import.ts'
import { syncHints } from '../sync/hints.ts'
import { verifyReachable } from './verify.ts'

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
  readonly #clock: () => number
  readonly #writes = new Mutex()
  #heads: CID[]
  #closed = false

  private constructor(storage: StorageEngine, views: LogViews, heads: CID[], options: StoreOptions) {
    this.#storage = storage
    this.#views = views
    this.#heads = heads
    this.#clock = options.clock ?? Date.now
  }

  /** Opens a store on a storage engine, rebuilding its views from the blocks. */
  static async open(storage: StorageEngine, options: StoreOptions = {}): Promise<CairnStore> {
    if (options.clock !== undefined && typeof options.clock !== 'function') throw new TypeError('"clock" expected a function')
    const heads = sortCids(await storage.heads())
    try {
      const views = await rebuildViews(storage, heads)
      return new CairnStore(storage, views, heads, options)
    } catch (err) {
      await storage.close().catch(() => {})
      throw err
    }
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
    return this.#views.version(expectString('stream', stream))
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

  /** Events of one stream in canonical order, from `fromVersion` (1-based, inclusive). */
  async *read<D = unknown>(stream: string, options: ReadOptions = {}): AsyncGenerator<StoredEvent<D>> {
    this.#check()
    expectString('stream', stream)
    expectObject('options', options)
    const from = options.fromVersion === undefined ? 1 : expectNonNegativeInteger('fromVersion', options.fromVersion)
    const to = options.toVersion === undefined ? Infinity : expectNonNegativeInteger('toVersion', options.toVersion)
    const limit = options.limit === undefined ? Infinity : expectNonNegativeInteger('limit', options.limit)
    const list = this.#views.stream(stream)
    let n = 0
    for (let i = Math.max(from, 1) - 1; i < list.length && n < limit; i++) {
      const entry = list[i]!
      if (entry.version > to) break
      n++
      yield toStoredEvent<D>(entry)
    }
  }

  /** One event by CID. Throws CAIRN_NOT_FOUND when the log holds no such event. */
  async getEvent<D = unknown>(cid: CID): Promise<StoredEvent<D>> {
    this.#check()
    const entry = this.#views.entry(expectCid('cid', cid))
    if (entry === undefined) throw new CairnError('CAIRN_NOT_FOUND', `no event ${cid} in this store`, { cid })
    return toStoredEvent<D>(entry)
  }

  /** Folds a stream's events, in canonical order, into a state. */
  async reduce<S, D = unknown>(stream: string, reducer: Reducer<S, D>, initial: S): Promise<S> {
    if (typeof reducer !== 'function') throw new TypeError('"reducer" expected a function')
    let state = initial
    for await (const e of this.read<D>(stream)) state = reducer(state, e)
    return state
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
      for (const link of linksInValue(value)) {
        if (!(await this.#storage.has(link))) {
          throw new CairnError('CAIRN_MISSING_BLOCK', `${link}, linked from the value at ${block.cid}, is not in the store; put what an object links to first`, { cid: link })
        }
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
    if (!(source instanceof Uint8Array) && !isIterable(source) && !isReadableStream(source)) {
      throw new TypeError('"source" expected a Uint8Array, a ReadableStream or an (async) iterable of Uint8Array')
    }
    const chunks = source instanceof Uint8Array ? [source] : checkedChunks(isReadableStream(source) ? readStream(source) : source)
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
    return writeCar(heads, diffBlocks(this.#views, this.#storage, heads, since, this.#views.size))
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
    if (!(source instanceof Uint8Array) && !isIterable(source) && !isReadableStream(source)) {
      throw new TypeError('"source" expected a Uint8Array, a ReadableStream or an (async) iterable of Uint8Array')
    }
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

  /** Waits for writes in flight, then closes the storage. Later calls throw CAIRN_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.#writes.run(async () => {
      this.#closed = true
      await this.#storage.close()
    })
  }

  #check(): void {
    if (this.#closed) throw new CairnError('CAIRN_CLOSED', 'the store is closed')
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
    const results: (EventEntry | { cid: CID; event: EventBlock; draft: Draft; version: number })[] = []
    const fresh: { cid: CID; event: EventBlock; draft: Draft }[] = []
    const blocks: BlockRecord[] = [...extra]
    const pendingByStream = new Map<string, { cid: CID; event: EventBlock }[]>()
    const pendingIds = new Map<string, { cid: CID; event: EventBlock }>()
    let heads = imported?.heads ?? this.#heads
    const importedByKey = new Map((imported?.events ?? []).map((e) => [e.cid.toString(), e.event]))
    let parentStamps: Stamp[] = heads.map((h) => this.#views.entry(h)?.event ?? importedByKey.get(h.toString())!)
    const now = this.#clock()
    for (const draft of drafts) {
      const id = draft.meta?.id
      if (id !== undefined) {
        const prior = this.#views.byId(draft.stream, id) ?? pendingIds.get(`${draft.stream}\u0000${id}`)
        if (prior !== undefined) {
          if (!sameContent(prior.event, draft)) {
            throw new CairnError('CAIRN_DUPLICATE_ID', `stream "${draft.stream}" already holds an event with meta.id "${id}" and different content`, { stream: draft.stream, cid: prior.cid })
          }
          const stored = this.#views.entry(prior.cid)
          results.push(stored ?? { ...prior, draft, version: 0 })
          continue
        }
      }
      const pending = pendingByStream.get(draft.stream) ?? []
      const current = this.#views.version(draft.stream) + pending.length
      if (draft.expectedVersion !== undefined && draft.expectedVersion !== current) {
        throw new CairnError('CAIRN_VERSION_CONFLICT', `stream "${draft.stream}" is at version ${current}, expected ${draft.expectedVersion}`, {
          stream: draft.stream, expectedVersion: draft.expectedVersion, actualVersion: current,
        })
      }
      const last = pending.at(-1)?.cid ?? this.#views.stream(draft.stream).at(-1)?.cid ?? null // drafts on an import are only $objects puts
      const stamp = nextStamp(parentStamps, now)
      const event: EventBlock = {
        v: 1, stream: draft.stream, type: draft.type, ts: stamp.ts, tc: stamp.tc,
        prev: last, parents: heads, data: draft.data,
        ...(draft.meta === undefined ? {} : { meta: draft.meta }),
      }
      const block = encodeEvent(event)
      blocks.push(block)
      const item = { cid: block.cid, event, draft }
      fresh.push(item)
      results.push({ ...item, version: current + 1 })
      pending.push(item)
      pendingByStream.set(draft.stream, pending)
      if (id !== undefined) pendingIds.set(`${draft.stream}\u0000${id}`, item)
      heads = [block.cid]
      parentStamps = [stamp]
    }
    if (fresh.length > 0 || blocks.length > 0 || imported !== undefined) {
      await this.#storage.commit({ blocks, heads })
      this.#heads = heads
    }
    for (const item of imported?.events ?? []) {
      this.#views.addEvent(item.cid, item.event)
      await indexEvent(this.#views, this.#storage, item.cid, item.event, undefined)
    }
    for (const item of fresh) {
      this.#views.addEvent(item.cid, item.event)
      await indexEvent(this.#views, this.#storage, item.cid, item.event, item.draft.object)
    }
    return results.map((r) => toStoredEvent(this.#views.entry(r.cid)!))
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

function expectCid(name: string, value: unknown): CID {
  const cid = CID.asCID(value)
  if (cid === null) throw new TypeError(`"${name}" expected a CID, got ${value === null ? 'null' : typeof value}`)
  return cid
}

function expectCids(name: string, value: unknown): CID[] {
  if (!Array.isArray(value)) throw new TypeError(`"${name}" expected an array of CIDs`)
  return value.map((v, i) => expectCid(`${name}[${i}]`, v))
}

function isIterable(v: unknown): v is Iterable<Uint8Array> | AsyncIterable<Uint8Array> {
  return v !== null && typeof v === 'object' && (Symbol.asyncIterator in v || Symbol.iterator in v)
}

function isReadableStream(v: unknown): v is ReadableStream<Uint8Array> {
  return v !== null && typeof v === 'object' && typeof (v as ReadableStream).getReader === 'function'
}

async function* readStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

async function* checkedChunks(source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let i = 0
  for await (const chunk of source) {
    if (!(chunk instanceof Uint8Array)) throw new TypeError(`"source" chunk ${i} expected a Uint8Array, got ${typeof chunk}`)
    i++
    yield chunk
  }
}

/** Whether a retried append carries what the stored event with the same meta.id holds. */
function sameContent(stored: EventBlock, draft: Draft): boolean {
  if (stored.type !== draft.type) return false
  return equalBytes(encodeValue({ d: stored.data, m: stored.meta ?? null }).bytes, encodeValue({ d: draft.data, m: draft.meta ?? null }).bytes)
}
