import type { CID } from 'multiformats/cid'
import type { CidMap } from '../../block/cid-map.ts'
import type { EventBlock } from '../event/interface.ts'
import { ACCESS_STREAM, type AccessEvent, readAccessEvent } from '../rules/access.ts'
import type { LogViews } from './views.ts'

const EMPTY: ReadonlySet<AccessEvent> = new Set()

/**
 * For every event of the log, the access events of its causal past — what the access rule
 * judges it by. Derived from the views' parent columns (parents always arrive before their
 * children) and the access events' own data: one small id per event, the sets interned, so
 * a million events that all follow the same grants share one set. Kept only for stores with
 * access rules; computed on open and after each commit (`catchUp`).
 */
export class AccessContexts {
  readonly #views: LogViews
  readonly #load: (seq: number) => Promise<EventBlock>
  readonly #isDid: (did: unknown) => boolean
  #ctx: Int32Array = new Int32Array(1024)
  #done = 0
  readonly #sets: ReadonlySet<AccessEvent>[] = [EMPTY]
  readonly #ids = new Map<ReadonlySet<AccessEvent>, number>([[EMPTY, 0]])
  readonly #interned = new Map<string, number>([['', 0]])
  /** Access events by arrival number, in arrival order. */
  readonly #events = new Map<number, AccessEvent>()
  /** A number per access event, for interning keys. */
  readonly #numbers = new Map<AccessEvent, number>()

  constructor(views: LogViews, load: (seq: number) => Promise<EventBlock>, isDid: (did: unknown) => boolean) {
    this.#views = views
    this.#load = load
    this.#isDid = isDid
  }

  /** Every access event of the log (the past of its heads, which reach all of it). */
  all(): Iterable<AccessEvent> {
    return this.#events.values()
  }

  /** The access event at an arrival number, if it is one. */
  accessEventAt(seq: number): AccessEvent | undefined {
    return this.#events.get(seq)
  }

  /** The access events in the causal past of a stored event (not counting itself). */
  pastOf(seq: number): ReadonlySet<AccessEvent> {
    return this.#sets[this.#ctx[seq]!]!
  }

  /** Brings the contexts up to the views' last event, loading the access events among the new ones. */
  async catchUp(): Promise<void> {
    const views = this.#views
    const size = views.size
    if (this.#ctx.length < size) {
      const grown = new Int32Array(Math.max(size, this.#ctx.length * 2))
      grown.set(this.#ctx.subarray(0, this.#done))
      this.#ctx = grown
    }
    for (let seq = this.#done; seq < size; seq++) {
      const parents = views.parents(seq)
      const sets: ReadonlySet<AccessEvent>[] = []
      for (const p of parents) sets.push(this.#withSelf(p))
      const past = this.#intern(union(sets))
      this.#ctx[seq] = this.#ids.get(past)!
      if (views.streamOf(seq) === ACCESS_STREAM) {
        const event = await this.#load(seq)
        const access = readAccessEvent(views.cid(seq), event.type, event.data, past, this.#isDid)
        this.#events.set(seq, access)
        this.#numbers.set(access, this.#numbers.size)
      }
      this.#done = seq + 1
    }
  }

  /** The past of a stored event including the event itself when it is an access event. */
  #withSelf(seq: number): ReadonlySet<AccessEvent> {
    const past = this.pastOf(seq)
    const self = this.#events.get(seq)
    if (self === undefined) return past
    return this.#intern(new Set([...past, self]))
  }

  #intern(set: ReadonlySet<AccessEvent>): ReadonlySet<AccessEvent> {
    if (this.#ids.has(set)) return set
    const key = [...set]
      .map((a) => this.#numbers.get(a)!)
      .sort((x, y) => x - y)
      .join(',')
    const known = this.#interned.get(key)
    if (known !== undefined) return this.#sets[known]!
    const id = this.#sets.length
    this.#sets.push(set)
    this.#ids.set(set, id)
    this.#interned.set(key, id)
    return set
  }
}

/** The union of sets, returning one of them when it holds all the others (the common case). */
export function union(sets: readonly ReadonlySet<AccessEvent>[]): ReadonlySet<AccessEvent> {
  if (sets.length === 0) return EMPTY
  let widest = sets[0]!
  for (const s of sets) if (s.size > widest.size) widest = s
  if (sets.every((s) => s === widest || [...s].every((a) => widest.has(a)))) return widest
  const out = new Set<AccessEvent>()
  for (const s of sets) for (const a of s) out.add(a)
  return out
}

/** The pasts of events a plan adds, not stored yet, by CID. */
export type PendingPasts = CidMap<{ readonly past: ReadonlySet<AccessEvent>; readonly self: AccessEvent | undefined }>

/** The past of an event's parents, stored or pending, each with itself when it is an access event. */
export function pastOfParents(parents: readonly CID[], contexts: AccessContexts, views: LogViews, pending: PendingPasts): ReadonlySet<AccessEvent> {
  const sets: ReadonlySet<AccessEvent>[] = []
  for (const p of parents) {
    const held = pending.get(p)
    if (held !== undefined) {
      sets.push(held.self === undefined ? held.past : new Set([...held.past, held.self]))
      continue
    }
    const seq = views.seqOf(p)
    const past = contexts.pastOf(seq)
    const self = contexts.accessEventAt(seq)
    sets.push(self === undefined ? past : new Set([...past, self]))
  }
  return union(sets)
}
