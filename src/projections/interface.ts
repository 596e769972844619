import type { CID } from 'multiformats/cid'
import type { AsOf, EventFilter, QueryOptions, ReadOptions, StoredEvent } from '../log/event/interface.ts'

/**
 * Folds one event into a projection's state for its key. Must be pure: replicas replay it.
 *
 * @example
 * const reducer: ProjectionReducer<number> = (count) => count + 1
 */
export type ProjectionReducer<S, D = unknown> = (state: S, event: StoredEvent<D>) => S

/**
 * What `store.project(name, spec)` takes.
 *
 * @example
 * await store.project('totals', { filter: { type: 'item.added' }, initial: 0, reducer: (sum, e) => sum + (e.data as { price: number }).price, snapshotEvery: 256 })
 */
export interface ProjectionSpec<S, D = unknown> {
  /** Which events feed the projection (`stream`, `type`, `streamPrefix`). Default: every app event. */
  filter?: EventFilter
  /** The state a key starts from. Must be an IPLD value (it is persisted as dag-cbor). */
  initial: S
  reducer: ProjectionReducer<S, D>
  /** Snapshot a key's state every this many of its events (default 64). */
  snapshotEvery?: number
}

/**
 * Options of a projection's `get`.
 *
 * @example
 * await carts.get('cart-7', { asOf: new Date('2024-05-01') })
 */
export interface ProjectionGetOptions {
  /** The key's state as it was at this time (ms or Date) or event CID. */
  asOf?: AsOf
}

/**
 * A live projection: per-key state (the key is the event's stream), kept current on appends and imports.
 *
 * @example
 * const carts = await store.project('carts', { initial: 0, reducer: (n) => n + 1 })
 * for await (const key of carts.keys()) console.log(key, await carts.get(key))
 */
export interface Projection<S> {
  readonly name: string
  /**
   * The state of `key` (a stream name); `initial` for a key without events. Waits for every
   * committed event to be folded. Without `asOf` it is the live value: treat it as read-only.
   */
  get(key: string, options?: ProjectionGetOptions): Promise<S>
  /** Keys holding at least one event, sorted. */
  keys(): AsyncIterable<string>
  /** One CID over every key's state: equal on replicas holding the same events. */
  stateHash(): Promise<CID>
  /** Resolves once every committed event is applied. */
  ready(): Promise<void>
  /** Stops following the log (the persisted snapshot stays). */
  close(): Promise<void>
}

/** What a projection needs from the store: implemented by CairnStore. */
export interface ProjectionHost {
  /** Frees the projection's name in its store (once it closed, or failed to open). */
  release(): void
  /** The log's heads now. */
  heads(): CID[]
  /** Whether the log holds this event. */
  has(event: CID): boolean
  /** Events reachable from the current heads and not from `since`, oldest first (canonical order). */
  eventsSince(since: readonly CID[]): AsyncIterable<StoredEvent>
  read(stream: string, options?: ReadOptions): AsyncIterable<StoredEvent>
  query(query: QueryOptions): AsyncIterable<StoredEvent>
  /**
   * Calls `listener` after each commit that adds events, with those events in canonical
   * order (all streams, `$objects` included) and the heads after it. Returns the unsubscribe.
   */
  onCommit(listener: (events: readonly StoredEvent[], heads: readonly CID[]) => void): () => void
  /** Registers work the store awaits when it closes, before closing storage (persisting snapshots). */
  onClose(task: () => Promise<void>): () => void
  readDerived(name: string): Promise<Uint8Array | undefined>
  writeDerived(name: string, bytes: Uint8Array): Promise<void>
}
