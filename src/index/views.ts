import type { CID } from 'multiformats/cid'
import type { EventBlock, StoredEvent } from '../log/interface.ts'
import { compareEvents } from '../log/order.ts'
import type { ObjectInfo, Referrer } from '../objects/interface.ts'

/** One event held by the views. `version` is kept current when merges insert earlier events. */
export interface EventEntry {
  readonly cid: CID
  readonly key: string
  readonly event: EventBlock
  version: number
  /** Arrival number in this replica: lets a lazy reader ignore events added after it began. */
  readonly seq: number
}

/**
 * Derived, rebuildable views of the log held in memory: events by CID, streams in canonical
 * order, idempotency keys, objects by type and referrers. Rebuilt from the blocks on open.
 */
export class LogViews {
  readonly #events = new Map<string, EventEntry>()
  readonly #streams = new Map<string, EventEntry[]>()
  readonly #ids = new Map<string, Map<string, EventEntry>>()
  readonly #objects = new Map<string, Map<string, ObjectInfo>>()
  readonly #referrers = new Map<string, Map<string, Referrer>>()
  /** Block → the events and blocks that link to it, over every link: events, objects, files. */
  readonly #containers = new Map<string, Set<string>>()
  /** DAG roots whose links are already in #containers. */
  readonly #walked = new Set<string>()

  get size(): number {
    return this.#events.size
  }

  entry(cid: CID | string): EventEntry | undefined {
    return this.#events.get(typeof cid === 'string' ? cid : cid.toString())
  }

  stream(stream: string): readonly EventEntry[] {
    return this.#streams.get(stream) ?? []
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
    return list.sort((a, b) => compareEvents(toOrder(this.entry(a.event)!), toOrder(this.entry(b.event)!)))
  }

  referrers(cid: CID): Referrer[] {
    return [...(this.#referrers.get(cid.toString())?.values() ?? [])]
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

  /** Adds an event at its canonical place in its stream. Returns the entry. */
  addEvent(cid: CID, event: EventBlock): EventEntry {
    const key = cid.toString()
    const existing = this.#events.get(key)
    if (existing !== undefined) return existing
    let list = this.#streams.get(event.stream)
    if (list === undefined) { list = []; this.#streams.set(event.stream, list) }
    const entry: EventEntry = { cid, key, event, version: 0, seq: this.#events.size }
    let at = list.length
    while (at > 0 && compareEvents(toOrder(list[at - 1]!), toOrder(entry)) > 0) at--
    list.splice(at, 0, entry)
    for (let i = at; i < list.length; i++) list[i]!.version = i + 1
    this.#events.set(key, entry)
    const id = event.meta?.id
    if (id !== undefined) {
      let ids = this.#ids.get(event.stream)
      if (ids === undefined) { ids = new Map(); this.#ids.set(event.stream, ids) }
      const held = ids.get(id)
      // The first in canonical order wins, so replicas agree whatever the arrival order.
      if (held === undefined || compareEvents(toOrder(entry), toOrder(held)) < 0) ids.set(id, entry)
    }
    return entry
  }

  addObject(info: ObjectInfo): void {
    let byType = this.#objects.get(info.type)
    if (byType === undefined) { byType = new Map(); this.#objects.set(info.type, byType) }
    const held = byType.get(info.cid.toString())
    if (held === undefined || compareEvents(toOrder(this.entry(info.event)!), toOrder(this.entry(held.event)!)) < 0) byType.set(info.cid.toString(), info)
  }

  addReferrer(target: CID, from: Referrer): void {
    const key = target.toString()
    let refs = this.#referrers.get(key)
    if (refs === undefined) { refs = new Map(); this.#referrers.set(key, refs) }
    refs.set(from.cid.toString(), from)
  }
}

function toOrder(e: EventEntry): { ts: number; tc: number; cid: CID } {
  return { ts: e.event.ts, tc: e.event.tc, cid: e.cid }
}

/** The public shape of an entry. */
export function toStoredEvent<D = unknown>(entry: EventEntry): StoredEvent<D> {
  const e = entry.event
  return {
    cid: entry.cid, stream: e.stream, type: e.type, ts: e.ts, tc: e.tc, version: entry.version,
    prev: e.prev, parents: e.parents, data: e.data as D, meta: e.meta, author: e.author,
  }
}
