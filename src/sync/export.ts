import type { CID } from 'multiformats/cid'
import { decodeTrusted, linksInValue, linksOf } from '../block/codec.ts'
import { DAG_CBOR, DAG_PB, type BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { EventEntry, LogViews } from '../index/views.ts'
import { Heap } from '../index/heap.ts'
import { compareCidEvents } from '../log/order.ts'
import { OBJECTS_STREAM, OBJECT_PUT, type ObjectPutData } from '../objects/interface.ts'
import type { StorageEngine } from '../storage/interface.ts'

/**
 * The events reachable from `heads` and not from `since`, newest first. Walks back from both
 * sides in canonical order (which is topological, so an event's mark is final when it is
 * popped) and stops once no event only we hold is left in the queue: the cost grows with
 * what is new, not with the log.
 */
export function newEvents(views: LogViews, heads: readonly CID[], since: readonly CID[]): EventEntry[] {
  const theirs = new Set<string>()
  const queued = new Set<string>()
  const heap = new Heap<EventEntry>((a, b) => compareCidEvents(a, b) > 0) // newest first
  let ours = 0
  for (const cid of since) {
    const e = views.entry(cid)
    if (e === undefined || theirs.has(e.key)) continue
    theirs.add(e.key)
    queued.add(e.key)
    heap.push(e)
  }
  for (const cid of heads) {
    const e = views.entry(cid)
    if (e === undefined || queued.has(e.key)) continue
    queued.add(e.key)
    heap.push(e)
    ours++
  }
  const out: EventEntry[] = []
  while (ours > 0) {
    const e = heap.pop()!
    const isTheirs = theirs.has(e.key)
    if (!isTheirs) { ours--; out.push(e) }
    for (const p of e.event.parents) {
      const parent = views.entry(p)!
      if (!queued.has(parent.key)) {
        queued.add(parent.key)
        if (isTheirs) theirs.add(parent.key)
        else ours++
        heap.push(parent)
      } else if (isTheirs && !theirs.has(parent.key)) {
        theirs.add(parent.key)
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
  const events = newEvents(views, heads, since)
  const oursKeys = new Set(events.map((e) => e.key))
  const memo = new Map<string, boolean>()
  const reachedByPeer = (key: string): boolean => {
    const known = memo.get(key)
    if (known !== undefined) return known
    memo.set(key, false)
    let result = false
    for (const c of views.containers(key) ?? []) {
      const event = views.entry(c)
      // Only an object record proves the peer holds a block: imports check those DAGs are
      // complete, while links in event data may point at nothing.
      const held = event !== undefined
        ? event.event.stream === OBJECTS_STREAM && event.event.type === OBJECT_PUT && !oursKeys.has(c) && event.seq < horizon
        : reachedByPeer(c)
      if (held) { result = true; break }
    }
    memo.set(key, result)
    return result
  }
  for (const e of events) {
    const bytes = await storage.get(e.cid)
    if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `event ${e.cid} is missing from storage`, { cid: e.cid })
    yield { cid: e.cid, bytes }
  }
  const sent = new Set<string>()
  for (const e of events) {
    const ev = e.event
    const objectPut = ev.stream === OBJECTS_STREAM && ev.type === OBJECT_PUT
    const roots = objectPut ? [(ev.data as ObjectPutData).cid] : [...linksInValue(ev.data), ...(ev.meta === undefined ? [] : linksInValue(ev.meta))]
    const stack = [...roots]
    while (stack.length > 0) {
      const cid = stack.pop()!
      const key = cid.toString()
      if (sent.has(key) || oursKeys.has(key) || views.entry(key) !== undefined) continue
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
