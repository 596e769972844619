import type { CID } from 'multiformats/cid'
import { streamMatches, typeMatches } from './event/filter.ts'
import type { EventFilter, StoredEvent } from './event/interface.ts'
import { toStoredEvent, type EventReader, type LoadedEvent } from './views/event-reader.ts'
import { listsFor, matchesFilter, scan } from './views/query.ts'
import type { LogViews, OrderKey } from './views/views.ts'

type Listener = (event: StoredEvent) => void
/** Told of every commit that adds events: all of them, canonical order, and the heads after it. */
export type CommitListener = (events: readonly StoredEvent[], heads: readonly CID[]) => void
type OnError = ((error: unknown, event: StoredEvent) => void) | undefined

interface Subscription {
  readonly filter: EventFilter
  readonly listener: Listener
  readonly onError: OnError
}

/**
 * Fans new events out to subscribers and commit listeners and wakes `changes()` iterators.
 * The store publishes each commit's new events, in canonical order, once its views are updated.
 */
export class ChangeHub {
  readonly #subscriptions = new Set<Subscription>()
  readonly #commitListeners = new Set<CommitListener>()
  #waiters: (() => void)[] = []
  #closed = false

  get closed(): boolean {
    return this.#closed
  }

  subscribe(filter: EventFilter, listener: Listener, onError: OnError): () => void {
    const sub: Subscription = { filter, listener, onError }
    this.#subscriptions.add(sub)
    return () => {
      this.#subscriptions.delete(sub)
    }
  }

  onCommit(listener: CommitListener): () => void {
    this.#commitListeners.add(listener)
    return () => {
      this.#commitListeners.delete(listener)
    }
  }

  /**
   * Delivers one commit's new events (canonical order) to every matching subscriber, then all
   * of them to the commit listeners. `stored(i)` is event i's public shape, built once by the
   * caller however many listeners take it.
   */
  publish(entries: readonly LoadedEvent[], stored: (i: number) => StoredEvent, heads: readonly CID[]): void {
    if (entries.length === 0) return
    const subs = [...this.#subscriptions]
    for (let i = 0; i < entries.length; i++) {
      const { stream, type } = entries[i]!.event
      for (const sub of subs) {
        if (!this.#subscriptions.has(sub) || !typeMatches(sub.filter, type) || !streamMatches(sub.filter, stream)) continue
        const event = stored(i)
        try {
          sub.listener(event)
        } catch (err) {
          report(err, event, sub.onError)
        }
      }
    }
    if (this.#commitListeners.size > 0) {
      const events = entries.map((_, i) => stored(i))
      for (const listener of [...this.#commitListeners]) {
        try {
          listener(events, heads)
        } catch (err) {
          report(err, events[0]!, undefined)
        }
      }
    }
    this.#wake()
  }

  /** Resolves at the next publish or close. */
  wait(): Promise<void> {
    if (this.#closed) return Promise.resolve()
    return new Promise((resolve) => {
      this.#waiters.push(resolve)
    })
  }

  close(): void {
    this.#closed = true
    this.#subscriptions.clear()
    this.#commitListeners.clear()
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
    try {
      onError(err, event)
      return
    } catch (inner) {
      err = inner
    }
  }
  queueMicrotask(() => {
    throw err
  })
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
  for await (const loaded of reader.stream(history)) {
    yield toStoredEvent(loaded, views.version(loaded.seq))
    if (aborted()) return
  }
  let stop: () => void = () => {}
  const stopped = new Promise<void>((resolve) => {
    stop = resolve
  })
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
