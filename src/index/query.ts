import type { CID } from 'multiformats/cid'
import { CairnError } from '../errors/cairn-error.ts'
import type { EventFilter } from '../log/interface.ts'
import { compareEntries, firstIndex, isSystemStream, type EventEntry, type LogViews } from './views.ts'
import { Heap } from './heap.ts'

/**
 * Entries visited by lazy scans since the module loaded (after each binary-search positioning).
 * Exposed so specs can check that `limit: 10` visits about 10 entries, without timing.
 */
export const scanCounter: { visited: number } = { visited: 0 }

/** A position in the canonical order. */
export interface OrderKey {
  readonly cid: CID
  readonly event: { readonly ts: number; readonly tc: number }
}

/** What a scan walks and where it stops. Bounds combine (all must hold). */
export interface ScanSpec {
  /** Lists in canonical order; several are merged. They may grow while the scan runs. */
  readonly lists: readonly (readonly EventEntry[])[]
  readonly filter?: ((e: EventEntry) => boolean) | undefined
  /** ts >= minTs */
  readonly minTs?: number | undefined
  /** ts <= maxTs */
  readonly maxTs?: number | undefined
  /** Entries above (or at, when inclusive) this key. */
  readonly lower?: { key: OrderKey; inclusive: boolean } | undefined
  /** Entries below (or at, when inclusive) this key. */
  readonly upper?: { key: OrderKey; inclusive: boolean } | undefined
  readonly reverse?: boolean | undefined
  readonly limit?: number | undefined
}

/**
 * Lazily walks sorted lists of entries in canonical order (merging several with a heap),
 * yielding those that match. It sees the log as it was when it started: entries that arrive
 * later (appends or imports, wherever they land) are skipped. When an import inserts
 * mid-list (`views.epoch` changes), each list cursor re-finds its place after the last entry
 * visited by binary search, so positions stay right. Positioning is by binary search;
 * `scanCounter.visited` counts entries looked at after that.
 */
export function* scan(views: LogViews, spec: ScanSpec): Generator<EventEntry> {
  const startSeq = views.size
  const reverse = spec.reverse === true
  let limit = spec.limit ?? Infinity
  if (limit <= 0) return
  const minTs = spec.minTs ?? -Infinity
  const maxTs = spec.maxTs ?? Infinity
  const lower = spec.lower
  // Events appended later sort after today's last one: never walk into them.
  const last = views.all().at(-1)
  const upper = spec.upper ?? (last === undefined ? undefined : { key: last, inclusive: true })
  const aboveLow = (e: EventEntry): boolean =>
    e.event.ts >= minTs && (lower === undefined || (lower.inclusive ? compareEntries(e, lower.key) >= 0 : compareEntries(e, lower.key) > 0))
  const belowHigh = (e: EventEntry): boolean =>
    e.event.ts <= maxTs && (upper === undefined || (upper.inclusive ? compareEntries(e, upper.key) <= 0 : compareEntries(e, upper.key) < 0))
  const lists = spec.lists.filter((l) => l.length > 0)
  /** Index of the next entry of list `l` to visit, after `after` when given. */
  const position = (l: readonly EventEntry[], after: OrderKey | undefined): number => {
    if (!reverse) {
      const start = firstIndex(l, aboveLow)
      return after === undefined ? start : Math.max(start, firstIndex(l, (e) => compareEntries(e, after) > 0))
    }
    const end = firstIndex(l, (e) => !belowHigh(e))
    return (after === undefined ? end : Math.min(end, firstIndex(l, (e) => compareEntries(e, after) >= 0))) - 1
  }
  const inRange = (l: readonly EventEntry[], i: number): boolean =>
    reverse ? i >= 0 && aboveLow(l[i]!) : i < l.length && belowHigh(l[i]!)
  // A heap of list cursors, ordered by their current entry (smallest first, or largest when reversed).
  const before = (a: Cursor, b: Cursor): boolean => {
    const c = compareEntries(a.list[a.i]!, b.list[b.i]!)
    return reverse ? c > 0 : c < 0
  }
  let heap = new Heap<Cursor>(before)
  const build = (after: OrderKey | undefined): void => {
    heap = new Heap<Cursor>(before)
    for (const list of lists) {
      const i = position(list, after)
      if (inRange(list, i)) heap.push({ list, i })
    }
  }
  build(undefined)
  let epoch = views.epoch
  let lastVisited: EventEntry | undefined
  while (heap.size > 0) {
    if (views.epoch !== epoch) {
      epoch = views.epoch
      build(lastVisited)
      if (heap.size === 0) return
    }
    const top = heap.peek()!
    const entry = top.list[top.i]!
    scanCounter.visited++
    lastVisited = entry
    top.i += reverse ? -1 : 1
    if (inRange(top.list, top.i)) heap.fixTop()
    else heap.pop()
    if (entry.seq >= startSeq) continue
    if (spec.filter !== undefined && !spec.filter(entry)) continue
    yield entry
    if (--limit <= 0) return
  }
}

interface Cursor {
  readonly list: readonly EventEntry[]
  i: number
}

/**
 * Whether an entry passes an event filter. Events of system streams (`$objects`) pass only
 * when the filter names them: `stream` is that stream, or `streamPrefix` starts with `$`.
 */
export function matchesFilter(e: EventEntry, f: EventFilter): boolean {
  const stream = e.event.stream
  if (f.stream !== undefined && stream !== f.stream) return false
  if (f.type !== undefined && e.event.type !== f.type) return false
  if (f.streamPrefix !== undefined && !stream.startsWith(f.streamPrefix)) return false
  if (f.stream === undefined && isSystemStream(stream) && !(f.streamPrefix !== undefined && isSystemStream(f.streamPrefix))) return false
  return true
}

/**
 * The lists a filtered scan should walk, picked by size: one stream; the type's list; the
 * streams under a prefix (merged) when they hold fewer events than the alternative; else the
 * global order. What the lists hold beyond the filter is left to `matchesFilter`.
 */
export function listsFor(views: LogViews, f: EventFilter): (readonly EventEntry[])[] {
  if (f.stream !== undefined) return [views.stream(f.stream)]
  const byType = f.type === undefined ? undefined : views.ofType(f.type)
  const global = f.streamPrefix !== undefined && isSystemStream(f.streamPrefix) ? views.all() : views.app()
  if (f.streamPrefix === undefined) return [byType ?? global]
  const streams = views.streamsWithPrefix(f.streamPrefix).map((s) => views.stream(s))
  let held = 0
  for (const s of streams) held += s.length
  const other = byType ?? global
  return held < (byType === undefined ? other.length / 2 : other.length) ? streams : [other]
}

/**
 * The events of `stream` that are ancestors-or-self of `target` (the stream as the log stood
 * at that event), in canonical order. Walks parents from `target`, never below the stream's
 * first event (nothing older can lead back into the stream).
 */
export function streamAsOfEvent(views: LogViews, stream: string, target: EventEntry): EventEntry[] {
  const list = views.stream(stream)
  const first = list[0]
  if (first === undefined || compareEntries(target, first) < 0) return []
  const seen = new Set<string>([target.key])
  const members = new Set<string>()
  const stack: EventEntry[] = [target]
  while (stack.length > 0) {
    const e = stack.pop()!
    if (e.event.stream === stream) members.add(e.key)
    for (const p of e.event.parents) {
      const key = p.toString()
      if (seen.has(key)) continue
      seen.add(key)
      const parent = views.entry(key)
      if (parent === undefined) throw new CairnError('CAIRN_CORRUPT', `event ${p}, a parent of ${e.cid}, is missing from the views`, { cid: p })
      if (compareEntries(parent, first) >= 0) stack.push(parent)
    }
  }
  const end = firstIndex(list, (e) => compareEntries(e, target) > 0)
  const out: EventEntry[] = []
  for (let i = 0; i < end; i++) if (members.has(list[i]!.key)) out.push(list[i]!)
  return out
}
