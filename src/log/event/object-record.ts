import type { CID } from 'multiformats/cid'

/** The system stream that records every object put, so the log reaches every object. */
export const OBJECTS_STREAM = '$objects'
/** The event type of an object put in OBJECTS_STREAM. */
export const OBJECT_PUT = 'object.put'

/** Payload of an `object.put` event (format v1). */
export interface ObjectPutData {
  cid: CID
  type: string
  size: number
}
