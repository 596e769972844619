import { CID } from 'multiformats/cid'
import { compareBytes } from '../../block/codec.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import { rawSha256Cid, sha256Stream, type Sha256Stream } from '../../block/hash.ts'
import type { EventBlock, Stamp } from '../event/interface.ts'
import { compareCidEvents } from '../event/order.ts'
import type { ObjectInfo, Referrer } from '../../objects/interface.ts'
import { CidColumn, type CidColumnParts } from './cid-column.ts'
import { firstIndex, SeqList } from './seq-list.ts'

/** An event to add, with the byte length of its block. */
export interface NewEvent {
  readonly cid: CID
  readonly event: EventBlock
  readonly size: number
}

/** A position in the canonical order `(ts, tc, CID bytes)`: an event's, or one given by a caller. */
export interface OrderKey {
  readonly ts: number
  readonly tc: number
  readonly cid: Uint8Array
}

/** Entries per state-hash checkpoint. */
const HASH_STEP = 4096

/** The columns of a snapshot, as `LogViews.columns()` gives them and `LogViews.fromColumns` takes them. */
export interface ViewColumns {
  readonly count: number
  readonly cids: CidColumnParts
  readonly ts: Float64Array
  readonly tc: Uint32Array
  readonly stream: Uint32Array
  readonly type: Uint32Array
  /** First parent's arrival number, NO_PARENT for none; events with more parents are in `sparse.parents`. */
  readonly parent: Uint32Array
  /** Empty when the global order is the arrival order (`orderIsArrival`). */
  readonly order: Uint32Array
  readonly orderIsArrival: boolean
  readonly table: Int32Array
  readonly streamNames: readonly string[]
  readonly typeNames: readonly string[]
  /** Sum of the event blocks' sizes. */
  readonly eventBytes: number
  /** Per stream id, its events (canonical order), concatenated; `streamListOffsets` has count+1 entries. */
  readonly streamLists: Uint32Array
  readonly streamListOffsets: Uint32Array
  readonly typeLists: Uint32Array
  readonly typeListOffsets: Uint32Array
  /** The sparse parts: correlation/causation lists, idempotency ids, objects, referrers, containment. */
  readonly sparse: SparseViews
}

/** The parts of the views only some events have, in a form dag-cbor can carry. */
export interface SparseViews {
  correlations: [string, number[]][]
  causations: [string, number[]][]
  ids: [number, [string, number][]][]
  objects: [Uint8Array, string, number, number][]
  referrers: [Uint8Array, Uint8Array, number][]
  containers: [Uint8Array, Uint8Array[]][]
  walked: Uint8Array[]
  complete: Uint8Array[]
  /** Events with several parents (merges): arrival number → every parent's. */
  parents: [number, number[]][]
  /** Events whose `tc` is TC_BIG or more: arrival number → tc. */
  bigTc: [number, number][]
  /** App events whose data or meta link to blocks. */
  linking: number[]
}

/** `tc` values from here up (any safe integer is valid, but real ones are small) live in a map. */
const TC_BIG = 0xffffffff

/** `parent` of an event without parents (the log's first events). */
const NO_PARENT = 0xffffffff
const NO_PARENTS = new Uint32Array(0)

/**
 * Derived, rebuildable views of the log in compact columns: a few dozen bytes per event,
 * whatever its payload. An event is named by its arrival number `seq` in this replica
 * (0, 1, …). Per event: CID bytes, ts, tc, stream and type ids, block size and parents (as
 * arrival numbers); an open-addressing table maps CIDs to arrival numbers. Lists of arrival
 * numbers in canonical order give the global order, each stream (versions are positions),
 * each type, correlation and causation ids. Payloads are not held: the store reads event
 * blocks from storage through a cache.
 *
 * Every list is kept in canonical order. A local append stamps above every head, so it
 * lands at the end (a push); an import that brings older events is merged in place and
 * bumps `epoch`, which tells lazy readers to find their place again by binary search.
 */
export class LogViews {
  #count = 0
  #cap = 0
  #cids = new CidColumn()
  #ts: Float64Array = new Float64Array(0)
  /** HLC counters below TC_BIG; larger ones (any safe integer is valid) are kept aside. */
  #tc: Uint32Array = new Uint32Array(0)
  readonly #bigTc = new Map<number, number>()
  #stream: Uint32Array = new Uint32Array(0)
  #type: Uint32Array = new Uint32Array(0)
  #parent: Uint32Array = new Uint32Array(0)
  /** Every parent of the events that have more than one. */
  readonly #merges = new Map<number, Uint32Array>()
  #table: Int32Array = new Int32Array(16)
  readonly #order: SeqList
  readonly #streamNames: string[] = []
  readonly #streamIds = new Map<string, number>()
  readonly #streamLists: SeqList[] = []
  readonly #typeNames: string[] = []
  readonly #typeIds = new Map<string, number>()
  readonly #typeLists: SeqList[] = []
  readonly #correlations = new Map<string, SeqList>()
  readonly #causations = new Map<string, SeqList>()
  /** Stream id → meta.id → the earliest event (canonical order) carrying it. */
  readonly #ids = new Map<number, Map<string, number>>()
  /** Stream names sorted by code units, rebuilt lazily after new streams arrive. */
  #sortedStreams: string[] | undefined
  readonly #objects = new Map<string, Map<string, ObjectInfo>>()
  /** Size of each object as recorded by its earliest `object.put` in canonical order. */
  readonly #objectSizes = new Map<string, { size: number; event: CID }>()
  #objectBytes = 0
  #eventBytes = 0
  readonly #referrers = new Map<string, Map<string, Referrer>>()
  /** Block → the events and blocks that link to it, over every link: events, objects, files. */
  readonly #containers = new Map<string, Set<string>>()
  /** DAG roots whose links are already in #containers. */
  readonly #walked = new Set<string>()
  /** Blocks known to head complete DAGs: every block under a recorded object. */
  readonly #complete = new Set<string>()
  /** App events whose data or meta link to blocks (an export walks only these, and object puts). */
  readonly #linking = new Set<number>()
  #epoch = 0
  /** sha2-256 states over the first `count` CIDs of the order, every HASH_STEP entries. */
  #hashCheckpoints: { count: number; state: Sha256Stream }[] = []

  constructor(order: SeqList = SeqList.identity(0)) {
    this.#order = order
  }

  /** Number of events. */
  get size(): number {
    return this.#count
  }

  /** Bumped whenever an event lands anywhere but the end of a list it joins. */
  get epoch(): number {
    return this.#epoch
  }

  // ---- per event ----

  /** Arrival number of the event with this CID, or -1. */
  seqOf(cid: CID | Uint8Array): number {
    const bytes = cid instanceof Uint8Array ? cid : cid.bytes
    const mask = this.#table.length - 1
    for (let i = hashTail(bytes.subarray(Math.max(0, bytes.length - 8))) & mask; ; i = (i + 1) & mask) {
      const v = this.#table[i]!
      if (v === 0) return -1
      if (this.#cids.equals(v - 1, bytes)) return v - 1
    }
  }

  has(cid: CID): boolean {
    return this.seqOf(cid) >= 0
  }

  cidBytes(seq: number): Uint8Array {
    return this.#cids.full(seq)
  }

  cid(seq: number): CID {
    return CID.decode(this.cidBytes(seq))
  }

  ts(seq: number): number {
    return this.#ts[seq]!
  }

  tc(seq: number): number {
    const tc = this.#tc[seq]!
    return tc === TC_BIG ? this.#bigTc.get(seq)! : tc
  }

  stamp(seq: number): Stamp {
    return { ts: this.#ts[seq]!, tc: this.tc(seq) }
  }

  streamOf(seq: number): string {
    return this.#streamNames[this.#stream[seq]!]!
  }

  typeOf(seq: number): string {
    return this.#typeNames[this.#type[seq]!]!
  }

  /** Arrival numbers of the event's parents (a view: do not keep across changes). */
  parents(seq: number): Uint32Array {
    const p = this.#parent[seq]!
    if (p === NO_PARENT) return NO_PARENTS
    return this.#merges.get(seq) ?? this.#parent.subarray(seq, seq + 1)
  }

  /** The position key of an event. */
  key(seq: number): OrderKey {
    return { ts: this.#ts[seq]!, tc: this.tc(seq), cid: this.cidBytes(seq) }
  }

  /** Canonical order between two events. */
  compare = (a: number, b: number): number =>
    this.#ts[a]! - this.#ts[b]! || this.tc(a) - this.tc(b) || this.#cids.compare(a, b)

  /** Canonical order between an event and a position key. */
  compareKey(seq: number, key: OrderKey): number {
    return this.#ts[seq]! - key.ts || this.tc(seq) - key.tc || this.#cids.compareTo(seq, key.cid)
  }

  /** The event's version: its 1-based position in its stream now. */
  version(seq: number): number {
    const list = this.#streamLists[this.#stream[seq]!]!
    return firstIndex(list.length, (i) => this.compare(list.at(i), seq) >= 0) + 1
  }

  // ---- lists ----

  /** Every event, canonical order. Live: do not mutate. */
  order(): SeqList {
    return this.#order
  }

  stream(stream: string): SeqList | undefined {
    const id = this.#streamIds.get(stream)
    return id === undefined ? undefined : this.#streamLists[id]
  }

  streamLength(stream: string): number {
    return this.stream(stream)?.length ?? 0
  }

  ofType(type: string): SeqList | undefined {
    const id = this.#typeIds.get(type)
    return id === undefined ? undefined : this.#typeLists[id]
  }

  correlated(id: string): SeqList | undefined {
    return this.#correlations.get(id)
  }

  causedBy(id: string): SeqList | undefined {
    return this.#causations.get(id)
  }

  /** Names of the streams starting with `prefix`, in code-unit order. */
  streamsWithPrefix(prefix: string): string[] {
    this.#sortedStreams ??= [...this.#streamNames].sort()
    const names = this.#sortedStreams
    const out: string[] = []
    for (let i = firstIndex(names.length, (j) => names[j]! >= prefix); i < names.length && names[i]!.startsWith(prefix); i++) out.push(names[i]!)
    return out
  }

  get streamCount(): number {
    return this.#streamNames.length
  }

  get typeCount(): number {
    return this.#typeNames.length
  }

  get objectCount(): number {
    return this.#objectSizes.size
  }

  /** Bytes of every event block plus the size of every distinct object. */
  bytes(): number {
    return this.#eventBytes + this.#objectBytes
  }

  byId(stream: string, id: string): number {
    const sid = this.#streamIds.get(stream)
    return sid === undefined ? -1 : this.#ids.get(sid)?.get(id) ?? -1
  }

  // ---- adding events ----

  /**
   * Adds events (a commit's or an import's, in any order) at their canonical places; each
   * list is merged once per batch. Arrival numbers follow the batch's canonical order.
   * Returns the arrival numbers of the new events, in canonical order.
   */
  addEvents(items: readonly NewEvent[]): number[] {
    const sorted = items.length > 1 ? [...items].sort(compareCidEvents) : items
    // Check the whole batch before changing anything: every parent is indexed or comes earlier
    // in the batch (canonical order is topological when children stamp above parents).
    const fresh: NewEvent[] = []
    const inBatch = new Set<string>()
    for (const item of sorted) {
      const key = item.cid.toString()
      if (inBatch.has(key) || this.seqOf(item.cid) >= 0) continue
      for (const parent of item.event.parents) {
        if (!inBatch.has(parent.toString()) && this.seqOf(parent) < 0) {
          throw new CairnError('CAIRN_CORRUPT', `event ${item.cid} names parent ${parent}, which is neither indexed nor stamped below it`, { cid: item.cid })
        }
      }
      inBatch.add(key)
      fresh.push(item)
    }
    const added: number[] = []
    const events: EventBlock[] = []
    for (const item of fresh) {
      added.push(this.#register(item))
      events.push(item.event)
    }
    if (added.length === 0) return added
    let moved = false
    const merge = (list: SeqList, add: number[]): void => {
      if (list.merge(add, this.compare) < list.length - add.length) moved = true
    }
    const at = this.#order.merge(added, this.compare)
    if (at < this.#order.length - added.length) moved = true
    this.#orderChanged(at)
    const byStream = new Map<number, number[]>()
    const byType = new Map<number, number[]>()
    for (const seq of added) {
      groupIn(byStream, this.#stream[seq]!, seq)
      groupIn(byType, this.#type[seq]!, seq)
    }
    for (const [id, add] of byStream) merge(this.#streamLists[id]!, add)
    for (const [id, add] of byType) merge(this.#typeLists[id]!, add)
    for (let i = 0; i < added.length; i++) {
      const meta = events[i]!.meta
      if (meta === undefined) continue
      const seq = added[i]!
      if (meta.correlation !== undefined) merge(listIn(this.#correlations, meta.correlation), [seq])
      if (meta.causation !== undefined) merge(listIn(this.#causations, meta.causation), [seq])
      if (meta.id !== undefined) this.#indexId(seq, meta.id)
    }
    if (moved) this.#epoch++
    return added
  }

  #register(item: NewEvent): number {
    const seq = this.#count
    const bytes = item.cid.bytes
    const event = item.event
    this.#ensure(seq + 1)
    this.#cids.push(bytes, this.#cap)
    this.#ts[seq] = event.ts
    this.#tc[seq] = Math.min(event.tc, TC_BIG)
    if (event.tc >= TC_BIG) this.#bigTc.set(seq, event.tc)
    this.#stream[seq] = this.#idOf(event.stream, this.#streamIds, this.#streamNames, this.#streamLists, true)
    this.#type[seq] = this.#idOf(event.type, this.#typeIds, this.#typeNames, this.#typeLists, false)
    this.#eventBytes += item.size
    const parents = event.parents.map((parent) => this.seqOf(parent)) // checked by addEvents
    this.#parent[seq] = parents[0] ?? NO_PARENT
    if (parents.length > 1) this.#merges.set(seq, Uint32Array.from(parents))
    this.#count = seq + 1
    this.#tableInsert(seq)
    return seq
  }

  #idOf(name: string, ids: Map<string, number>, names: string[], lists: SeqList[], stream: boolean): number {
    let id = ids.get(name)
    if (id === undefined) {
      id = names.length
      ids.set(name, id)
      names.push(name)
      lists.push(new SeqList())
      if (stream) this.#sortedStreams = undefined
    }
    return id
  }

  #ensure(count: number): void {
    if (count > this.#cap) {
      const cap = Math.max(64, this.#cap < 1 << 20 ? this.#cap * 2 : this.#cap + (this.#cap >> 2), count)
      this.#ts = grow(this.#ts, cap)
      this.#tc = grow(this.#tc, cap)
      this.#stream = grow(this.#stream, cap)
      this.#type = grow(this.#type, cap)
      this.#parent = grow(this.#parent, cap)
      this.#cap = cap
    }
    // Linear probing stays short below 70% load; the table costs 4 bytes per slot.
    if (count > this.#table.length * 0.7) this.#rehash(count * 2)
  }

  #rehash(min: number): void {
    let size = this.#table.length
    while (size < min) size *= 2
    this.#table = new Int32Array(size)
    for (let seq = 0; seq < this.#count; seq++) this.#tableInsert(seq)
  }

  #tableInsert(seq: number): void {
    const mask = this.#table.length - 1
    let i = hashTail(this.#cids.tail(seq)) & mask
    while (this.#table[i] !== 0) i = (i + 1) & mask
    this.#table[i] = seq + 1
  }

  /** Drops the state-hash checkpoints an insert at `at` in the global order invalidated. */
  #orderChanged(at: number): void {
    const cps = this.#hashCheckpoints
    if (cps.length > 0 && cps.at(-1)!.count > at) this.#hashCheckpoints = cps.filter((c) => c.count <= at)
  }

  #indexId(seq: number, id: string): void {
    const sid = this.#stream[seq]!
    let ids = this.#ids.get(sid)
    if (ids === undefined) { ids = new Map(); this.#ids.set(sid, ids) }
    const held = ids.get(id)
    // The first in canonical order wins, so replicas agree whatever the arrival order.
    if (held === undefined || this.compare(seq, held) < 0) ids.set(id, seq)
  }

  // ---- objects, referrers, containment ----

  hasObject(cid: CID, type: string): boolean {
    return this.#objects.get(type)?.has(cid.toString()) ?? false
  }

  /** Objects in the canonical order of the events that first recorded them. */
  objects(type?: string): ObjectInfo[] {
    const list = type !== undefined ? [...(this.#objects.get(type)?.values() ?? [])] : [...this.#objects.values()].flatMap((m) => [...m.values()])
    const pos = (info: ObjectInfo): number => this.seqOf(info.event)
    return list.sort((a, b) => this.compare(pos(a), pos(b)))
  }

  /** Who links to `cid`, sorted by CID bytes so replicas agree whatever the arrival order. */
  referrers(cid: CID): Referrer[] {
    return [...(this.#referrers.get(cid.toString())?.values() ?? [])].sort((a, b) => compareBytes(a.cid.bytes, b.cid.bytes))
  }

  /** Keys of the events and blocks that link to the block `key`. */
  containers(key: string): ReadonlySet<string> | undefined {
    return this.#containers.get(key)
  }

  addContainer(child: CID, container: string): void {
    const key = child.toString()
    let set = this.#containers.get(key)
    if (set === undefined) { set = new Set(); this.#containers.set(key, set) }
    set.add(container)
  }

  walked(cid: CID): boolean {
    return this.#walked.has(cid.toString())
  }

  markWalked(cid: CID): void {
    this.#walked.add(cid.toString())
  }

  markLinking(cid: CID): void {
    const seq = this.seqOf(cid)
    if (seq >= 0) this.#linking.add(seq)
  }

  /** Whether an app event's data or meta link to blocks. */
  isLinking(seq: number): boolean {
    return this.#linking.has(seq)
  }

  isComplete(key: string): boolean {
    return this.#complete.has(key)
  }

  markComplete(cid: CID): void {
    this.#complete.add(cid.toString())
  }

  addObject(info: ObjectInfo): void {
    let byType = this.#objects.get(info.type)
    if (byType === undefined) { byType = new Map(); this.#objects.set(info.type, byType) }
    const key = info.cid.toString()
    const held = byType.get(key)
    const earlier = (a: CID, b: CID): boolean => this.compare(this.seqOf(a), this.seqOf(b)) < 0
    if (held === undefined || earlier(info.event, held.event)) byType.set(key, info)
    const sized = this.#objectSizes.get(key)
    if (sized === undefined || earlier(info.event, sized.event)) {
      this.#objectBytes += info.size - (sized?.size ?? 0)
      this.#objectSizes.set(key, { size: info.size, event: info.event })
    }
  }

  addReferrer(target: CID, from: Referrer): void {
    const key = target.toString()
    let refs = this.#referrers.get(key)
    if (refs === undefined) { refs = new Map(); this.#referrers.set(key, refs) }
    refs.set(from.cid.toString(), from)
  }

  /**
   * CIDv1 (raw codec, sha2-256) of the concatenated CID bytes of every event in canonical
   * order: equal on replicas that hold the same events. Incremental: hash states are kept
   * every 4096 events, and an import only rehashes from the checkpoint before its first insert.
   */
  stateHash(): CID {
    const order = this.#order
    const last = this.#hashCheckpoints.at(-1)
    const state = last === undefined ? sha256Stream() : last.state.clone()
    for (let i = last?.count ?? 0; i < order.length; i++) {
      this.#cids.update(state, order.at(i))
      if ((i + 1) % HASH_STEP === 0) this.#hashCheckpoints.push({ count: i + 1, state: state.clone() })
    }
    return rawSha256Cid(state.digest())
  }

  // ---- snapshots ----

  /** The views as columns (views into live arrays: encode them before the next change). */
  columns(): ViewColumns {
    const n = this.#count
    const [streamLists, streamListOffsets] = concatLists(this.#streamLists)
    const [typeLists, typeListOffsets] = concatLists(this.#typeLists)
    const bytesOf = (key: string): Uint8Array => CID.parse(key).bytes
    const seqLists = (m: Map<string, SeqList>): [string, number[]][] => [...m].map(([k, l]) => [k, [...l.view()]])
    return {
      count: n,
      cids: this.#cids.parts(),
      ts: this.#ts.subarray(0, n),
      tc: this.#tc.subarray(0, n),
      stream: this.#stream.subarray(0, n),
      type: this.#type.subarray(0, n),
      parent: this.#parent.subarray(0, n),
      order: this.#order.isIdentity ? new Uint32Array(0) : this.#order.view(),
      orderIsArrival: this.#order.isIdentity,
      table: this.#table,
      streamNames: this.#streamNames,
      typeNames: this.#typeNames,
      eventBytes: this.#eventBytes,
      streamLists, streamListOffsets, typeLists, typeListOffsets,
      sparse: {
        correlations: seqLists(this.#correlations),
        causations: seqLists(this.#causations),
        ids: [...this.#ids].map(([sid, m]) => [sid, [...m]]),
        objects: [...this.#objects.values()].flatMap((m) => [...m.values()]).map((o) => [o.cid.bytes, o.type, o.size, this.seqOf(o.event)]),
        referrers: [...this.#referrers].flatMap(([target, refs]) => [...refs.values()].map((r): [Uint8Array, Uint8Array, number] => [bytesOf(target), r.cid.bytes, r.kind === 'event' ? 0 : 1])),
        containers: [...this.#containers].map(([child, set]) => [bytesOf(child), [...set].map(bytesOf)]),
        walked: [...this.#walked].map(bytesOf),
        complete: [...this.#complete].map(bytesOf),
        parents: [...this.#merges].map(([seq, ps]) => [seq, [...ps]]),
        bigTc: [...this.#bigTc],
        linking: [...this.#linking],
      },
    }
  }

  /** Views over snapshot columns: the typed arrays are used in place, copied only as they grow. */
  static fromColumns(c: ViewColumns): LogViews {
    const v = new LogViews(c.orderIsArrival ? SeqList.identity(c.count) : new SeqList(c.order, c.count))
    const n = c.count
    v.#count = n
    v.#cap = n
    v.#cids = CidColumn.fromParts(c.cids, n)
    v.#ts = c.ts
    v.#tc = c.tc
    v.#stream = c.stream
    v.#type = c.type
    v.#parent = c.parent
    v.#table = c.table
    v.#eventBytes = c.eventBytes
    c.streamNames.forEach((name, id) => {
      v.#streamNames.push(name)
      v.#streamIds.set(name, id)
      v.#streamLists.push(new SeqList(c.streamLists.subarray(c.streamListOffsets[id]!, c.streamListOffsets[id + 1]!), c.streamListOffsets[id + 1]! - c.streamListOffsets[id]!))
    })
    c.typeNames.forEach((name, id) => {
      v.#typeNames.push(name)
      v.#typeIds.set(name, id)
      v.#typeLists.push(new SeqList(c.typeLists.subarray(c.typeListOffsets[id]!, c.typeListOffsets[id + 1]!), c.typeListOffsets[id + 1]! - c.typeListOffsets[id]!))
    })
    const s = c.sparse
    for (const [k, l] of s.correlations) v.#correlations.set(k, new SeqList(Uint32Array.from(l), l.length))
    for (const [k, l] of s.causations) v.#causations.set(k, new SeqList(Uint32Array.from(l), l.length))
    for (const [sid, entries] of s.ids) v.#ids.set(sid, new Map(entries))
    for (const [cid, type, size, seq] of s.objects) v.addObject({ cid: CID.decode(cid), type, size, event: v.cid(seq) })
    for (const [target, from, kind] of s.referrers) v.addReferrer(CID.decode(target), { cid: CID.decode(from), kind: kind === 0 ? 'event' : 'object' })
    for (const [child, list] of s.containers) for (const c2 of list) v.addContainer(CID.decode(child), CID.decode(c2).toString())
    for (const b of s.walked) v.#walked.add(CID.decode(b).toString())
    for (const b of s.complete) v.#complete.add(CID.decode(b).toString())
    for (const [seq, ps] of s.parents) v.#merges.set(seq, Uint32Array.from(ps))
    for (const [seq, tc] of s.bigTc) v.#bigTc.set(seq, tc)
    for (const seq of s.linking) v.#linking.add(seq)
    return v
  }
}

/** FNV-1a over the last 8 bytes of a CID (its digest's tail: uniform for real hashes). */
function hashTail(tail: Uint8Array): number {
  let h = 0x811c9dc5
  for (let i = 0; i < tail.length; i++) h = Math.imul(h ^ tail[i]!, 0x01000193)
  return h >>> 0
}

type Typed = Uint8Array | Uint32Array | Float64Array | Int32Array
function grow<T extends Typed>(a: T, cap: number): T {
  const next = new (a.constructor as new (n: number) => T)(cap)
  next.set(a as never)
  return next
}

function listIn(map: Map<string, SeqList>, key: string): SeqList {
  let list = map.get(key)
  if (list === undefined) { list = new SeqList(); map.set(key, list) }
  return list
}

function groupIn(map: Map<number, number[]>, key: number, seq: number): void {
  const g = map.get(key)
  if (g === undefined) map.set(key, [seq])
  else g.push(seq)
}

function concatLists(lists: readonly SeqList[]): [Uint32Array, Uint32Array] {
  const offsets = new Uint32Array(lists.length + 1)
  for (let i = 0; i < lists.length; i++) offsets[i + 1] = offsets[i]! + lists[i]!.length
  const all = new Uint32Array(offsets[lists.length]!)
  for (let i = 0; i < lists.length; i++) all.set(lists[i]!.view(), offsets[i]!)
  return [all, offsets]
}
