import { CID } from 'multiformats/cid'
import { decodeTrusted, linksInValue, linksOf } from '../block/codec.ts'
import { DAG_CBOR, DAG_PB, type BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { LogViews } from '../index/views.ts'
import type { EventBlock } from '../log/interface.ts'
import { Heap } from '../index/heap.ts'
import { OBJECTS_STREAM, OBJECT_PUT, type ObjectPutData } from '../objects/interface.ts'
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
    if (!isTheirs) { ours--; out.push(s) }
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
export async function* diffBlocks(views: LogViews, storage: StorageEngine, heads: readonly CID[], since: readonly CID[], horizon: number): AsyncGenerator<BlockRecord> {
  const events = newEvents(views, heads, since).map((s) => ({ seq: s, cid: views.cid(s) }))
  const oursKeys = new Set(events.map((e) => e.cid.toString()))
  const memo = new Map<string, boolean>()
  const reachedByPeer = (key: string): boolean => {
    const known = memo.get(key)
    if (known !== undefined) return known
    memo.set(key, false)
    let result = false
    for (const c of views.containers(key) ?? []) {
      const seq = views.seqOf(CID.parse(c))
      // Only an object record proves the peer holds a block: imports check those DAGs are
      // complete, while links in event data may point at nothing.
      const held = seq >= 0
        ? views.streamOf(seq) === OBJECTS_STREAM && views.typeOf(seq) === OBJECT_PUT && !oursKeys.has(c) && seq < horizon
        : reachedByPeer(c)
      if (held) { result = true; break }
    }
    memo.set(key, result)
    return result
  }
  const decoded: EventBlock[] = []
  for (const e of events) {
    const bytes = await storage.get(e.cid)
    if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `event ${e.cid} is missing from storage`, { cid: e.cid })
    decoded.push(decodeTrusted<EventBlock>(e.cid, bytes))
    yield { cid: e.cid, bytes }
  }
  const sent = new Set<string>()
  for (const ev of decoded) {
    const objectPut = ev.stream === OBJECTS_STREAM && ev.type === OBJECT_PUT
    const roots = objectPut ? [(ev.data as ObjectPutData).cid] : [...linksInValue(ev.data), ...(ev.meta === undefined ? [] : linksInValue(ev.meta))]
    const stack = [...roots]
    while (stack.length > 0) {
      const cid = stack.pop()!
      const key = cid.toString()
      if (sent.has(key) || oursKeys.has(key) || views.has(cid)) continue
      sent.add(key)
      if (reachedByPeer(key)) continue
      const bytes = await storage.get(cid)
      if (bytes === undefined) {
        if (objectPut) throw new CairnError('CAIRN_CORRUPT', `block ${cid} of object ${roots[0]} is missing from storage`, { cid })
        continue // a dangling app link: nothing to send
      }
      yield { cid, bytes }
      if (cid.code === DAG_CBOR || cid.code === DAG_PB) for (const link of linksOf(cid, decodeTrusted(cid, bytes))) stack.push(link)
    }
  }
}
