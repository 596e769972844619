import type { CID } from 'multiformats/cid'
import type { LogViews } from '../index/views.ts'

/** At most this many hints per branch: distances up to 2^40 cover any real log. */
const MAX_HINTS_PER_BRANCH = 40
/** Side branches (other parents of merges passed on the way) that get hints of their own. */
const MAX_BRANCHES = 16

/**
 * The heads plus, for each head, the ancestors at distances 1, 2, 4, 8, … along its first
 * parents, ending with the root. A merge passed on the way starts a hinted branch of its
 * own from each other parent (up to MAX_BRANCHES), so a responder that missed one side of
 * a merge still finds the newest point it shares on that side. It then sends at most about
 * as many extra events as lie between that hint and the true fork point.
 */
export function syncHints(views: LogViews, heads: readonly CID[]): CID[] {
  const out = new Map<string, CID>()
  const queue: CID[] = [...heads]
  // A branch stops where it meets one walked before: past that point the other's hints serve.
  const walked = new Set<string>()
  let sideBranches = 0
  while (queue.length > 0) {
    const start = queue.shift()!
    out.set(start.toString(), start)
    let entry = views.entry(start)
    let distance = 0
    let next = 1
    let hints = 0
    while (entry !== undefined && hints < MAX_HINTS_PER_BRANCH) {
      if (walked.has(entry.key)) { out.set(entry.key, entry.cid); break }
      walked.add(entry.key)
      const [first, ...others] = entry.event.parents
      if (first === undefined) { out.set(entry.key, entry.cid); break }
      for (const other of others) {
        if (sideBranches < MAX_BRANCHES && !out.has(other.toString())) { queue.push(other); sideBranches++ }
      }
      entry = views.entry(first)
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
