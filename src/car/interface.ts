import type { CID } from 'multiformats/cid'

/** The media type of a CAR. */
export const CAR_MEDIA_TYPE = 'application/vnd.ipld.car'

/** A byte source an import reads: whole bytes, a web ReadableStream, or any async iterable of chunks. */
export type ByteSource = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>

export interface ExportOptions {
  /**
   * Heads (or any events) the receiver is known to hold. The CAR then carries exactly the
   * blocks reachable from our heads and not from these. CIDs this store does not know are
   * ignored. Omit for a full export.
   */
  since?: readonly CID[]
}

export interface ImportOptions {
  /** Largest block accepted, in bytes; a longer frame is refused before it is buffered. Default 4 MiB. */
  maxBlockBytes?: number
  /** Largest CAR accepted, in bytes (an import is staged in memory to commit atomically). Default 1 GiB. */
  maxBytes?: number
  /** Events stamped more than this many ms ahead of the local clock are refused. Default one day. */
  maxClockDrift?: number
  /** `$objects` type recorded for the roots of a CAR that holds no Cairn events. Default 'car'. */
  foreignType?: string
}

/** What an import added. Importing the same CAR again reports zeros and the same heads. */
export interface ImportReport {
  /** Blocks newly stored (events, objects, file blocks, and any local `$objects` events). */
  blocks: number
  /** Events from the CAR newly added to the log. */
  events: number
  /** The log's heads after the import. */
  heads: CID[]
  /** The CAR's roots. */
  roots: CID[]
  /** Roots of foreign DAGs (no Cairn events) kept as objects. */
  foreign: CID[]
}
