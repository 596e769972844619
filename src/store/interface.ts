import type { CID } from 'multiformats/cid'
import type { ProgressOptions } from '../errors/progress.ts'
import type { AsOf, EventFilter, StoredEvent } from '../log/event/interface.ts'

/**
 * How the store's indexes were opened (see `CairnStore.indexStatus`).
 *
 * @example
 * const { fromSnapshot, indexedOnOpen, snapshotEvents } = store.indexStatus()
 */
export interface IndexStatus {
  /** Whether open loaded a persisted index snapshot. */
  readonly fromSnapshot: boolean
  /** Events read from blocks and indexed on open: those after the snapshot, or all without one. */
  readonly indexedOnOpen: number
  /** Events covered by the last snapshot written or loaded (0 when none). */
  readonly snapshotEvents: number
}

/**
 * What `verify` takes: progress and cancellation (see `ProgressOptions`).
 *
 * @example
 * await store.verify({ signal: AbortSignal.timeout(60_000), onProgress: (p) => console.log(p.blocks) })
 */
export type VerifyOptions = ProgressOptions

/** What `verify()` walked. */
export type { VerifyReport } from '../log/verify.ts'

/**
 * Folds one event into the state, for `reduce`: returns the next state.
 *
 * @example
 * const count: Reducer<number> = (n) => n + 1
 * await store.reduce('cart-7', count, 0)
 */
export type Reducer<S, D = unknown> = (state: S, event: StoredEvent<D>) => S

/**
 * Options of `reduce`.
 *
 * @example
 * await store.reduce('cart-7', count, 0, { asOf: checkout.cid })
 */
export interface ReduceOptions {
  /** Fold the stream as it was at this time or event (see `ReadOptions.asOf`). */
  asOf?: AsOf
}

/**
 * Counts over the whole log, system stream (`$objects`) included.
 *
 * @example
 * const { events, streams, types, objects, bytes } = await store.stats()
 */
export interface StoreStats {
  /** Events in the log. */
  events: number
  /** Streams, `$objects` included once it holds an event. */
  streams: number
  /** Distinct event types (`object.put` included). */
  types: number
  /** Distinct objects recorded in `$objects` (values, files, foreign CAR roots). */
  objects: number
  /**
   * Bytes of every event block plus the recorded size of every distinct object (a value's
   * block; a file's content bytes, not its UnixFS nodes). Counted from the views; storage is
   * not read.
   */
  bytes: number
}

/**
 * Called once per new event that matches the subscription's filter.
 *
 * @example
 * const listener: ChangeListener = (e) => console.log(e.stream, e.type)
 * store.subscribe({ type: 'order.placed' }, listener)
 */
export type ChangeListener = (event: StoredEvent) => void

/**
 * Options of `subscribe`.
 *
 * @example
 * store.subscribe({}, render, { onError: (err, e) => console.error(`listener failed on ${e.cid}`, err) })
 */
export interface SubscribeOptions {
  /**
   * Receives what a listener throws. Without it, the error is rethrown in a microtask (like
   * an EventTarget listener's): reported as uncaught, never breaking the store or the write.
   */
  onError?: (error: unknown, event: StoredEvent) => void
}

/**
 * Options of `changes()`: where the feed starts.
 *
 * @example
 * for await (const e of store.changes({ after: checkpoint, filter: { streamPrefix: 'order-' }, signal: controller.signal })) ship(e)
 */
export interface ChangesOptions {
  /**
   * Start strictly after this event's place in the canonical order (see `QueryOptions.after`).
   * Without it, `changes()` starts with the first event.
   */
  after?: CID
  filter?: EventFilter
  /** Ends the iteration (even while it waits for new events) when aborted. */
  signal?: AbortSignal
}
