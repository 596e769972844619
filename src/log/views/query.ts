import { CairnError } from '../../errors/cairn-error.ts'
import type { EventFilter } from '../event/interface.ts'
import { firstIndex, SeqList } from './seq-list.ts'
import { streamMatches, typeMatches } from '../event/filter.ts'
import type { LogViews, OrderKey } from './views.ts'
import { Heap } from './heap.ts'

/** What a scan walks and where it stops. Bounds combine (all must hold). */
export interface ScanSpec {
  /** Lists in canonical order; several are merged. They may grow while the scan runs. */
  readonly lists: readonly SeqList[]
  readonly filter?: ((seq: number) => boolean) | undefined
  /** ts >= minTs */
  readonly minTs?: number | undefined
  /** ts <= maxTs */
  readonly maxTs?: number | undefined
  /** Events above (or at, when inclusive) this key. */
  readonly lower?: { key: OrderKey; inclusive: boolean } | undefined
  /** Events below (or at, when inclusive) this key. */
  readonly upper?: { key: OrderKey; inclusive: boolean } | undefined
  readonly reverse?: boolean | undefined
  readonly limit?: number | undefined
  /**
   * Called with each event the scan visits once positioned by binary search, whether it
   * matches or not: what a lazy scan costs, observable without timing.
   */
  readonly onVisit?: ((seq: number) => void) | undefined
}

interface Cursor {
  readonly list: SeqList
  i: number
}

/**
 * Lazily walks sorted lists of events in canonical order (merging several with a heap),
 * yielding the arrival numbers of those that match. It sees the log as it was when it
 * started: events that arrive later (appends or imports, wherever they land) are skipped.
 * When an import inserts mid-list (`views.epoch` changes), each cursor re-finds its place
 * after the last event visited by binary search, so positions stay right.
 */
export function* scan(views: LogViews, spec: ScanSpec): Generator<number> {
  const startSeq = views.size
  const reverse = spec.reverse === true
  let limit = spec.limit ?? Infinity
  if (limit <= 0) return
  const minTs = spec.minTs ?? -Infinity
  const maxTs = spec.maxTs ?? Infinity
  const lower = spec.lower
  // Events appended later sort after today's last one: never walk into them.
  const last = views.order().last()
  const upper = spec.upper ?? (last === undefined ? undefined : { key: views.key(last), inclusive: true })
  const aboveLow = (s: number): boolean => views.ts(s) >= minTs && (lower === undefined || (lower.inclusive ? views.compareKey(s, lower.key) >= 0 : views.compareKey(s, lower.key) > 0))
  const belowHigh = (s: number): boolean => views.ts(s) <= maxTs && (upper === undefined || (upper.inclusive ? views.compareKey(s, upper.key) <= 0 : views.compareKey(s, upper.key) < 0))
  const lists = spec.lists.filter((l) => l.length > 0)
  /** Index of the next event of list `l` to visit, after `after` when given. */
  const position = (l: SeqList, after: OrderKey | undefined): number => {
    if (!reverse) {
      const start = firstIndex(l.length, (i) => aboveLow(l.at(i)))
      return after === undefined
        ? start
        : Math.max(
            start,
            firstIndex(l.length, (i) => views.compareKey(l.at(i), after) > 0),
          )
    }
    const end = firstIndex(l.length, (i) => !belowHigh(l.at(i)))
    return (
      (after === undefined
        ? end
        : Math.min(
            end,
            firstIndex(l.length, (i) => views.compareKey(l.at(i), after) >= 0),
          )) - 1
    )
  }
  const inRange = (l: SeqList, i: number): boolean => (reverse ? i >= 0 && aboveLow(l.at(i)) : i < l.length && belowHigh(l.at(i)))
  // A heap of list cursors, ordered by their current event (smallest first, or largest when reversed).
  const before = (a: Cursor, b: Cursor): boolean => {
    const c = views.compare(a.list.at(a.i), b.list.at(b.i))
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
  let lastVisited = -1
  const onVisit = spec.onVisit
  while (heap.size > 0) {
    if (views.epoch !== epoch) {
      epoch = views.epoch
      build(lastVisited < 0 ? undefined : views.key(lastVisited))
      if (heap.size === 0) return
    }
    const top = heap.peek()!
    const seq = top.list.at(top.i)
    onVisit?.(seq)
    lastVisited = seq
    top.i += reverse ? -1 : 1
    if (inRange(top.list, top.i)) heap.fixTop()
    else heap.pop()
    if (seq >= startSeq) continue
    if (spec.filter !== undefined && !spec.filter(seq)) continue
    yield seq
    if (--limit <= 0) return
  }
}

/**
 * Whether an event passes an event filter. Events of system streams (`$objects`) pass only
 * when the filter names them: `stream` is that stream, or `streamPrefix` starts with `$`.
 */
export function matchesFilter(views: LogViews, seq: number, f: EventFilter): boolean {
  return typeMatches(f, views.typeOf(seq)) && streamMatches(f, views.streamOf(seq))
}

const EMPTY = new SeqList(new Uint32Array(0))

/**
 * The lists a filtered scan should walk, picked by size: one stream; the type's list; the
 * streams under a prefix (merged) when they hold fewer events than the alternative; else the
 * global order. What the lists hold beyond the filter is left to `matchesFilter`.
 */
export function listsFor(views: LogViews, f: EventFilter): SeqList[] {
  if (f.stream !== undefined) return [views.stream(f.stream) ?? EMPTY]
  const byType = f.type === undefined ? undefined : (views.ofType(f.type) ?? EMPTY)
  const global = views.order()
  if (f.streamPrefix === undefined) return [byType ?? global]
  const streams = views.streamsWithPrefix(f.streamPrefix).map((s) => views.stream(s)!)
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
export function streamAsOfEvent(views: LogViews, stream: string, target: number): number[] {
  const list = views.stream(stream)
  if (list === undefined || list.length === 0 || views.compare(target, list.at(0)) < 0) return []
  const first = list.at(0)
  const seen = new Set<number>([target])
  const members = new Set<number>()
  const stack: number[] = [target]
  while (stack.length > 0) {
    const s = stack.pop()!
    if (views.streamOf(s) === stream) members.add(s)
    for (const p of views.parents(s)) {
      if (seen.has(p)) continue
      seen.add(p)
      if (p >= views.size) throw new CairnError('CAIRN_CORRUPT', `a parent of ${views.cid(s)} is missing from the views`, { cid: views.cid(s) })
      if (views.compare(p, first) >= 0) stack.push(p)
    }
  }
  const end = firstIndex(list.length, (i) => views.compare(list.at(i), target) > 0)
  const out: number[] = []
  for (let i = 0; i < end; i++) if (members.has(list.at(i))) out.push(list.at(i))
  return out
}
