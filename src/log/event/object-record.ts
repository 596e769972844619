import { CID } from 'multiformats/cid'
import { CairnError } from '../../errors/cairn-error.ts'

/**
 * The system stream that records every object put, so the log reaches every object.
 *
 * @example
 * for await (const e of store.read<ObjectPutData>(OBJECTS_STREAM)) console.log(e.data.type, e.data.cid.toString())
 */
export const OBJECTS_STREAM = '$objects'
/**
 * The event type of an object put in OBJECTS_STREAM.
 *
 * @example
 * store.subscribe({ stream: OBJECTS_STREAM, type: OBJECT_PUT }, (e) => console.log('object recorded', e.data))
 */
export const OBJECT_PUT = 'object.put'

/**
 * Payload of an `object.put` event (format v1).
 *
 * @example
 * const { data } = await store.getEvent<ObjectPutData>(info.event)   // { cid, type, size }
 */
export interface ObjectPutData {
  cid: CID
  type: string
  size: number
}

/** Whether an event is an object record (`object.put` in `$objects`). */
export function isObjectPut(event: { readonly stream: string; readonly type: string }): boolean {
  return event.stream === OBJECTS_STREAM && event.type === OBJECT_PUT
}

/** Checks an `object.put` payload (format v1): a CID, a non-empty type, a byte size. */
export function assertObjectRecord(cid: CID, data: unknown): asserts data is ObjectPutData {
  const d = data as Partial<ObjectPutData> | null
  if (d === null || typeof d !== 'object' || CID.asCID(d.cid) === null) throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} records an object without a CID`, { cid })
  if (typeof d.type !== 'string' || d.type === '') throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} records an object without a type`, { cid })
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} records an object with a bad size`, { cid })
}
