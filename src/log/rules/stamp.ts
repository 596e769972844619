import type { Stamp } from '../event/interface.ts'

/**
 * The largest clock counter (`tc`) a stamp may carry: 2^40. A counter grows by one per event
 * appended while the wall clock is not past the parents' `ts` — even a peer stamped a whole
 * day ahead leaves far fewer appends than this before the wall clock catches up — and stays
 * far below 2^53, where integers stop being exact.
 */
export const MAX_TC: number = 2 ** 40

/**
 * The next hybrid-logical-clock stamp for an event whose parents carry `parents`:
 * wall-clock time unless a parent is ahead of it, and a counter that breaks ties so a
 * child always stamps strictly above each parent. A counter at MAX_TC moves to the next
 * millisecond instead, so a stamp never leaves the range every replica accepts.
 */
export function nextStamp(parents: readonly Stamp[], now: number): Stamp {
  let maxTs = -1
  let maxTc = -1
  for (const p of parents) {
    if (p.ts > maxTs) {
      maxTs = p.ts
      maxTc = p.tc
    } else if (p.ts === maxTs && p.tc > maxTc) maxTc = p.tc
  }
  const wall = Math.floor(now)
  if (wall > maxTs) return { ts: wall, tc: 0 }
  if (maxTc >= MAX_TC) return { ts: maxTs + 1, tc: 0 }
  return { ts: maxTs, tc: maxTc + 1 }
}
