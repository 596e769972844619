import { cidFromBytes } from '../../block/codec.ts'
import type { CID } from 'multiformats/cid'
import { CairnError } from '../../errors/cairn-error.ts'
import type { EventMeta, Stamp } from '../event/interface.ts'
import { compareCidEvents } from '../event/order.ts'
import type { ObjectInfo, Referrer } from '../../objects/interface.ts'
import { Containment } from './containment.ts'
import { type EventColumnParts, EventColumns, type NewEvent, type OrderKey } from './event-columns.ts'
import { type EventListParts, EventLists } from './event-lists.ts'
import { ObjectCatalog } from './object-catalog.ts'
import { firstIndex, SeqList } from './seq-list.ts'
import { StateHash } from './state-hash.ts'

export type { NewEvent, OrderKey } from './event-columns.ts'

/** The columns of a snapshot, as `LogViews.columns()` gives them and `LogViews.fromColumns` takes them. */
export interface ViewColumns extends Omit<EventColumnParts, 'parents' | 'bigTc'>, Omit<EventListParts, 'correlations' | 'causations' | 'ids'> {
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

/**
 * Derived, rebuildable views of the log, the one face the rest of the log uses. An event is
 * named by its arrival number `seq` in this replica (0, 1, …). The views are kept in parts:
 *
 * - the event columns (event-columns.ts): per event CID, stamp, stream, type and parents,
 *   and the CID → arrival number table; a few dozen bytes per event, whatever its payload;
 * - the lists (event-lists.ts): arrival numbers in canonical order for the global order,
 *   each stream (versions are positions), each type, correlation and causation id, and the
 *   `meta.id` of each stream;
 * - the state hash's checkpoints over the global order (state-hash.ts);
 * - the object catalog (object-catalog.ts): recorded objects, their sizes, referrers;
 * - the containment bookkeeping of export and import (containment.ts).
 *
 * Payloads are not held: the store reads event blocks from storage through a cache. The
 * snapshot (snapshot.ts) persists `columns()` and opens them with `fromColumns`.
 */
export class LogViews {
  #events: EventColumns
  #lists: EventLists
  readonly #hash = new StateHash()
  readonly #catalog = new ObjectCatalog(
    (cid) => this.seqOf(cid),
    (a, b) => this.compare(a, b),
  )
  readonly #containment = new Containment()

  constructor(order: SeqList = SeqList.identity(0)) {
    this.#events = new EventColumns()
    this.#lists = new EventLists(order, this.#events.compare)
  }

  /** Number of events. */
  get size(): number {
    return this.#events.count
  }

  /** Bumped whenever an event lands anywhere but the end of a list it joins. */
  get epoch(): number {
    return this.#lists.epoch
  }

  // ---- per event ----

  /** Arrival number of the event with this CID, or -1. */
  seqOf(cid: CID | Uint8Array): number {
    return this.#events.seqOf(cid instanceof Uint8Array ? cid : cid.bytes)
  }

  has(cid: CID): boolean {
    return this.seqOf(cid) >= 0
  }

  cidBytes(seq: number): Uint8Array {
    return this.#events.cidBytes(seq)
  }

  cid(seq: number): CID {
    return cidFromBytes(this.cidBytes(seq))
  }

  ts(seq: number): number {
    return this.#events.ts(seq)
  }

  tc(seq: number): number {
    return this.#events.tc(seq)
  }

  stamp(seq: number): Stamp {
    return { ts: this.#events.ts(seq), tc: this.#events.tc(seq) }
  }

  streamOf(seq: number): string {
    return this.#lists.streamName(this.#events.streamId(seq))
  }

  typeOf(seq: number): string {
    return this.#lists.typeName(this.#events.typeId(seq))
  }

  /** Arrival numbers of the event's parents (a view: do not keep across changes). */
  parents(seq: number): Uint32Array {
    return this.#events.parents(seq)
  }

  /** The position key of an event. */
  key(seq: number): OrderKey {
    return { ts: this.#events.ts(seq), tc: this.#events.tc(seq), cid: this.cidBytes(seq) }
  }

  /** Canonical order between two events. */
  compare = (a: number, b: number): number => this.#events.compare(a, b)

  /** Canonical order between an event and a position key. */
  compareKey(seq: number, key: OrderKey): number {
    return this.#events.compareKey(seq, key)
  }

  /** The event's version: its 1-based position in its stream now. */
  version(seq: number): number {
    const list = this.#lists.streamList(this.#events.streamId(seq))
    const n = list.length
    // The stream's last event (every event an append just added): no search.
    if (n > 0 && list.at(n - 1) === seq) return n
    const compare = this.#events.compare
    return firstIndex(n, (i) => compare(list.at(i), seq) >= 0) + 1
  }

  // ---- lists ----

  /** Every event, canonical order. Live: do not mutate. */
  order(): SeqList {
    return this.#lists.order
  }

  stream(stream: string): SeqList | undefined {
    return this.#lists.stream(stream)
  }

  streamLength(stream: string): number {
    return this.stream(stream)?.length ?? 0
  }

  ofType(type: string): SeqList | undefined {
    return this.#lists.ofType(type)
  }

  correlated(id: string): SeqList | undefined {
    return this.#lists.correlated(id)
  }

  causedBy(id: string): SeqList | undefined {
    return this.#lists.causedBy(id)
  }

  /** Names of the streams starting with `prefix`, in code-unit order. */
  streamsWithPrefix(prefix: string): string[] {
    return this.#lists.streamsWithPrefix(prefix)
  }

  get streamCount(): number {
    return this.#lists.streamCount
  }

  get typeCount(): number {
    return this.#lists.typeCount
  }

  get objectCount(): number {
    return this.#catalog.count
  }

  /** Bytes of every event block plus the size of every distinct object. */
  bytes(): number {
    return this.#events.eventBytes + this.#catalog.bytes
  }

  byId(stream: string, id: string): number {
    return this.#lists.byId(stream, id)
  }

  // ---- adding events ----

  /**
   * Adds events (a commit's or an import's, in any order) at their canonical places; each
   * list is merged once per batch. Arrival numbers follow the batch's canonical order.
   * Returns each item's arrival number, in the order given, when the batch came in canonical
   * order and every item was new (what a local commit gives); otherwise undefined, and the
   * caller looks up the ones it needs (`seqOf`). Each parent must be
   * indexed or come earlier in the batch (canonical order is topological when children stamp
   * above parents); otherwise CAIRN_CORRUPT, with the views as they were.
   *
   * A batch already in canonical order (what the planners give) is not copied or sorted. Rows
   * are added in that order, so the CID table answers every check: an event indexed before or
   * repeated in the batch is found there, and a parent found there has a smaller arrival number
   * exactly when it is indexed or earlier in the batch (one lookup per parent, no set beside
   * it). A refused batch is taken out of the columns again before any list sees it.
   */
  addEvents(items: readonly NewEvent[]): number[] | undefined {
    let sorted = items
    for (let i = 1; i < items.length; i++) {
      if (compareCidEvents(items[i - 1]!, items[i]!) > 0) {
        sorted = [...items].sort(compareCidEvents)
        break
      }
    }
    const events = this.#events
    const lists = this.#lists
    const count = events.count
    const streams = lists.streamCount
    const types = lists.typeCount
    const added: number[] = []
    const metas: (EventMeta | undefined)[] = []
    let bytes = 0
    for (const item of sorted) {
      if (events.seqOf(item.cid.bytes) >= 0) continue
      const event = item.event
      const named = event.parents
      const parents = new Array<number>(named.length)
      for (let i = 0; i < named.length; i++) {
        const parent = events.seqOf(named[i]!.bytes)
        if (parent < 0) {
          events.truncate(count, bytes)
          lists.forgetNames(streams, types)
          throw new CairnError('CAIRN_CORRUPT', `event ${item.cid} names parent ${named[i]}, which is neither indexed nor stamped below it`, { cid: item.cid })
        }
        parents[i] = parent
      }
      added.push(events.push(item, lists.streamId(event.stream), lists.typeId(event.type), parents))
      bytes += item.size
      metas.push(event.meta)
    }
    if (added.length === 0) return items.length === 0 ? added : undefined
    const at = lists.add(
      added,
      metas,
      (seq) => events.streamId(seq),
      (seq) => events.typeId(seq),
    )
    this.#hash.orderChanged(at)
    return sorted === items && added.length === items.length ? added : undefined
  }

  // ---- objects, referrers, containment ----

  hasObject(cid: CID, type: string): boolean {
    return this.#catalog.has(cid, type)
  }

  /** Objects in the canonical order of the events that first recorded them. */
  objects(type?: string): ObjectInfo[] {
    return this.#catalog.list(type)
  }

  /** Who links to `cid`, sorted by CID bytes so replicas agree whatever the arrival order. */
  referrers(cid: CID): Referrer[] {
    return this.#catalog.referrers(cid)
  }

  /** Keys of the events and blocks that link to the block `key`. */
  containers(key: string): ReadonlySet<string> | undefined {
    return this.#containment.containers(key)
  }

  addContainer(child: CID, container: string): void {
    this.#containment.addContainer(child, container)
  }

  walked(cid: CID): boolean {
    return this.#containment.walked(cid)
  }

  markWalked(cid: CID): void {
    this.#containment.markWalked(cid)
  }

  markLinking(cid: CID): void {
    const seq = this.seqOf(cid)
    if (seq >= 0) this.#containment.markLinking(seq)
  }

  /** Whether an app event's data or meta link to blocks. */
  isLinking(seq: number): boolean {
    return this.#containment.isLinking(seq)
  }

  isComplete(key: string): boolean {
    return this.#containment.isComplete(key)
  }

  markComplete(cid: CID): void {
    this.#containment.markComplete(cid)
  }

  addObject(info: ObjectInfo): void {
    this.#catalog.add(info)
  }

  addReferrer(target: CID, from: Referrer): void {
    this.#catalog.addReferrer(target, from)
  }

  /**
   * CIDv1 (raw codec, sha2-256) of the concatenated CID bytes of every event in canonical
   * order: equal on replicas that hold the same events. Incremental: hash states are kept
   * every 4096 events, and an import only rehashes from the checkpoint before its first insert.
   */
  stateHash(): CID {
    const events = this.#events
    return this.#hash.of(this.#lists.order, (state, seq) => events.hashCid(state, seq))
  }

  // ---- snapshots ----

  /** The views as columns (views into live arrays: encode them before the next change). */
  columns(): ViewColumns {
    const e = this.#events.parts()
    const l = this.#lists.parts()
    const o = this.#catalog.parts()
    const c = this.#containment.parts()
    return {
      count: e.count,
      cids: e.cids,
      ts: e.ts,
      tc: e.tc,
      stream: e.stream,
      type: e.type,
      parent: e.parent,
      order: l.order,
      orderIsArrival: l.orderIsArrival,
      table: e.table,
      streamNames: l.streamNames,
      typeNames: l.typeNames,
      eventBytes: e.eventBytes,
      streamLists: l.streamLists,
      streamListOffsets: l.streamListOffsets,
      typeLists: l.typeLists,
      typeListOffsets: l.typeListOffsets,
      sparse: {
        correlations: l.correlations,
        causations: l.causations,
        ids: l.ids,
        objects: o.objects,
        referrers: o.referrers,
        containers: c.containers,
        walked: c.walked,
        complete: c.complete,
        parents: e.parents,
        bigTc: e.bigTc,
        linking: c.linking,
      },
    }
  }

  /** Views over snapshot columns: the typed arrays are used in place, copied only as they grow. */
  static fromColumns(c: ViewColumns): LogViews {
    const v = new LogViews()
    const s = c.sparse
    v.#events = EventColumns.fromParts({ ...c, parents: s.parents, bigTc: s.bigTc })
    v.#lists = EventLists.fromParts({ ...c, correlations: s.correlations, causations: s.causations, ids: s.ids }, c.count, v.#events.compare)
    v.#catalog.load(s, (seq) => v.cid(seq))
    v.#containment.load(s)
    return v
  }
}
