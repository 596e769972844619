import type { CID } from 'multiformats/cid'
import type { LogViews } from '../index/views.ts'

/** At most this many hints per head: distances up to 2^40 cover any real log. */
const MAX_HINTS_PER_HEAD = 40

/**
 * The heads plus, for each head, the ancestors at distances 1, 2, 4, 8, … along its first
 * parents, ending with the root. A responder that has never seen our heads recognises the
 * newest hint it holds, so it sends at most about as many extra events as lie between that
 * hint and the true fork point (under half the distance).
 */
export function syncHints(views: LogViews, heads: readonly CID[]): CID[] {
  const out = new Map<string, CID>()
  for (const head of heads) {
    out.set(head.toString(), head)
    let entry = views.entry(head)
    let distance = 0
    let next = 1
    let hints = 0
    while (entry !== undefined && hints < MAX_HINTS_PER_HEAD) {
      const parent = entry.event.parents[0]
      if (parent === undefined) { out.set(entry.key, entry.cid); break }
      entry = views.entry(parent)
      distance++
      if (entry !== undefined && distance === next) {
        out.set(entry.key, entry.cid)
        hints++
        next *= 2
      }
    }
  }
  return [...out.values()]
}
