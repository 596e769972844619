import type { CID } from 'multiformats/cid'
import type { LogViews } from './views/views.ts'

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
    let seq = views.seqOf(start)
    let distance = 0
    let next = 1
    let hints = 0
    while (seq >= 0 && hints < MAX_HINTS_PER_BRANCH) {
      const cid = views.cid(seq)
      const key = cid.toString()
      if (walked.has(key)) {
        out.set(key, cid)
        break
      }
      walked.add(key)
      const [first, ...others] = views.parents(seq)
      if (first === undefined) {
        out.set(key, cid)
        break
      }
      for (const other of others) {
        const o = views.cid(other)
        if (sideBranches < MAX_BRANCHES && !out.has(o.toString())) {
          queue.push(o)
          sideBranches++
        }
      }
      seq = first
      distance++
      if (distance === next) {
        const c = views.cid(seq)
        out.set(c.toString(), c)
        hints++
        next *= 2
      }
    }
  }
  return [...out.values()]
}
