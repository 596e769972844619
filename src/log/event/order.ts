import type { CID } from 'multiformats/cid'
import { compareBytes } from '../../block/codec.ts'
import type { Stamp } from './interface.ts'

/** Compares two stamps: by ts, then tc. */
export function compareStamps(a: Stamp, b: Stamp): number {
  return a.ts - b.ts || a.tc - b.tc
}

/**
 * Cairn's canonical order: (ts, tc, CID bytes). It is topological (children stamp above
 * their parents) and identical on every replica holding the same blocks.
 *
 * @example
 * const events = [...fromA, ...fromB].sort(compareEvents)   // the order every replica agrees on
 */
export function compareEvents(a: Stamp & { cid: CID }, b: Stamp & { cid: CID }): number {
  return compareStamps(a, b) || compareBytes(a.cid.bytes, b.cid.bytes)
}

/** `compareEvents` for `{ cid, event }` pairs, without building an object per comparison. */
export function compareCidEvents(a: { cid: CID; event: Stamp }, b: { cid: CID; event: Stamp }): number {
  return a.event.ts - b.event.ts || a.event.tc - b.event.tc || compareBytes(a.cid.bytes, b.cid.bytes)
}

/** CIDs sorted by their bytes, duplicates removed: the form `parents` and heads take. */
export function sortCids(cids: Iterable<CID>): CID[] {
  const byKey = new Map<string, CID>()
  for (const cid of cids) byKey.set(cid.toString(), cid)
  return [...byKey.values()].sort((a, b) => compareBytes(a.bytes, b.bytes))
}
