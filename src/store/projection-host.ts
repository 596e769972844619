// Loaded on the first `store.project()`, with the projection machinery: the host a projection
// runs on (the name is checked before, in store.ts). It imports no module of the first load
// (that would split such a module into a chunk of its own in an app with top-level await).
import type { EventLog } from '../log/log.ts'
import type { QueryOptions, ReadOptions, StoredEvent } from '../log/event/interface.ts'
import type { ProjectionHost } from '../projections/interface.ts'

export { openProjection } from '../projections/projection.ts'

/** What a store lends its projections beyond the log (see `projectionHost`). */
export interface ProjectionHosting {
  readonly log: EventLog
  /** Projection names open in this store: one projection per name. */
  readonly names: Set<string>
  /** Work the store awaits on close, before the log closes. */
  readonly closeTasks: Set<() => Promise<void>>
  /** Derived values kept in memory when the engine keeps none (they last as long as the store). */
  readonly derived: Map<string, Uint8Array>
  /** The store's public reads, with their argument checks and versions. */
  read(stream: string, options?: ReadOptions): AsyncIterable<StoredEvent>
  query(query: QueryOptions): AsyncIterable<StoredEvent>
  stored(seqs: Iterable<number>): AsyncIterable<StoredEvent>
}

/** The host a projection named `name` runs on: the log's heads and commits, the store's reads, derived storage. */
export function projectionHost(name: string, hosting: ProjectionHosting): ProjectionHost {
  const { log, names, closeTasks, derived } = hosting
  const storage = log.storage
  let released = false
  return {
    release: () => {
      if (!released) names.delete(name)
      released = true
    },
    heads: () => [...log.heads],
    has: (cid) => log.views.has(cid),
    eventsSince: (since) => storedOnce(hosting, log.eventsSince(since)),
    read: (stream, options) => hosting.read(stream, options),
    query: (query) => hosting.query(query),
    onCommit: (listener) => log.hub.onCommit(listener),
    onClose: (task) => {
      closeTasks.add(task)
      return () => {
        closeTasks.delete(task)
      }
    },
    readDerived: async (key) => (storage.readDerived === undefined ? derived.get(key) : storage.readDerived(key)),
    writeDerived: async (key, bytes) => {
      if (storage.writeDerived === undefined) derived.set(key, bytes)
      else await storage.writeDerived(key, bytes)
    },
  }
}

/** The events of arrival numbers still being computed (a failure surfaces when iterated). */
function storedOnce(hosting: ProjectionHosting, seqs: Promise<number[]>): AsyncGenerator<StoredEvent> {
  seqs.catch(() => {})
  return (async function* () {
    yield* hosting.stored(await seqs)
  })()
}
