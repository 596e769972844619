import type { CID } from 'multiformats/cid'
import { Heap } from './views/heap.ts'
import type { LogViews } from './views/views.ts'

/**
 * The events reachable from `heads` and not from `since`, newest first, as arrival numbers.
 * Walks back from both sides in canonical order (which is topological, so an event's mark is
 * final when it is popped) and stops once no event only we hold is left in the queue: the
 * cost grows with what is new, not with the log.
 */
export function newEvents(views: LogViews, heads: readonly CID[], since: readonly CID[]): number[] {
  // One mark per event instead of sets: QUEUED for ours, QUEUED | THEIRS for the peer's.
  const marks = new Uint8Array(views.size)
  const heap = new Heap<number>((a, b) => views.compare(a, b) > 0) // newest first
  let ours = 0
  for (const cid of since) {
    const s = views.seqOf(cid)
    if (s < 0 || marks[s] !== 0) continue
    marks[s] = QUEUED | THEIRS
    heap.push(s)
  }
  for (const cid of heads) {
    const s = views.seqOf(cid)
    if (s < 0 || marks[s] !== 0) continue
    marks[s] = QUEUED
    heap.push(s)
    ours++
  }
  const out: number[] = []
  while (ours > 0) {
    const s = heap.pop()!
    const isTheirs = marks[s] === (QUEUED | THEIRS)
    if (!isTheirs) {
      ours--
      out.push(s)
    }
    for (const parent of views.parents(s)) {
      const mark = marks[parent]!
      if (mark === 0) {
        marks[parent] = isTheirs ? QUEUED | THEIRS : QUEUED
        if (!isTheirs) ours++
        heap.push(parent)
      } else if (isTheirs && mark === QUEUED) {
        marks[parent] = QUEUED | THEIRS
        ours--
      }
    }
  }
  return out
}

const QUEUED = 1
const THEIRS = 2
