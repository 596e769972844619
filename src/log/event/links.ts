import type { CID } from 'multiformats/cid'
import { hasLinks, linksIn } from '../../block/codec.ts'
import type { EventBlock } from './interface.ts'
import { OBJECTS_STREAM, OBJECT_PUT, type ObjectPutData } from './object-record.ts'

/** What an event points at outside the log (see `eventLinks`). */
export interface EventLinks {
  /** The roots of the DAGs the event reaches. */
  readonly roots: CID[]
  /** True for an `object.put`: its one root heads a DAG that must be complete. App links may dangle. */
  readonly object: boolean
}

/**
 * The DAGs an event reaches beyond the log, the one rule export, import, indexing and
 * `verify()` share: an `object.put` reaches the object it records; an app event reaches every
 * link in its `data` and `meta`. Other `$objects` events reach nothing.
 */
export function eventLinks(event: EventBlock): EventLinks {
  if (event.stream === OBJECTS_STREAM) {
    return event.type === OBJECT_PUT ? { roots: [(event.data as ObjectPutData).cid], object: true } : { roots: [], object: false }
  }
  const roots = linksIn(event.data)
  return { roots: event.meta === undefined ? roots : linksIn(event.meta, roots), object: false }
}

/** Whether `eventLinks(event)` names any root, found without collecting them (the per-commit check). */
export function reachesBeyondLog(event: EventBlock): boolean {
  if (event.stream === OBJECTS_STREAM) return event.type === OBJECT_PUT
  return hasLinks(event.data) || (event.meta !== undefined && hasLinks(event.meta))
}
