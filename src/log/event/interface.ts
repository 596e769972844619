import type { CID } from 'multiformats/cid'

/** Metadata an app may attach to an event. `id` is an idempotency key within the stream. */
export interface EventMeta {
  /** Idempotency key: a retried append whose stream already holds this id returns the stored event. */
  id?: string
  correlation?: string
  causation?: string
  [key: string]: unknown
}

/** The event block as stored (format v1, see DESIGN.md). A contract: CARs outlive code. */
export interface EventBlock {
  v: 1
  stream: string
  type: string
  /** Hybrid logical clock: wall-clock ms, never below any parent's ts. */
  ts: number
  /** HLC counter: 0, or the parents' highest tc + 1 when ts equals their highest ts. */
  tc: number
  /** The previous event of the same stream as the writer saw it. */
  prev: CID | null
  /** Heads of the whole log when appended, sorted by CID bytes; [] for the first event. */
  parents: CID[]
  data: unknown
  meta?: EventMeta
  author?: string
  sig?: Uint8Array
}

/** What an app appends. */
export interface AppendInput<D = unknown> {
  stream: string
  type: string
  /** Any IPLD value; CID links in it point at objects. Defaults to null. */
  data?: D
  meta?: EventMeta
}

/** An append inside `appendMany`, which may carry its own optimistic-concurrency check. */
export interface BatchAppendInput<D = unknown> extends AppendInput<D> {
  expectedVersion?: number
}

/** Options of `append`. */
export interface AppendOptions {
  /**
   * The stream's version the writer expects before this append (0: the stream is empty).
   * A mismatch throws CAIRN_VERSION_CONFLICT and writes nothing.
   */
  expectedVersion?: number
}

/** An event as read back: the block's fields plus its CID and its version in its stream. */
export interface StoredEvent<D = unknown> {
  readonly cid: CID
  readonly stream: string
  readonly type: string
  readonly ts: number
  readonly tc: number
  /** Count of the stream's events up to and including this one, in canonical order. */
  readonly version: number
  readonly prev: CID | null
  readonly parents: readonly CID[]
  readonly data: D
  readonly meta: EventMeta | undefined
  readonly author: string | undefined
}

/** A moment on the wall clock: ms since the epoch, or a Date. */
export type TimeInput = number | Date

/**
 * A point to look back at: a time (events stamped at or before it), or an event's CID (the
 * events that are ancestors-or-self of that event: the log as it stood when it was appended).
 */
export type AsOf = TimeInput | CID

/** Options of `read(stream)`: a version range, a time travel point, a direction. */
export interface ReadOptions {
  /** First version to yield (inclusive, 1-based). Default 1. */
  fromVersion?: number
  /** Last version to yield (inclusive). Default: the stream's current version. */
  toVersion?: number
  /** Yield at most this many events. */
  limit?: number
  /** Newest first. `fromVersion`/`toVersion` still bound the range; `limit` counts from the newest. */
  reverse?: boolean
  /**
   * Read the stream as it was: at a time (`ts <= asOf`; versions unchanged) or at an event
   * (only ancestors-or-self of it; versions renumbered 1… within that past).
   */
  asOf?: AsOf
}

/**
 * Which events a query, a subscription or `changes()` wants; all given fields must match.
 * Events of system streams (`$objects`) are left out unless the filter names them:
 * `stream: '$objects'`, or a `streamPrefix` starting with `$`.
 */
export interface EventFilter {
  stream?: string
  type?: string
  /** Stream names starting with this (compared as UTF-16 code units). */
  streamPrefix?: string
}

export interface QueryOptions extends EventFilter {
  /** Events stamped at or after this time (inclusive). */
  since?: TimeInput
  /** Events stamped before this time (exclusive). */
  until?: TimeInput
  /**
   * A cursor: the CID of an event (usually the last one of the previous page). Results start
   * strictly after its place in the canonical order — strictly before it when `reverse`. The
   * place is the event's `(ts, tc, CID)`, so the cursor stays valid across appends and imports.
   */
  after?: CID
  /** Yield at most this many events. */
  limit?: number
  /** Newest first. */
  reverse?: boolean
}

/** Paging for `causedBy` and `correlated`. */
export interface PageOptions {
  /** A cursor, as in `QueryOptions.after`. */
  after?: CID
  limit?: number
  reverse?: boolean
}

/** Options of `replay(from)`. */
export interface ReplayOptions {
  /** Keep only matching events: a predicate, or `{ type }` with one type or a list. */
  filter?: ((event: StoredEvent) => boolean) | { type?: string | readonly string[] }
}

/** A position on the hybrid logical clock. */
export interface Stamp {
  readonly ts: number
  readonly tc: number
}
