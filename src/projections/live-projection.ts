// The projection machinery, loaded on the first `store.project()` (see projection.ts).
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { encodeChecked, encodeValue } from '../block/codec.ts'
import { assertIpld } from '../block/validate.ts'
import { expectAsOf, expectFunction, expectObject, expectPositiveInteger, expectString, type KnownKeys } from '../errors/arguments.ts'
import { expectFilter, FILTER_KEYS } from '../log/event/filter.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { EventFilter, ReadOptions, StoredEvent } from '../log/event/interface.ts'
import { streamMatches, typeMatches } from '../log/event/filter.ts'
import { compareEvents } from '../log/event/order.ts'
import type { Projection, ProjectionGetOptions, ProjectionHost, ProjectionReducer, ProjectionSpec } from './interface.ts'
import { decodeSaved, encodeSaved, fingerprintOf, type Position, type Saved, type Snapshot } from './persist.ts'
import { projectionStateHash } from './state-hash.ts'
import { DEFAULT_SNAPSHOT_EVERY, PERSIST_EVERY, REDUCER_FAILED } from './projection.ts'

/**
 * Opens a projection over a host: checks the spec (TypeError/RangeError before anything is
 * registered), claims the name in its store, loads the persisted value `p.<name>` (ignored
 * when its checksum, format or spec fingerprint does not match: then it rebuilds), follows
 * the host's commits, and resolves once it has caught up with the log. A reducer failing
 * during that catch-up rejects the open.
 *
 * Semantics:
 * - Key = the event's stream; events of system streams (`$…`) only when the filter names
 *   them (`stream: '$objects'`, or a `streamPrefix` starting with `$`), as in `query`.
 * - Each key's state is the fold, in canonical order (ts, tc, CID bytes), of its matching
 *   events. Appends extend it; an event landing before the key's last folded event (an import
 *   reordering history) makes the key recompute from its latest snapshot strictly before that
 *   event, reading the stream from there.
 * - Snapshots: every `snapshotEvery` folded events of a key, its state (dag-cbor bytes), the
 *   event's position and its stream version. Kept in memory and persisted with the live states.
 * - `get(key, { asOf: time })`: fold of the key's events with `ts <= asOf`, started from the
 *   latest snapshot stamped at or before that time (a prefix of the canonical order).
 * - `get(key, { asOf: cid })`: fold of the key's events that are ancestors-or-self of that
 *   event (as `store.read`). That past need not be a prefix of the canonical order, so a
 *   snapshot is used only when it is proven inside it: the past's event at the snapshot's
 *   version is the snapshot's event, hence the past holds all the stream's events up to it.
 *   Proven snapshots form a prefix of the snapshot list; the latest is used.
 * - Persistence: live states, snapshots and the heads they cover, as one checksummed dag-cbor
 *   value (see persist.ts), written when the projection or its store closes and after a
 *   catch-up that made PERSIST_EVERY reducer calls; on open, the events since the saved heads
 *   are folded like an import. The spec's fingerprint holds the reducer's source text, not
 *   what it closes over: a reducer whose behaviour changes through captured variables or
 *   `bind` keeps its old snapshots (rename the projection, or change its code, to rebuild).
 * - Failure: a reducer that throws, or returns a non-IPLD state, stops the projection; every
 *   later call rejects with that error until `close()` frees the name.
 */
/** The keys of a `ProjectionSpec`. */
const SPEC_KEYS: KnownKeys<ProjectionSpec<unknown>> = { filter: 1, initial: 1, reducer: 1, snapshotEvery: 1 }
/** The keys of `ProjectionGetOptions`. */
const GET_KEYS: KnownKeys<ProjectionGetOptions> = { asOf: 1 }

export async function openLiveProjection<S, D>(host: ProjectionHost, name: string, spec: ProjectionSpec<S, D>): Promise<Projection<S>> {
  const s = expectObject('spec', spec, SPEC_KEYS)
  const reducer = expectFunction<ProjectionReducer<unknown, unknown>>('spec.reducer', s['reducer'])
  const every = s['snapshotEvery'] === undefined ? DEFAULT_SNAPSHOT_EVERY : expectPositiveInteger('spec.snapshotEvery', s['snapshotEvery'])
  const filter = s['filter'] === undefined ? {} : expectFilter(expectObject('spec.filter', s['filter'], FILTER_KEYS), 'spec.filter.')
  const initialBytes = encodeValue(s['initial'], 'spec.initial').bytes // CAIRN_INVALID_VALUE for a non-IPLD initial
  const fingerprint = fingerprintOf(name, filter, every, reducer, initialBytes)
  const bytes = await host.readDerived(`p.${name}`).catch(() => undefined)
  const saved = bytes === undefined ? undefined : decodeSaved(bytes, fingerprint)
  const p = new LiveProjection<S>(host, name, filter, every, reducer, initialBytes, fingerprint)
  await p.start(saved)
  return p
}

interface KeyState {
  state: unknown
  /** The last folded event; undefined only while a recompute starts from the initial state. */
  last: Position | undefined
  /** Events folded. */
  count: number
  /** In canonical order; every `every` folded events. */
  snapshots: Snapshot[]
  /** Bumped when snapshots are dropped: an `asOf` read racing it starts over. */
  epoch: number
}

type Job = { kind: 'commit'; events: readonly StoredEvent[]; heads: readonly CID[] } | { kind: 'catch-up'; saved: Saved | undefined; heads: CID[] }

class LiveProjection<S> implements Projection<S> {
  readonly name: string
  readonly #host: ProjectionHost
  readonly #filter: EventFilter
  readonly #every: number
  readonly #reducer: ProjectionReducer<unknown, unknown>
  readonly #initialBytes: Uint8Array
  readonly #fingerprint: Uint8Array
  #keys = new Map<string, KeyState>()
  /** Every event reachable from these is folded. */
  #heads: readonly CID[] = []
  readonly #queue: Job[] = []
  #running: Promise<void> | undefined
  #failure: Error | undefined
  #closing: Promise<void> | undefined
  #unsubscribe: (() => void) | undefined
  #unregisterClose: (() => void) | undefined
  /** Reducer calls since the last persist. */
  #sincePersist = 0
  /** Something (states or covered heads) changed since the last persist. */
  #dirty = false

  constructor(host: ProjectionHost, name: string, filter: EventFilter, every: number, reducer: ProjectionReducer<unknown, unknown>, initialBytes: Uint8Array, fingerprint: Uint8Array) {
    this.#host = host
    this.name = name
    this.#filter = filter
    this.#every = every
    this.#reducer = reducer
    this.#initialBytes = initialBytes
    this.#fingerprint = fingerprint
  }

  /** Follows commits, catches up from what was saved, and resolves once caught up. */
  async start(saved: Saved | undefined): Promise<void> {
    this.#unsubscribe = this.#host.onCommit((events, heads) => {
      if (this.#failure !== undefined || this.#closing !== undefined) return
      this.#queue.push({ kind: 'commit', events, heads: [...heads] })
      this.#kick()
    })
    this.#unregisterClose = this.#host.onClose(() => this.close())
    // Subscribed first: a commit from now on is queued after the catch-up (seen twice at worst, which is harmless).
    this.#queue.unshift({ kind: 'catch-up', saved, heads: this.#host.heads() })
    this.#kick()
    try {
      await this.#idle()
    } catch (err) {
      this.#stop()
      throw err
    }
  }

  async get(key: string, options: ProjectionGetOptions = {}): Promise<S> {
    this.#checkOpen()
    expectString('key', key)
    expectObject('options', options, GET_KEYS)
    const asOf = options.asOf === undefined ? undefined : expectAsOf('asOf', options.asOf)
    await this.#idle()
    if (asOf === undefined) {
      const ks = this.#keys.get(key)
      return (ks === undefined ? this.#initial() : ks.state) as S
    }
    for (;;) {
      this.#checkOpen()
      const ks = this.#keys.get(key)
      const epoch = ks?.epoch
      const state = typeof asOf === 'number' ? await this.#atTime(key, ks, asOf) : await this.#atEvent(key, ks, asOf)
      if (ks === this.#keys.get(key) && ks?.epoch === epoch) return state as S
      await this.#idle() // an import recomputed the key meanwhile: its snapshots changed, start over
    }
  }

  async *keys(): AsyncGenerator<string> {
    this.#checkOpen()
    await this.#idle()
    yield* [...this.#keys.keys()].sort()
  }

  async stateHash(): Promise<CID> {
    this.#checkOpen()
    await this.#idle()
    return projectionStateHash([...this.#keys.keys()].sort(), (key) => this.#keys.get(key)!.state)
  }

  async ready(): Promise<void> {
    this.#checkOpen()
    await this.#idle()
  }

  /** Stops following the log, finishes queued work, persists (unless failed) and frees the name. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#unsubscribe?.()
      await this.#waitRunning()
      if (this.#failure === undefined && this.#dirty) await this.#persist()
      this.#stop()
      this.#keys = new Map()
    })()
    return this.#closing
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new CairnError('CAIRN_CLOSED', `the projection "${this.name}" is closed`)
  }

  /** Unsubscribes and frees the name: after a failure or on close. */
  #stop(): void {
    this.#unsubscribe?.()
    this.#unregisterClose?.()
    this.#queue.length = 0
    this.#host.release()
  }

  // ---- the worker: one job at a time, in commit order ----

  #kick(): void {
    if (this.#running === undefined && this.#queue.length > 0 && this.#failure === undefined) {
      this.#running = this.#drain()
    }
  }

  async #drain(): Promise<void> {
    await null // never run reducers inside the store's commit
    try {
      for (;;) {
        const job = this.#queue.shift()
        if (job !== undefined) {
          await this.#run(job)
          continue
        }
        if (this.#sincePersist >= PERSIST_EVERY) {
          await this.#persist()
          continue
        }
        return
      }
    } catch (err) {
      this.#failure = err instanceof Error ? err : new CairnError(REDUCER_FAILED, `projection "${this.name}" failed: ${String(err)}`, { cause: err })
      this.#queue.length = 0
      this.#unsubscribe?.()
    } finally {
      this.#running = undefined // in the same tick as the last look at the queue: no job is left behind
    }
  }

  async #waitRunning(): Promise<void> {
    while (this.#running !== undefined) await this.#running
  }

  /** Waits until every queued commit is folded; throws the error the projection stopped with. */
  async #idle(): Promise<void> {
    await this.#waitRunning()
    if (this.#failure !== undefined) throw this.#failure
  }

  async #run(job: Job): Promise<void> {
    if (job.kind === 'commit') {
      await this.#fold(job.events, job.heads)
      return
    }
    let saved = job.saved
    // A saved value can outlive a log that was replaced: it counts only if the log holds its heads.
    if (saved !== undefined && !saved.heads.every((h) => this.#host.has(h))) saved = undefined
    if (saved === undefined) {
      this.#dirty = true
      // From scratch: only the matching events, through the store's indexes.
      await this.#fold(this.#host.query(this.#filter), job.heads)
      return
    }
    this.#keys = new Map([...saved.keys].map(([key, k]) => [key, { ...k, epoch: 0 }]))
    this.#heads = saved.heads
    await this.#fold(this.#host.eventsSince(saved.heads), job.heads)
  }

  /**
   * Folds new events (canonical order expected, not required): an event after its key's last
   * folded one extends the key; one before it (a merge, or a repeat) recomputes the key from
   * its latest snapshot strictly before the earliest such event.
   */
  async #fold(events: readonly StoredEvent[] | AsyncIterable<StoredEvent>, heads: readonly CID[]): Promise<void> {
    const redo = new Map<string, Position>()
    if (Array.isArray(events)) for (const e of events as readonly StoredEvent[]) this.#take(e, redo)
    else for await (const e of events) this.#take(e, redo)
    for (const [key, from] of redo) await this.#recompute(key, from)
    if (redo.size > 0) this.#dirty = true
    if (!sameCids(this.#heads, heads)) {
      this.#heads = heads
      this.#dirty = true
    }
  }

  /** One new event: folded now, or its key marked for a recompute from the earliest such event. */
  #take(e: StoredEvent, redo: Map<string, Position>): void {
    if (!streamMatches(this.#filter, e.stream)) return
    const key = e.stream
    const ks = this.#keys.get(key)
    if (!typeMatches(this.#filter, e.type)) {
      // Not folded, but it shifts the versions of the snapshots after it. A repeat shifts
      // them too far, which is safe: a version is a hint, checked before it is relied on.
      if (ks?.last !== undefined && compareEvents(e, ks.last) < 0) {
        for (const snap of ks.snapshots) if (compareEvents(snap, e) > 0) snap.version++
        this.#dirty = true
      }
      return
    }
    const from = redo.get(key)
    if (from !== undefined) {
      if (compareEvents(e, from) < 0) redo.set(key, position(e))
      return
    }
    if (ks?.last !== undefined) {
      const c = compareEvents(e, ks.last)
      if (c === 0) return
      if (c < 0) {
        redo.set(key, position(e))
        return
      }
    }
    this.#step(key, ks, e)
    this.#dirty = true
  }

  /** Folds `e` into the key (creating it), snapshotting every `every` events. */
  #step(key: string, ks: KeyState | undefined, e: StoredEvent): void {
    if (ks === undefined) {
      ks = { state: this.#initial(), last: undefined, count: 0, snapshots: [], epoch: 0 }
      this.#keys.set(key, ks)
    }
    ks.state = this.#apply(ks.state, e)
    ks.last = position(e)
    ks.count++
    this.#sincePersist++
    if (ks.count % this.#every === 0) {
      ks.snapshots.push({ ...position(e), bytes: encodeChecked(ks.state, 'state').bytes, version: e.version, count: ks.count })
    }
  }

  /** Recomputes a key from its latest snapshot strictly before `from`. */
  async #recompute(key: string, from: Position): Promise<void> {
    const ks = this.#keys.get(key)!
    ks.epoch++
    while (ks.snapshots.length > 0 && compareEvents(ks.snapshots.at(-1)!, from) >= 0) ks.snapshots.pop()
    const base = ks.snapshots.at(-1)
    ks.state = base === undefined ? this.#initial() : this.#decode(base.bytes)
    ks.last = base === undefined ? undefined : position(base)
    ks.count = base?.count ?? 0
    for await (const e of this.#streamAfter(key, base, {})) {
      if (typeMatches(this.#filter, e.type)) this.#step(key, ks, e)
    }
    if (ks.count === 0) this.#keys.delete(key)
  }

  /**
   * The key's stream after `base` (all of it without one), under `options` (an `asOf`). Starts
   * at the snapshot's version, a hint: when the event there is not the snapshot's, rereads from
   * the start and skips up to the snapshot's position.
   */
  async *#streamAfter(key: string, base: Snapshot | undefined, options: ReadOptions): AsyncGenerator<StoredEvent> {
    if (base === undefined) {
      yield* this.#host.read(key, options)
      return
    }
    let first = true
    let hinted = false
    for await (const e of this.#host.read(key, { ...options, fromVersion: base.version })) {
      if (first) {
        first = false
        if (!e.cid.equals(base.cid)) break
        hinted = true
        continue
      }
      yield e
    }
    if (hinted) return
    for await (const e of this.#host.read(key, options)) if (compareEvents(e, base) > 0) yield e
  }

  /** The key's state with its events stamped at or before `time`. */
  async #atTime(key: string, ks: KeyState | undefined, time: number): Promise<unknown> {
    if (ks === undefined) return this.#initial()
    if (ks.last !== undefined && ks.last.ts <= time) return ks.state
    let base: Snapshot | undefined
    for (const snap of ks.snapshots) {
      if (snap.ts <= time) base = snap
      else break
    }
    return this.#foldFrom(key, base, { asOf: time })
  }

  /**
   * The key's state over its events that are ancestors-or-self of `cid` (see `openProjection`),
   * in one read of that past (renumbered 1…): a snapshot is inside it iff its event sits at its
   * version there. The events between the last proven snapshot and the next one to check are
   * held until that check (at most the gap between two snapshots), then dropped or folded.
   */
  async #atEvent(key: string, ks: KeyState | undefined, cid: CID): Promise<unknown> {
    const snaps = ks?.snapshots.slice() ?? []
    let next = 0 // the next snapshot to prove; proving stops at the first that fails
    let proving = snaps.length > 0
    let base: Snapshot | undefined
    let held: StoredEvent[] = []
    let state: unknown
    const begin = (): void => {
      proving = false
      state = base === undefined ? this.#initial() : this.#decode(base.bytes)
      for (const e of held) if (typeMatches(this.#filter, e.type)) state = this.#apply(state, e)
      held = []
    }
    if (!proving) begin()
    for await (const e of this.#host.read(key, { asOf: cid })) {
      if (proving) {
        const snap = snaps[next]!
        if (e.version < snap.version) {
          held.push(e)
          continue
        }
        if (e.version === snap.version && e.cid.equals(snap.cid)) {
          base = snap
          held = []
          if (++next === snaps.length) begin()
          continue
        }
        begin()
      }
      if (typeMatches(this.#filter, e.type)) state = this.#apply(state, e)
    }
    if (proving) begin()
    return state
  }

  /** Folds the key's stream (under `options`) after `base` onto its state, without touching live state. */
  async #foldFrom(key: string, base: Snapshot | undefined, options: ReadOptions): Promise<unknown> {
    let state = base === undefined ? this.#initial() : this.#decode(base.bytes)
    for await (const e of this.#streamAfter(key, base, options)) {
      if (typeMatches(this.#filter, e.type)) state = this.#apply(state, e)
    }
    return state
  }

  /** One reducer call, its output checked to be an IPLD value. */
  #apply(state: unknown, e: StoredEvent): unknown {
    let next: unknown
    try {
      next = this.#reducer(state, e)
    } catch (cause) {
      throw new CairnError(REDUCER_FAILED, `projection "${this.name}": the reducer threw on event ${e.cid} of "${e.stream}": ${cause instanceof Error ? cause.message : String(cause)}`, { cid: e.cid, stream: e.stream, cause })
    }
    try {
      assertIpld(next, 'state')
    } catch (cause) {
      throw new CairnError('CAIRN_INVALID_VALUE', `projection "${this.name}": the reducer returned a state that is not an IPLD value on event ${e.cid} of "${e.stream}" (${(cause as Error).message})`, {
        cid: e.cid,
        stream: e.stream,
        path: (cause as CairnError).path,
        cause,
      })
    }
    return next
  }

  #initial(): unknown {
    return this.#decode(this.#initialBytes)
  }

  #decode(bytes: Uint8Array): unknown {
    return dagCbor.decode(bytes)
  }

  /** The stream part of the filter, as `query` applies it: system streams only when the filter names them. */
  /** Writes the live states, snapshots and covered heads; best effort (the log can rebuild it). */
  async #persist(): Promise<void> {
    this.#sincePersist = 0
    this.#dirty = false
    try {
      const bytes = encodeSaved(this.#fingerprint, { heads: this.#heads, keys: this.#keys as Map<string, KeyState & { last: Position }> })
      await this.#host.writeDerived(`p.${this.name}`, bytes)
    } catch {
      this.#dirty = true
    }
  }
}

function position(e: { cid: CID; ts: number; tc: number }): Position {
  return { cid: e.cid, ts: e.ts, tc: e.tc }
}

function sameCids(a: readonly CID[], b: readonly CID[]): boolean {
  return a.length === b.length && a.every((c, i) => c.equals(b[i]!))
}
