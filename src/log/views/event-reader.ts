import type { CID } from 'multiformats/cid'
import { CairnError } from '../../errors/cairn-error.ts'
import { decodeEvent } from '../event/format.ts'
import type { EventBlock, StoredEvent } from '../event/interface.ts'
import type { StorageEngine } from '../../storage/interface.ts'
import type { LogViews } from './views.ts'

/** A decoded event with its CID and arrival number. */
export interface LoadedEvent {
  readonly seq: number
  readonly cid: CID
  readonly event: EventBlock
}

/** Events kept decoded by default: a few MB, enough for the hot streams of most apps. */
export const DEFAULT_EVENT_CACHE = 8192

/**
 * Reads event blocks for the views, which hold no payloads: from a cache of decoded events,
 * else from storage, verifying each block against its CID and the event format before it is
 * used. The cache keeps recently used events in two generations (two Maps of up to half the
 * capacity each): new and hit events go to the young one; when it is full it becomes the old
 * one and the previous old one is dropped. An event used within the last half-capacity
 * insertions is kept, like an LRU's, without reordering a Map on every hit.
 */
export class EventReader {
  readonly #storage: StorageEngine
  readonly #views: LogViews
  /** Entries per generation: half the capacity (at least 1). */
  readonly #half: number
  #young = new Map<number, LoadedEvent>()
  #old = new Map<number, LoadedEvent>()

  constructor(storage: StorageEngine, views: LogViews, capacity: number = DEFAULT_EVENT_CACHE) {
    this.#storage = storage
    this.#views = views
    this.#half = Math.max(1, capacity >> 1)
  }

  /** Keeps an event the caller already holds (a fresh append, an import). */
  remember(loaded: LoadedEvent): void {
    this.#keep(loaded.seq, loaded)
  }

  #keep(seq: number, loaded: LoadedEvent): void {
    const young = this.#young
    young.set(seq, loaded)
    if (young.size >= this.#half) {
      this.#old = young
      this.#young = new Map()
    }
  }

  /** The cached event, kept as recently used; undefined when it must be read. */
  cached(seq: number): LoadedEvent | undefined {
    const young = this.#young.get(seq)
    if (young !== undefined) return young
    const old = this.#old.get(seq)
    if (old !== undefined) this.#keep(seq, old)
    return old
  }

  async load(seq: number): Promise<LoadedEvent> {
    const hit = this.cached(seq)
    if (hit !== undefined) return hit
    const cid = this.#views.cid(seq)
    return this.#decode(seq, cid, await this.#storage.get(cid))
  }

  /**
   * The events of a lazy scan, loaded in batches whose reads overlap: a first batch of 8, then
   * up to 64, so `limit: 10` reads about 10 blocks while long reads keep storage busy.
   * `check` runs before each batch (it throws once the store is closed); `onFirst` sees the
   * first arrival number before anything is loaded.
   */
  async *stream(seqs: Iterable<number>, check: () => void = () => {}, onFirst?: (seq: number) => void): AsyncGenerator<LoadedEvent> {
    let batch: number[] = []
    let size = 8
    for (const seq of seqs) {
      if (onFirst !== undefined) {
        onFirst(seq)
        onFirst = undefined
      }
      batch.push(seq)
      if (batch.length >= size) {
        check()
        yield* await this.loadMany(batch)
        batch = []
        size = 64
      }
    }
    if (batch.length > 0) {
      check()
      yield* await this.loadMany(batch)
    }
  }

  /** Verifies and decodes an event block read from storage, and caches it. */
  async #decode(seq: number, cid: CID, bytes: Uint8Array | undefined): Promise<LoadedEvent> {
    if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `event ${cid} is indexed but missing from storage`, { cid })
    const loaded = { seq, cid, event: await decodeEvent(cid, bytes) }
    this.remember(loaded)
    return loaded
  }

  /** Loads several events at once (reads overlap), in the order given; no promise per cached event. */
  async loadMany(seqs: readonly number[]): Promise<LoadedEvent[]> {
    const out: LoadedEvent[] = new Array(seqs.length)
    const missing: number[] = []
    for (let i = 0; i < seqs.length; i++) {
      const hit = this.cached(seqs[i]!)
      if (hit !== undefined) out[i] = hit
      else missing.push(i)
    }
    if (missing.length === 0) return out
    const storage = this.#storage
    if (storage.getMany === undefined || missing.length === 1) {
      await Promise.all(
        missing.map(async (i) => {
          out[i] = await this.load(seqs[i]!)
        }),
      )
      return out
    }
    const cids = missing.map((i) => this.#views.cid(seqs[i]!))
    const blocks = await storage.getMany(cids)
    await Promise.all(
      missing.map(async (i, k) => {
        out[i] = await this.#decode(seqs[i]!, cids[k]!, blocks[k])
      }),
    )
    return out
  }
}

/** The public shape of an event; `version` is its version in its stream. */
export function toStoredEvent<D = unknown>(loaded: { readonly cid: CID; readonly event: EventBlock }, version: number): StoredEvent<D> {
  const e = loaded.event
  return {
    cid: loaded.cid,
    stream: e.stream,
    type: e.type,
    ts: e.ts,
    tc: e.tc,
    version,
    prev: e.prev,
    parents: e.parents,
    data: e.data as D,
    meta: e.meta,
    author: e.author,
  }
}
