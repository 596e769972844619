import type { EventFilter, StoredEvent } from '../log/interface.ts'
import { toStoredEvent, type EventReader, type LoadedEvent } from './event-cache.ts'
import { listsFor, matchesFilter, scan } from './query.ts'
import type { LogViews, OrderKey } from './views.ts'


type Listener = (event: StoredEvent) => void
type OnError = ((error: unknown, event: StoredEvent) => void) | undefined

interface Subscription {
  readonly filter: EventFilter
  readonly listener: Listener
  readonly onError: OnError
}

/**
 * Fans new events out to subscribers and wakes `changes()` iterators. The store publishes
 * each commit's new events, in canonical order, once its views are updated.
 */
export class ChangeHub {
  readonly #subscriptions = new Set<Subscription>()
  #waiters: (() => void)[] = []
  #closed = false

  get closed(): boolean {
    return this.#closed
  }

  subscribe(filter: EventFilter, listener: Listener, onError: OnError): () => void {
    const sub: Subscription = { filter, listener, onError }
    this.#subscriptions.add(sub)
    return () => { this.#subscriptions.delete(sub) }
  }

  /** Delivers one commit's new events (canonical order) to every matching listener. */
  publish(views: LogViews, entries: readonly LoadedEvent[]): void {
    if (entries.length === 0) return
    const subs = [...this.#subscriptions]
    for (const entry of entries) {
      let event: StoredEvent | undefined
      for (const sub of subs) {
        if (!this.#subscriptions.has(sub) || !matchesFilter(views, entry.seq, sub.filter)) continue
        event ??= toStoredEvent(entry, views.version(entry.seq))
        try {
          sub.listener(event)
        } catch (err) {
          report(err, event, sub.onError)
        }
      }
    }
    this.#wake()
  }

  /** Resolves at the next publish or close. */
  wait(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    return new Promise((resolve) => { this.#waiters.push(resolve) })
  }

  close(): void {
    this.#closed = true
    this.#subscriptions.clear()
    this.#wake()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}

function report(err: unknown, event: StoredEvent, onError: OnError): void {
  if (onError !== undefined) {
    try { onError(err, event); return } catch (inner) { err = inner }
  }
  queueMicrotask(() => { throw err })
}

/**
 * The events after `after` that match `filter` as the log stands when iteration starts (in
 * canonical order), then every matching event added later, as it arrives (each commit's in
 * canonical order; an import may add events older than ones already yielded). Ends when the
 * hub closes or `signal` aborts.
 */
export async function* changesOf(views: LogViews, reader: EventReader, hub: ChangeHub, filter: EventFilter, after: OrderKey | undefined, signal: AbortSignal | undefined): AsyncGenerator<StoredEvent> {
  let next = views.size
  const history = scan(views, {
    lists: listsFor(views, filter),
    filter: (s) => matchesFilter(views, s, filter),
    lower: after === undefined ? undefined : { key: after, inclusive: false },
  })
  const aborted = (): boolean => signal?.aborted === true
  for (const seq of history) {
    yield toStoredEvent(await reader.load(seq), views.version(seq))
    if (aborted()) return
  }
  let stop: () => void = () => {}
  const stopped = new Promise<void>((resolve) => { stop = resolve })
  signal?.addEventListener('abort', stop, { once: true })
  try {
    for (;;) {
      if (aborted()) return
      while (next < views.size) {
        const seq = next++
        if (matchesFilter(views, seq, filter)) {
          yield toStoredEvent(await reader.load(seq), views.version(seq))
          if (aborted()) return
        }
      }
      if (hub.closed) return
      await Promise.race([hub.wait(), stopped])
    }
  } finally {
    signal?.removeEventListener('abort', stop)
  }
}
