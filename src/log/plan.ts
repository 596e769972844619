import type { BlockLookup } from '../block/cid-map.ts'
import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import type { EventBlock, EventMeta } from './event/interface.ts'
import { OBJECT_PUT, OBJECTS_STREAM, type ObjectPutData } from './event/object-record.ts'

/**
 * An append after its input was checked, before it is stamped: what the caller asked for.
 * The planner turns drafts into events (stamp, `prev`, `parents`) or resolves them to stored
 * events (a retried `meta.id`).
 */
export interface Draft {
  readonly stream: string
  readonly type: string
  readonly data: unknown
  readonly meta: EventMeta | undefined
  readonly expectedVersion: number | undefined
  /** Set for object puts: the value, so indexing its links needs no read-back. */
  readonly object?: { readonly value: unknown }
}

/** An event a plan adds to the log. */
export interface PlannedEvent {
  readonly cid: CID
  readonly event: EventBlock
  /** Bytes of its block. */
  readonly size: number
  /** The put value of an object record written by this replica (see Draft.object). */
  readonly object?: { readonly value: unknown } | undefined
}

/**
 * One change to the log, decided before anything is written: the blocks to store, the events
 * they add (canonical order), and the heads once they are in. A local append, an object put
 * and an import all become one of these, and one place applies it (`EventLog`).
 */
export interface CommitPlan {
  /** Every block to write: new events, and the object and file blocks they bring. */
  readonly blocks: readonly BlockRecord[]
  /** New events in canonical order. */
  readonly events: readonly PlannedEvent[]
  /** The log's heads after the commit, sorted by CID bytes. */
  readonly heads: readonly CID[]
  /** Per draft, the event it resolved to: a new one, or one stored earlier (a retried `meta.id`). */
  readonly results: readonly CID[]
  /** An import's verified CAR blocks: indexing decodes new objects from here instead of reading them back. */
  readonly verified?: BlockLookup<BlockRecord> | undefined
}

/** The draft of an `object.put` record in `$objects`. */
export function objectDraft(cid: CID, type: string, size: number, object: { value: unknown } | undefined): Draft {
  const data: ObjectPutData = { cid, type, size }
  return { stream: OBJECTS_STREAM, type: OBJECT_PUT, data, meta: undefined, expectedVersion: undefined, ...(object === undefined ? {} : { object }) }
}

/** The object a draft records (an `object.put` draft), or undefined for an app event. */
export function objectRecordOf(draft: Draft): ObjectPutData | undefined {
  return draft.stream === OBJECTS_STREAM && draft.type === OBJECT_PUT ? (draft.data as ObjectPutData) : undefined
}

/** Several writes gathered to commit as one batch (a store transaction). */
export interface UnitOfWork {
  /** Appends and the object records of values and files, in the order they were asked for. */
  readonly drafts: readonly Draft[]
  /** Blocks they bring: the values' blocks and the files' blocks not flushed yet. */
  readonly blocks: readonly BlockRecord[]
  /** The values put, whose links must lead to complete DAGs. */
  readonly values: readonly { readonly cid: CID; readonly value: unknown }[]
}

/** Whether applying the plan writes anything (a batch of retried appends writes nothing). */
export function writesSomething(plan: CommitPlan): boolean {
  return plan.events.length > 0 || plan.blocks.length > 0
}
