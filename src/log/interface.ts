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

export interface ReadOptions {
  /** First version to yield (inclusive, 1-based). Default 1. */
  fromVersion?: number
  /** Last version to yield (inclusive). Default: the stream's current version. */
  toVersion?: number
  /** Yield at most this many events. */
  limit?: number
}

/** A position on the hybrid logical clock. */
export interface Stamp {
  readonly ts: number
  readonly tc: number
}
