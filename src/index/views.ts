import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from '@noble/hashes/sha2.js'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { compareBytes } from '../block/codec.ts'
import { RAW, SHA2_256 } from '../block/interface.ts'
import type { EventBlock, Stamp, StoredEvent } from '../log/interface.ts'
import { compareCidEvents } from '../log/order.ts'
import type { ObjectInfo, Referrer } from '../objects/interface.ts'

/** One event held by the views. `version` is kept current when merges insert earlier events. */
export interface EventEntry {
  readonly cid: CID
  readonly key: string
  readonly event: EventBlock
  version: number
  /** Arrival number in this replica: lets a lazy reader ignore events added after it began. */
  readonly seq: number
  /** Bytes of the event's block; undefined until known (events loaded on open are sized lazily). */
  size: number | undefined
}

/** An event to add, with the byte length of its block when the caller has it. */
export interface NewEvent {
  readonly cid: CID
  readonly event: EventBlock
  readonly size?: number | undefined
}

/** The canonical order `(ts, tc, CID bytes)` on entries (and on anything shaped like one). */
export const compareEntries: (a: { cid: CID; event: Stamp }, b: { cid: CID; event: Stamp }) => number = compareCidEvents

/** First index of a sorted list at which the monotone predicate `pred` (false… then true…) holds. */
export function firstIndex<T>(list: readonly T[], pred: (item: T) => boolean): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (pred(list[mid]!)) hi = mid
    else lo = mid + 1
  }
  return lo
}

/** Whether a stream is a system stream (`$objects`): left out of filters that do not name it. */
export function isSystemStream(stream: string): boolean {
  return stream.startsWith('$')
}

/** Inserts one entry at its canonical place; returns its index. Appends (the common case) are O(1). */
function insertSorted(list: EventEntry[], entry: EventEntry): number {
  const n = list.length
  if (n === 0 || compareEntries(list[n - 1]!, entry) < 0) { list.push(entry); return n }
  const at = firstIndex(list, (e) => compareEntries(e, entry) > 0)
  list.splice(at, 0, entry)
  return at
}

/**
 * Merges entries (sorted, none already present) into a sorted list in place: one pass from
 * the back, so a batch that lands mid-list costs the tail once, not once per entry. Returns
 * the index of the first changed slot.
 */
function mergeSorted(list: EventEntry[], add: readonly EventEntry[]): number {
  const n = list.length
  const k = add.length
  if (k === 0) return n
  if (k === 1) return insertSorted(list, add[0]!)
  if (n === 0 || compareEntries(list[n - 1]!, add[0]!) < 0) { for (const e of add) list.push(e); return n }
  const first = firstIndex(list, (e) => compareEntries(e, add[0]!) > 0)
  for (let x = 0; x < k; x++) list.push(add[0]!) // grow, keeping the array packed
  let i = n - 1
  let j = k - 1
  let w = n + k - 1
  while (j >= 0) {
    if (i >= first && compareEntries(list[i]!, add[j]!) > 0) list[w--] = list[i--]!
    else list[w--] = add[j--]!
  }
  return first
}

/** Entries per state-hash checkpoint. */
const HASH_STEP = 4096
type HashState = ReturnType<typeof sha256.create>

/**
 * Derived, rebuildable views of the log held in memory: events by CID, the global canonical
 * order, streams (with versions), types, correlation and causation ids, idempotency keys,
 * objects by type and referrers. Rebuilt from the blocks on open.
 *
 * Every list of events is kept in canonical order `(ts, tc, CID bytes)`. A local append always
 * lands at the end (it stamps above every head, hence above every event), so it is a push; an
 * import that brings older events is merged in place and bumps `epoch`, which tells lazy
 * readers to find their place again by binary search.
 */
export class LogViews {
  readonly #events = new Map<string, EventEntry>()
  /** Every event in arrival order (index = seq). */
  readonly #bySeq: EventEntry[] = []
  /** Every event in canonical order. */
  readonly #all: EventEntry[] = []
  /** Events outside system streams, in canonical order: what an unfiltered query walks. */
  readonly #app: EventEntry[] = []
  readonly #streams = new Map<string, EventEntry[]>()
  readonly #types = new Map<string, EventEntry[]>()
  readonly #correlations = new Map<string, EventEntry[]>()
  readonly #causations = new Map<string, EventEntry[]>()
  /** Stream names, sorted by UTF-16 code units, plus names not yet sorted in. */
  #streamNames: string[] = []
  #newStreamNames: string[] = []
  readonly #ids = new Map<string, Map<string, EventEntry>>()
  readonly #objects = new Map<string, Map<string, ObjectInfo>>()
  /** Distinct objects (any type) → size as first recorded. */
  /** Size of each object as recorded by its earliest `object.put` in canonical order. */
  readonly #objectSizes = new Map<string, { size: number; event: CID }>()
  #objectBytes = 0
  #eventBytes = 0
  /** Entries of #bySeq before this index have a size. */
  #sizedThrough = 0
  readonly #referrers = new Map<string, Map<string, Referrer>>()
  /** Block → the events and blocks that link to it, over every link: events, objects, files. */
  readonly #containers = new Map<string, Set<string>>()
  /** DAG roots whose links are already in #containers. */
  readonly #walked = new Set<string>()
  /** Blocks known to head complete DAGs: every block under a recorded object. */
  readonly #complete = new Set<string>()
  #epoch = 0
  /** sha2-256 states over the first `count` CIDs of #all, every HASH_STEP entries. */
  #hashCheckpoints: { count: number; state: HashState }[] = []

  get size(): number {
    return this.#events.size
  }

  /**
   * Bumped whenever an event lands anywhere but the end of a list it belongs to. A lazy reader
   * that sees it change re-finds its position by binary search.
   */
  get epoch(): number {
    return this.#epoch
  }

  entry(cid: CID | string): EventEntry | undefined {
    return this.#events.get(typeof cid === 'string' ? cid : cid.toString())
  }

  /** The event that arrived `seq`-th in this replica (0-based). */
  bySeq(seq: number): EventEntry | undefined {
    return this.#bySeq[seq]
  }

  /** Every event, canonical order. Live: do not mutate. */
  all(): readonly EventEntry[] {
    return this.#all
  }

  /** Every event outside system streams, canonical order. Live: do not mutate. */
  app(): readonly EventEntry[] {
    return this.#app
  }

  stream(stream: string): readonly EventEntry[] {
    return this.#streams.get(stream) ?? []
  }

  /** Events of one type, canonical order. */
  ofType(type: string): readonly EventEntry[] {
    return this.#types.get(type) ?? []
  }

  /** Events whose `meta.correlation` is `id`, canonical order. */
  correlated(id: string): readonly EventEntry[] {
    return this.#correlations.get(id) ?? []
  }

  /** Events whose `meta.causation` is `id`, canonical order. */
  causedBy(id: string): readonly EventEntry[] {
    return this.#causations.get(id) ?? []
  }

  /** Names of the streams starting with `prefix`, in code-unit order. */
  streamsWithPrefix(prefix: string): string[] {
    if (this.#newStreamNames.length > 0) {
      for (const name of this.#newStreamNames) this.#streamNames.push(name)
      this.#newStreamNames = []
      this.#streamNames.sort()
    }
    const names = this.#streamNames
    const out: string[] = []
    for (let i = firstIndex(names, (n) => n >= prefix); i < names.length && names[i]!.startsWith(prefix); i++) out.push(names[i]!)
    return out
  }

  get streamCount(): number {
    return this.#streams.size
  }

  get typeCount(): number {
    return this.#types.size
  }

  get objectCount(): number {
    return this.#objectSizes.size
  }

  /**
   * Bytes of every event block plus the size of every distinct object (a value's block, a
   * file's content). Events loaded on open are sized here, once, by re-encoding them
   * (dag-cbor is canonical, so that is the block's length); nothing is read from storage.
   */
  bytes(): number {
    for (; this.#sizedThrough < this.#bySeq.length; this.#sizedThrough++) {
      const e = this.#bySeq[this.#sizedThrough]!
      if (e.size === undefined) { e.size = dagCbor.encode(e.event).length; this.#eventBytes += e.size }
    }
    return this.#eventBytes + this.#objectBytes
  }

  version(stream: string): number {
    return this.#streams.get(stream)?.length ?? 0
  }

  byId(stream: string, id: string): EventEntry | undefined {
    return this.#ids.get(stream)?.get(id)
  }

  hasObject(cid: CID, type: string): boolean {
    return this.#objects.get(type)?.has(cid.toString()) ?? false
  }

  /** Objects in the canonical order of the events that first recorded them. */
  objects(type?: string): ObjectInfo[] {
    const list = type !== undefined ? [...(this.#objects.get(type)?.values() ?? [])] : [...this.#objects.values()].flatMap((m) => [...m.values()])
    return list.sort((a, b) => compareEntries(this.entry(a.event)!, this.entry(b.event)!))
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

  /** Whether a block's links are already indexed. */
  walked(cid: CID): boolean {
    return this.#walked.has(cid.toString())
  }

  markWalked(cid: CID): void {
    this.#walked.add(cid.toString())
  }

  /** Whether every block under `key` is known to be stored (it sits under a recorded object). */
  isComplete(key: string): boolean {
    return this.#complete.has(key)
  }

  markComplete(cid: CID): void {
    this.#complete.add(cid.toString())
  }

  /** Adds an event at its canonical place in every list (a push for local appends). Returns the entry. */
  addEvent(cid: CID, event: EventBlock, size?: number): EventEntry {
    const key = cid.toString()
    const existing = this.#events.get(key)
    if (existing !== undefined) return existing
    const entry: EventEntry = { cid, key, event, version: 0, seq: this.#events.size, size }
    this.#register(entry)
    const all = this.#all
    const stream = this.#streamList(event.stream)
    const meta = event.meta
    // Newest of all (local appends, opening): newest of every list it joins, so all pushes.
    if (all.length === 0 || compareEntries(all[all.length - 1]!, entry) < 0) {
      all.push(entry)
      if (!isSystemStream(event.stream)) this.#app.push(entry)
      stream.push(entry)
      entry.version = stream.length
      listIn(this.#types, event.type).push(entry)
      if (meta?.correlation !== undefined) listIn(this.#correlations, meta.correlation).push(entry)
      if (meta?.causation !== undefined) listIn(this.#causations, meta.causation).push(entry)
    } else {
      const at = insertSorted(all, entry)
      this.#allChanged(at)
      if (!isSystemStream(event.stream)) insertSorted(this.#app, entry)
      for (let i = insertSorted(stream, entry); i < stream.length; i++) stream[i]!.version = i + 1
      insertSorted(listIn(this.#types, event.type), entry)
      if (meta?.correlation !== undefined) insertSorted(listIn(this.#correlations, meta.correlation), entry)
      if (meta?.causation !== undefined) insertSorted(listIn(this.#causations, meta.causation), entry)
      if (at < all.length - 1) this.#epoch++
    }
    this.#indexId(entry)
    return entry
  }

  /**
   * Adds events (an import's, in any order) at their canonical places. Each list is merged
   * once per batch, so a batch landing mid-order costs the tail once, not once per event.
   * Arrival numbers follow the batch's canonical order. Returns the entries in canonical
   * order, already known ones included.
   */
  addEvents(items: readonly NewEvent[]): EventEntry[] {
    const fresh = new Map<string, EventEntry>()
    const out: EventEntry[] = []
    for (const { cid, event, size } of [...items].sort(compareEntries)) {
      const key = cid.toString()
      const existing = this.#events.get(key) ?? fresh.get(key)
      if (existing !== undefined) { out.push(existing); continue }
      const entry: EventEntry = { cid, key, event, version: 0, seq: this.#events.size, size }
      this.#register(entry)
      fresh.set(key, entry)
      out.push(entry)
    }
    if (fresh.size === 0) return out
    const added = [...fresh.values()]
    let moved = false
    const merge = (list: EventEntry[], add: EventEntry[]): number => {
      const at = mergeSorted(list, add)
      if (at < list.length - add.length) moved = true
      return at
    }
    this.#allChanged(merge(this.#all, added))
    merge(this.#app, added.filter((e) => !isSystemStream(e.event.stream)))
    for (const [stream, add] of groupBy(added, (e) => e.event.stream)) {
      const list = this.#streamList(stream)
      for (let i = merge(list, add); i < list.length; i++) list[i]!.version = i + 1
    }
    for (const [type, add] of groupBy(added, (e) => e.event.type)) merge(listIn(this.#types, type), add)
    for (const [id, add] of groupBy(added, (e) => e.event.meta?.correlation)) merge(listIn(this.#correlations, id), add)
    for (const [id, add] of groupBy(added, (e) => e.event.meta?.causation)) merge(listIn(this.#causations, id), add)
    for (const entry of added) this.#indexId(entry)
    if (moved) this.#epoch++
    return out
  }

  #register(entry: EventEntry): void {
    this.#events.set(entry.key, entry)
    this.#bySeq.push(entry)
    if (entry.size !== undefined) this.#eventBytes += entry.size
  }

  #streamList(stream: string): EventEntry[] {
    let list = this.#streams.get(stream)
    if (list === undefined) { list = []; this.#streams.set(stream, list); this.#newStreamNames.push(stream) }
    return list
  }

  /** Drops the state-hash checkpoints that an insert at `at` in the global order invalidated. */
  #allChanged(at: number): void {
    const cps = this.#hashCheckpoints
    if (cps.length > 0 && cps.at(-1)!.count > at) this.#hashCheckpoints = cps.filter((c) => c.count <= at)
  }

  #indexId(entry: EventEntry): void {
    const id = entry.event.meta?.id
    if (id === undefined) return
    let ids = this.#ids.get(entry.event.stream)
    if (ids === undefined) { ids = new Map(); this.#ids.set(entry.event.stream, ids) }
    const held = ids.get(id)
    // The first in canonical order wins, so replicas agree whatever the arrival order.
    if (held === undefined || compareEntries(entry, held) < 0) ids.set(id, entry)
  }

  addObject(info: ObjectInfo): void {
    let byType = this.#objects.get(info.type)
    if (byType === undefined) { byType = new Map(); this.#objects.set(info.type, byType) }
    const key = info.cid.toString()
    const held = byType.get(key)
    if (held === undefined || compareEntries(this.entry(info.event)!, this.entry(held.event)!) < 0) byType.set(key, info)
    const sized = this.#objectSizes.get(key)
    if (sized === undefined || compareEntries(this.entry(info.event)!, this.entry(sized.event)!) < 0) {
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
    const all = this.#all
    const last = this.#hashCheckpoints.at(-1)
    const state = last === undefined ? sha256.create() : last.state.clone()
    for (let i = last?.count ?? 0; i < all.length; i++) {
      state.update(all[i]!.cid.bytes)
      if ((i + 1) % HASH_STEP === 0) this.#hashCheckpoints.push({ count: i + 1, state: state.clone() })
    }
    return CID.createV1(RAW, Digest.create(SHA2_256, state.digest()))
  }
}

function listIn(map: Map<string, EventEntry[]>, key: string): EventEntry[] {
  let list = map.get(key)
  if (list === undefined) { list = []; map.set(key, list) }
  return list
}

/** Groups entries by a key, keeping their order; entries whose key is undefined are left out. */
function groupBy(entries: readonly EventEntry[], keyOf: (e: EventEntry) => string | undefined): Map<string, EventEntry[]> {
  const groups = new Map<string, EventEntry[]>()
  for (const e of entries) {
    const key = keyOf(e)
    if (key === undefined) continue
    let g = groups.get(key)
    if (g === undefined) { g = []; groups.set(key, g) }
    g.push(e)
  }
  return groups
}

/** The public shape of an entry; `version` overrides the entry's current version (time travel). */
export function toStoredEvent<D = unknown>(entry: EventEntry, version: number = entry.version): StoredEvent<D> {
  const e = entry.event
  return {
    cid: entry.cid, stream: e.stream, type: e.type, ts: e.ts, tc: e.tc, version,
    prev: e.prev, parents: e.parents, data: e.data as D, meta: e.meta, author: e.author,
  }
}
