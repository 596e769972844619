import type { EventMeta } from '../event/interface.ts'
import { firstIndex, SeqList } from './seq-list.ts'

/** The lists as a snapshot holds them (typed arrays are views into the live ones or fresh). */
export interface EventListParts {
  /** Empty when the global order is the arrival order (`orderIsArrival`). */
  readonly order: Uint32Array
  readonly orderIsArrival: boolean
  readonly streamNames: readonly string[]
  readonly typeNames: readonly string[]
  /** Per stream id, its events (canonical order), concatenated; `streamListOffsets` has count+1 entries. */
  readonly streamLists: Uint32Array
  readonly streamListOffsets: Uint32Array
  readonly typeLists: Uint32Array
  readonly typeListOffsets: Uint32Array
  readonly correlations: [string, number[]][]
  readonly causations: [string, number[]][]
  /** Stream id → its meta.ids and the events holding them. */
  readonly ids: [number, [string, number][]][]
}

/**
 * Lists of arrival numbers in canonical order: every event (the global order), each stream
 * (versions are positions), each type, each correlation and causation id; and per stream, the
 * earliest event carrying each `meta.id`. Streams and types are numbered as they first arrive.
 *
 * A local append stamps above every head, so it lands at the end of its lists (a push); an
 * import that brings older events is merged in place and bumps `epoch`, which tells lazy
 * readers to find their place again by binary search.
 */
export class EventLists {
  readonly #compare: (a: number, b: number) => number
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
  #epoch = 0

  /** `compare` is the canonical order between arrival numbers. */
  constructor(order: SeqList, compare: (a: number, b: number) => number) {
    this.#order = order
    this.#compare = compare
  }

  /** Bumped whenever an event lands anywhere but the end of a list it joins. */
  get epoch(): number {
    return this.#epoch
  }

  /** Every event, canonical order. Live: do not mutate. */
  get order(): SeqList {
    return this.#order
  }

  /** The id of a stream, numbering it when new. */
  streamId(name: string): number {
    return this.#idOf(name, this.#streamIds, this.#streamNames, this.#streamLists, true)
  }

  /** The id of a type, numbering it when new. */
  typeId(name: string): number {
    return this.#idOf(name, this.#typeIds, this.#typeNames, this.#typeLists, false)
  }

  streamName(id: number): string {
    return this.#streamNames[id]!
  }

  typeName(id: number): string {
    return this.#typeNames[id]!
  }

  get streamCount(): number {
    return this.#streamNames.length
  }

  get typeCount(): number {
    return this.#typeNames.length
  }

  stream(stream: string): SeqList | undefined {
    const id = this.#streamIds.get(stream)
    return id === undefined ? undefined : this.#streamLists[id]
  }

  /** The list of a stream id. */
  streamList(id: number): SeqList {
    return this.#streamLists[id]!
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

  /** The earliest event of `stream` carrying `meta.id` = `id`, or -1. */
  byId(stream: string, id: string): number {
    const sid = this.#streamIds.get(stream)
    return sid === undefined ? -1 : (this.#ids.get(sid)?.get(id) ?? -1)
  }

  /**
   * Forgets the streams and types numbered since there were `streams` and `types` of them (an
   * addition refused before its events joined any list: theirs are empty).
   */
  forgetNames(streams: number, types: number): void {
    if (this.#streamNames.length > streams) this.#sortedStreams = undefined
    for (const name of this.#streamNames.splice(streams)) this.#streamIds.delete(name)
    this.#streamLists.length = streams
    for (const name of this.#typeNames.splice(types)) this.#typeIds.delete(name)
    this.#typeLists.length = types
  }

  /**
   * Merges new events into their lists, each list once. `added` are their arrival numbers in
   * canonical order, `metas` their meta, `streamIdOf`/`typeIdOf` give their stream and type
   * ids. Returns where they entered the global order (for the state-hash checkpoints).
   */
  add(added: readonly number[], metas: readonly (EventMeta | undefined)[], streamIdOf: (seq: number) => number, typeIdOf: (seq: number) => number): number {
    const compare = this.#compare
    let moved = false
    const merge = (list: SeqList, add: readonly number[]): void => {
      if (list.merge(add, compare) < list.length - add.length) moved = true
    }
    const at = this.#order.merge(added, compare)
    if (at < this.#order.length - added.length) moved = true
    const byStream = new Map<number, number[]>()
    const byType = new Map<number, number[]>()
    for (const seq of added) {
      groupIn(byStream, streamIdOf(seq), seq)
      groupIn(byType, typeIdOf(seq), seq)
    }
    for (const [id, add] of byStream) merge(this.#streamLists[id]!, add)
    for (const [id, add] of byType) merge(this.#typeLists[id]!, add)
    for (let i = 0; i < added.length; i++) {
      const meta = metas[i]
      if (meta === undefined) continue
      const seq = added[i]!
      if (meta.correlation !== undefined) merge(listIn(this.#correlations, meta.correlation), [seq])
      if (meta.causation !== undefined) merge(listIn(this.#causations, meta.causation), [seq])
      if (meta.id !== undefined) this.#indexId(streamIdOf(seq), seq, meta.id)
    }
    if (moved) this.#epoch++
    return at
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

  #indexId(sid: number, seq: number, id: string): void {
    let ids = this.#ids.get(sid)
    if (ids === undefined) {
      ids = new Map()
      this.#ids.set(sid, ids)
    }
    const held = ids.get(id)
    // The first in canonical order wins, so replicas agree whatever the arrival order.
    if (held === undefined || this.#compare(seq, held) < 0) ids.set(id, seq)
  }

  /** The lists as snapshot parts (views into live arrays where they can be). */
  parts(): EventListParts {
    const [streamLists, streamListOffsets] = concatLists(this.#streamLists)
    const [typeLists, typeListOffsets] = concatLists(this.#typeLists)
    const seqLists = (m: Map<string, SeqList>): [string, number[]][] => [...m].map(([k, l]) => [k, [...l.view()]])
    return {
      order: this.#order.isIdentity ? new Uint32Array(0) : this.#order.view(),
      orderIsArrival: this.#order.isIdentity,
      streamNames: this.#streamNames,
      typeNames: this.#typeNames,
      streamLists,
      streamListOffsets,
      typeLists,
      typeListOffsets,
      correlations: seqLists(this.#correlations),
      causations: seqLists(this.#causations),
      ids: [...this.#ids].map(([sid, m]) => [sid, [...m]]),
    }
  }

  /** Lists over snapshot parts of `count` events; the stream and type lists are used in place. */
  static fromParts(p: EventListParts, count: number, compare: (a: number, b: number) => number): EventLists {
    const l = new EventLists(p.orderIsArrival ? SeqList.identity(count) : new SeqList(p.order, count), compare)
    p.streamNames.forEach((name, id) => {
      l.#streamNames.push(name)
      l.#streamIds.set(name, id)
      l.#streamLists.push(new SeqList(p.streamLists.subarray(p.streamListOffsets[id]!, p.streamListOffsets[id + 1]!), p.streamListOffsets[id + 1]! - p.streamListOffsets[id]!))
    })
    p.typeNames.forEach((name, id) => {
      l.#typeNames.push(name)
      l.#typeIds.set(name, id)
      l.#typeLists.push(new SeqList(p.typeLists.subarray(p.typeListOffsets[id]!, p.typeListOffsets[id + 1]!), p.typeListOffsets[id + 1]! - p.typeListOffsets[id]!))
    })
    for (const [k, list] of p.correlations) l.#correlations.set(k, new SeqList(Uint32Array.from(list), list.length))
    for (const [k, list] of p.causations) l.#causations.set(k, new SeqList(Uint32Array.from(list), list.length))
    for (const [sid, entries] of p.ids) l.#ids.set(sid, new Map(entries))
    return l
  }
}

function listIn(map: Map<string, SeqList>, key: string): SeqList {
  let list = map.get(key)
  if (list === undefined) {
    list = new SeqList()
    map.set(key, list)
  }
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
