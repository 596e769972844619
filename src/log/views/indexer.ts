import type { CID } from 'multiformats/cid'
import type { BlockLookup } from '../../block/cid-map.ts'
import { decodeBlock, decodeTrusted, linksOf, loadDagPb } from '../../block/codec.ts'
import { DAG_CBOR, DAG_PB, type BlockRecord } from '../../block/interface.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import type { StorageEngine } from '../../storage/interface.ts'
import type { EventBlock } from '../event/interface.ts'
import { eventLinks } from '../event/links.ts'
import { OBJECT_PUT, OBJECTS_STREAM, type ObjectPutData } from '../event/object-record.ts'
import type { LogViews } from './views.ts'

/**
 * Adds what an event contributes beyond its stream: object records, referrers, and the
 * containment links of the DAGs it reaches. `objectValue` is the put value when the caller
 * has it; blocks in `verified` (an import's CAR, already checked) are decoded from there;
 * others are read back from storage and verified.
 */
export async function indexEvent(views: LogViews, storage: StorageEngine, cid: CID, event: EventBlock, objectValue: { value: unknown } | undefined, verified?: BlockLookup<BlockRecord>): Promise<void> {
  const key = cid.toString()
  if (event.stream === OBJECTS_STREAM) {
    if (event.type !== OBJECT_PUT) return
    const data = event.data as ObjectPutData
    views.addObject({ cid: data.cid, type: data.type, size: data.size, event: cid })
    views.addContainer(data.cid, key)
    await indexDag(views, storage, data.cid, objectValue, true, verified)
    return
  }
  const links = eventLinks(event).roots
  if (links.length > 0) views.markLinking(cid)
  for (const link of links) {
    views.addReferrer(link, { cid, kind: 'event' })
    views.addContainer(link, key)
    await indexDag(views, storage, link, undefined, false, verified)
  }
}

/**
 * Records, for every block under `root`, which blocks link to it (and referrers for
 * dag-cbor objects). Raw leaves carry no links and are never read. With `required` (an
 * object's DAG, checked complete before it was committed) a missing block is corruption and
 * every block is marked complete; otherwise (an app link) missing blocks are dangling.
 */
async function indexDag(views: LogViews, storage: StorageEngine, root: CID, rootValue: { value: unknown } | undefined, required: boolean, verified: BlockLookup<BlockRecord> | undefined): Promise<void> {
  const stack: { cid: CID; value: { value: unknown } | undefined }[] = [{ cid: root, value: rootValue }]
  while (stack.length > 0) {
    const { cid, value } = stack.pop()!
    if (cid.code !== DAG_CBOR && cid.code !== DAG_PB) {
      if (required) views.markComplete(cid)
      continue
    }
    if (required ? views.isComplete(cid.toString()) : views.walked(cid)) continue
    // An import's blocks went through verify, which loads the dag-pb decoder; this keeps any other caller safe.
    if (cid.code === DAG_PB) await loadDagPb()
    let decoded: unknown
    const fromCar = value === undefined ? verified?.get(cid) : undefined
    if (value !== undefined) decoded = value.value
    else if (fromCar !== undefined) decoded = decodeTrusted(cid, fromCar.bytes)
    else {
      const bytes = await storage.get(cid)
      if (bytes === undefined) {
        if (required) throw new CairnError('CAIRN_CORRUPT', `block ${cid} of a recorded object is missing from storage`, { cid })
        continue
      }
      decoded = (await decodeBlock(cid, bytes)).value
    }
    views.markWalked(cid)
    if (required) views.markComplete(cid)
    for (const link of linksOf(cid, decoded)) {
      if (cid.code === DAG_CBOR) views.addReferrer(link, { cid, kind: 'object' })
      views.addContainer(link, cid.toString())
      stack.push({ cid: link, value: undefined })
    }
  }
}
