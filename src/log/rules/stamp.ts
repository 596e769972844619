import type { Stamp } from '../event/interface.ts'

/**
 * The next hybrid-logical-clock stamp for an event whose parents carry `parents`:
 * wall-clock time unless a parent is ahead of it, and a counter that breaks ties so a
 * child always stamps strictly above each parent.
 */
export function nextStamp(parents: readonly Stamp[], now: number): Stamp {
  let maxTs = -1
  let maxTc = -1
  for (const p of parents) {
    if (p.ts > maxTs) { maxTs = p.ts; maxTc = p.tc }
    else if (p.ts === maxTs && p.tc > maxTc) maxTc = p.tc
  }
  const wall = Math.floor(now)
  if (wall > maxTs) return { ts: wall, tc: 0 }
  return { ts: maxTs, tc: maxTc + 1 }
}
