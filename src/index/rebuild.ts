import type { CID } from 'multiformats/cid'
import { decodeBlock, linksInValue } from '../block/codec.ts'
import { DAG_CBOR } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { decodeEvent } from '../log/event.ts'
import type { EventBlock } from '../log/interface.ts'
import { compareEvents } from '../log/order.ts'
import { OBJECTS_STREAM, OBJECT_PUT, type ObjectPutData } from '../objects/interface.ts'
import type { StorageEngine } from '../storage/interface.ts'
import { LogViews } from './views.ts'

/** Reads that run at once while walking the log; IndexedDB and files both gain from overlap. */
const FRONTIER = 64

/**
 * Rebuilds the views from the blocks alone: walks back from the heads through `parents`,
 * verifying and decoding every event, then replays them in canonical order.
 */
export async function rebuildViews(storage: StorageEngine, heads: readonly CID[]): Promise<LogViews> {
  const found = new Map<string, { cid: CID; event: EventBlock }>()
  let frontier = [...heads]
  const queued = new Set(frontier.map(String))
  while (frontier.length > 0) {
    const next: CID[] = []
    for (let i = 0; i < frontier.length; i += FRONTIER) {
      const slice = frontier.slice(i, i + FRONTIER)
      const events = await Promise.all(slice.map(async (cid) => {
        const bytes = await storage.get(cid)
        if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `event ${cid} is referenced by the log but missing from storage`, { cid })
        return { cid, event: await decodeEvent(cid, bytes) }
      }))
      for (const e of events) {
        found.set(e.cid.toString(), e)
        for (const p of e.event.parents) {
          const key = p.toString()
          if (!queued.has(key)) { queued.add(key); next.push(p) }
        }
      }
    }
    frontier = next
  }
  const ordered = [...found.values()].sort((a, b) => compareEvents({ ...a.event, cid: a.cid }, { ...b.event, cid: b.cid }))
  const views = new LogViews()
  for (const { cid, event } of ordered) {
    views.addEvent(cid, event)
    await indexEvent(views, storage, cid, event, undefined)
  }
  return views
}

/**
 * Adds what an event contributes beyond its stream: object records and referrers.
 * `objectValue` is the put value when the caller has it; otherwise it is read back.
 */
export async function indexEvent(views: LogViews, storage: StorageEngine, cid: CID, event: EventBlock, objectValue: { value: unknown } | undefined): Promise<void> {
  if (event.stream === OBJECTS_STREAM) {
    if (event.type !== OBJECT_PUT) return
    const data = event.data as ObjectPutData
    views.addObject({ cid: data.cid, type: data.type, size: data.size, event: cid })
    if (data.cid.code !== DAG_CBOR) return
    let value: unknown
    if (objectValue !== undefined) value = objectValue.value
    else {
      const bytes = await storage.get(data.cid)
      if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `object ${data.cid} is recorded by event ${cid} but missing from storage`, { cid: data.cid })
      value = (await decodeBlock(data.cid, bytes)).value
    }
    for (const link of linksInValue(value)) views.addReferrer(link, { cid: data.cid, kind: 'object' })
    return
  }
  for (const link of linksInValue(event.data)) views.addReferrer(link, { cid, kind: 'event' })
  if (event.meta !== undefined) for (const link of linksInValue(event.meta)) views.addReferrer(link, { cid, kind: 'event' })
}
