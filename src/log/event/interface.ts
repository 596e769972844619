import type { CID } from 'multiformats/cid'

/**
 * Metadata an app may attach to an event: `id` (idempotency within the stream), `correlation`
 * and `causation` (indexed, for `correlated` and `causedBy`), and any other IPLD values, stored
 * as given. The three named fields are non-empty strings when present (a TypeError otherwise).
 *
 * @example
 * await store.append({ stream: 'order-7', type: 'order.paid', meta: { id: paymentId, correlation: 'checkout-42', causation: command.cid.toString() } })
 */
export interface EventMeta {
  /** Idempotency key: a retried append whose stream already holds this id returns the stored event. */
  id?: string
  /**
   * An id the app gives every event of one conversation or workflow (a checkout, a request),
   * across streams: `store.correlated(id)` lists them in canonical order. Cairn only indexes
   * it; choosing and passing it on from event to event is the app's.
   */
  correlation?: string
  /**
   * What caused this event: usually the CID (as a string, `cid.toString()`) of the event or
   * command it answers, or any other string the app uses. `store.causedBy(cid)` (a CID or that
   * string) lists the events it caused, in canonical order. A plain string, not a CID link: it
   * is not checked to name an event, and the cause need not be in this store.
   */
  causation?: string
  /** Anything else the app keeps with the event: IPLD values, stored as given (CID links in them are the event's links), not indexed. */
  [key: string]: unknown
}

/**
 * The event block as stored (format v1, see DESIGN.md). A contract: CARs outlive code.
 *
 * @example
 * const { value } = await decodeBlock<EventBlock>(event.cid, bytes)
 * value.parents   // the heads of the log when it was appended
 */
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

/**
 * What an app appends. Any other key (with a value other than undefined) is a TypeError naming
 * it, nothing appended: `append` takes `expectedVersion` in its options, not in the input.
 *
 * @example
 * const input: AppendInput<{ sku: string }> = { stream: 'cart-7', type: 'item.added', data: { sku: 'x' } }
 */
export interface AppendInput<D = unknown> {
  stream: string
  type: string
  /** Any IPLD value; CID links in it point at objects. Defaults to null. */
  data?: D
  meta?: EventMeta
}

/**
 * An append inside `appendMany`, which may carry its own optimistic-concurrency check.
 *
 * @example
 * await store.appendMany([{ stream: 'cart-7', type: 'item.added', data: { sku: 'x' }, expectedVersion: 2 }])
 */
export interface BatchAppendInput<D = unknown> extends AppendInput<D> {
  expectedVersion?: number
}

/**
 * Options of `append`.
 *
 * @example
 * await store.append(input, { expectedVersion: 0 })   // only if the stream is still empty
 */
export interface AppendOptions {
  /**
   * The stream's version the writer expects before this append (0: the stream is empty).
   * A mismatch throws CAIRN_VERSION_CONFLICT and writes nothing.
   */
  expectedVersion?: number
}

/**
 * An event as read back: the block's fields plus its CID and its version in its stream.
 *
 * @example
 * for await (const e of store.read('cart-7')) console.log(e.version, e.type, e.cid.toString(), new Date(e.ts))
 */
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

/**
 * A moment on the wall clock: ms since the epoch, or a Date.
 *
 * @example
 * store.query({ since: Date.now() - 3_600_000, until: new Date() })
 */
export type TimeInput = number | Date

/**
 * A point to look back at: a time (events stamped at or before it), or an event's CID (the
 * events that are ancestors-or-self of that event: the log as it stood when it was appended).
 *
 * @example
 * await store.reduce('cart-7', add, 0, { asOf: new Date('2024-05-01') })
 * await store.reduce('cart-7', add, 0, { asOf: checkout.cid })
 */
export type AsOf = TimeInput | CID

/**
 * Options of `read(stream)`: a version range, a time travel point, a direction.
 *
 * @example
 * for await (const e of store.read('cart-7', { reverse: true, limit: 10 })) console.log(e.version)
 */
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
 * `stream: '$objects'`, or a `streamPrefix` starting with `$`. Any other key is a TypeError.
 *
 * @example
 * store.subscribe({ streamPrefix: 'cart-', type: 'item.added' }, (e) => console.log(e.stream))
 */
export interface EventFilter {
  stream?: string
  type?: string
  /** Stream names starting with this (compared as UTF-16 code units). */
  streamPrefix?: string
}

/**
 * What `query` takes: an `EventFilter`, a time range, a cursor, a limit and a direction. Any
 * other key is a TypeError (`store.query({ tpye: 'x' })` names `query.tpye`).
 *
 * @example
 * store.query({ type: 'order.placed', since: new Date('2024-01-01'), after: lastSeen.cid, limit: 50 })
 */
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

/**
 * Paging for `causedBy` and `correlated`.
 *
 * @example
 * store.correlated('checkout-42', { after: lastSeen.cid, limit: 20, reverse: true })
 */
export interface PageOptions {
  /** A cursor, as in `QueryOptions.after`. */
  after?: CID
  limit?: number
  reverse?: boolean
}

/**
 * `replay`'s filter object: the fields of an `EventFilter` (all given ones must match), with
 * `type` also a list (any of them). Replay walks the one stream `from` belongs to, so a system
 * stream's events are kept when it is that stream. Any other key is a TypeError.
 *
 * @example
 * store.replay(head.cid, { filter: { streamPrefix: 'cart-', type: ['item.added', 'item.removed'] } })
 */
export interface ReplayFilter extends Omit<EventFilter, 'type'> {
  /** One type, or a list: the event's type is one of them. */
  type?: string | readonly string[]
}

/**
 * Options of `replay(from)`.
 *
 * @example
 * store.replay(head.cid, { filter: (e) => e.type !== 'note.viewed' })
 */
export interface ReplayOptions {
  /** Keep only matching events: a predicate, or a `ReplayFilter` (`{ stream, type, streamPrefix }`). */
  filter?: ((event: StoredEvent) => boolean) | ReplayFilter
}

/**
 * A position on the hybrid logical clock.
 *
 * @example
 * const stamp: Stamp = { ts: event.ts, tc: event.tc }   // ties on ts are broken by tc, then by CID bytes
 */
export interface Stamp {
  readonly ts: number
  readonly tc: number
}
