import { CID } from 'multiformats/cid'
import { blockLinks, decodeTrusted } from '../block/codec.ts'
import type { BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { LogViews } from './views/views.ts'
import type { EventBlock } from './event/interface.ts'
import { Heap } from './views/heap.ts'
import { OBJECTS_STREAM, OBJECT_PUT } from './event/object-record.ts'
import { eventLinks, type EventLinks } from './event/links.ts'
import type { StorageEngine } from '../storage/interface.ts'

/**
 * The events reachable from `heads` and not from `since`, newest first, as arrival numbers.
 * Walks back from both sides in canonical order (which is topological, so an event's mark is
 * final when it is popped) and stops once no event only we hold is left in the queue: the
 * cost grows with what is new, not with the log.
 */
export function newEvents(views: LogViews, heads: readonly CID[], since: readonly CID[]): number[] {
  const theirs = new Set<number>()
  const queued = new Set<number>()
  const heap = new Heap<number>((a, b) => views.compare(a, b) > 0) // newest first
  let ours = 0
  for (const cid of since) {
    const s = views.seqOf(cid)
    if (s < 0 || theirs.has(s)) continue
    theirs.add(s)
    queued.add(s)
    heap.push(s)
  }
  for (const cid of heads) {
    const s = views.seqOf(cid)
    if (s < 0 || queued.has(s)) continue
    queued.add(s)
    heap.push(s)
    ours++
  }
  const out: number[] = []
  while (ours > 0) {
    const s = heap.pop()!
    const isTheirs = theirs.has(s)
    if (!isTheirs) {
      ours--
      out.push(s)
    }
    for (const parent of views.parents(s)) {
      if (!queued.has(parent)) {
        queued.add(parent)
        if (isTheirs) theirs.add(parent)
        else ours++
        heap.push(parent)
      } else if (isTheirs && !theirs.has(parent)) {
        theirs.add(parent)
        ours--
      }
    }
  }
  return out
}

/**
 * Every block reachable from `heads` and not from `since`: the new events, then the objects,
 * files and linked values they reach, minus any block an event of the peer's side also
 * reaches (found by walking the containment index upwards, so shared file chunks and
 * re-put objects are not sent twice). `horizon` is the views' size when the export was asked
 * for: events that arrive while it streams are neither ours nor the peer's.
 */
export async function* diffBlocks(views: LogViews, storage: StorageEngine, heads: readonly CID[], since: readonly CID[], horizon: number, unindexed: (cid: CID) => boolean = () => false): AsyncGenerator<BlockRecord> {
  const events = newEvents(views, heads, since)
  const ours = new Set(events)
  const isObjectPut = (seq: number): boolean => views.streamOf(seq) === OBJECTS_STREAM && views.typeOf(seq) === OBJECT_PUT
  const memo = new Map<string, boolean>()
  const reachedByPeer = (key: string): boolean => {
    const known = memo.get(key)
    if (known !== undefined) return known
    memo.set(key, false)
    let result = false
    for (const c of views.containers(key) ?? []) {
      // Only blocks are memoized (never events), so a memo hit needs no CID lookup.
      const memoized = memo.get(c)
      if (memoized !== undefined) {
        if (memoized) {
          result = true
          break
        }
        continue
      }
      const seq = views.seqOf(CID.parse(c))
      // Only an object record proves the peer holds a block: imports check those DAGs are
      // complete, while links in event data may point at nothing.
      const held = seq >= 0 ? isObjectPut(seq) && !ours.has(seq) && seq < horizon : reachedByPeer(c)
      if (held) {
        result = true
        break
      }
    }
    memo.set(key, result)
    return result
  }
  // The events, read in batches whose reads overlap. Object puts and events whose data links
  // somewhere are decoded on the way and only their roots kept, so memory stays flat.
  const walk: EventLinks[] = []
  for (let i = 0; i < events.length; i += READ_BATCH) {
    const seqs = events.slice(i, i + READ_BATCH)
    const cids = seqs.map((s) => views.cid(s))
    const blocks = storage.getMany !== undefined ? await storage.getMany(cids) : await Promise.all(cids.map((c) => storage.get(c)))
    for (let k = 0; k < seqs.length; k++) {
      const cid = cids[k]!
      const bytes = blocks[k]
      if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `event ${cid} is missing from storage`, { cid })
      yield { cid, bytes }
      if (isObjectPut(seqs[k]!) || views.isLinking(seqs[k]!) || unindexed(cid)) walk.push(eventLinks(decodeTrusted<EventBlock>(cid, bytes)))
    }
  }
  const sent = new Set<string>()
  for (const { roots, object: objectPut } of walk) {
    const stack = [...roots]
    while (stack.length > 0) {
      const cid = stack.pop()!
      const key = cid.toString()
      if (sent.has(key) || views.has(cid)) continue
      sent.add(key)
      if (reachedByPeer(key)) continue
      const block = await storage.get(cid)
      if (block === undefined) {
        if (objectPut) throw new CairnError('CAIRN_CORRUPT', `block ${cid} of object ${roots[0]} is missing from storage`, { cid })
        continue // a dangling app link: nothing to send
      }
      yield { cid, bytes: block }
      stack.push(...blockLinks(cid, block))
    }
  }
}

/** Event blocks an export reads at once. */
const READ_BATCH = 64
