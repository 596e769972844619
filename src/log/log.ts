import { CidMap } from '../block/cid-map.ts'
import type { CID } from 'multiformats/cid'
import type { Block, BlockRecord } from '../block/interface.ts'
import { linksIn } from '../block/codec.ts'
import type { ByteSource } from '../car/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { ProgressPlan } from '../errors/progress.ts'
import type { ProgressReporter } from '../errors/progress-reporter.ts'
import type { DagSource } from '../objects/complete.ts'
import type { ImportedFile } from '../objects/unixfs.ts'

/** A file chunked into blocks but not recorded yet: `release` once it is recorded or abandoned. */
export interface ChunkedFile extends ImportedFile {
  release(): void
  /** The reporter of the chunking's progress plan, if it had one: `done()` makes the final report. */
  progress: ProgressReporter | undefined
}
import type { CompactOptions, CompactReport, StorageEngine } from '../storage/interface.ts'
import { Admission, type AccessCheckClass, type TrustRules } from './admission.ts'
import { ChangeHub } from './changes.ts'
import type { StoredEvent } from './event/interface.ts'
import { reachesBeyondLog } from './event/links.ts'
import { OBJECTS_STREAM } from './event/object-record.ts'
import { sortCids } from './event/order.ts'
import { AppendQueue, type WaitingAppend } from './group-commit.ts'
import { syncHints } from './hints.ts'
import { IndexingQueue } from './indexing.ts'
import { Mutex } from '../storage/mutex.ts'
import { planAppend, type AppendBase, type PlannedBefore } from './plan-append.ts'
import type { StagingLimits } from './plan-import.ts'
import { objectDraft, objectRecordOf, writesSomething, type CommitPlan, type Draft, type UnitOfWork } from './plan.ts'
import { SNAPSHOT_MIN, SnapshotScheduler } from './snapshots.ts'
import type { VerifyReport } from './verify.ts'
import { EventReader, toStoredEvent, type LoadedEvent } from './views/event-reader.ts'
import type { PendingPasts } from './views/access-contexts.ts'
import { collectNew, openViews } from './views/open.ts'
import type { LogViews } from './views/views.ts'

/** Events indexed on open that are kept decoded in the event cache. */
const DEFAULT_WARM = 1024

/** How the log is opened. */
export interface LogOpenOptions {
  /** Wall clock in ms for HLC stamps. */
  readonly clock: () => number
  /** Ignore the persisted index snapshot and rebuild the views from the blocks. */
  readonly rebuildIndex: boolean
  /** Signing, signature and access rules, policy gates. */
  readonly trust: TrustRules
}

/** How open found the views (see `CairnStore.indexStatus`). */
export interface LogOpened {
  readonly fromSnapshot: boolean
  readonly indexedOnOpen: number
}

/** An import's limits and rules, defaults applied. */
export interface ImportRules extends StagingLimits {
  readonly maxClockDrift: number
  readonly foreignType: string
}

/** Writes blocks ahead of the commit that references them (see EventLog's #staging). */
interface Staging {
  write(blocks: readonly BlockRecord[], skipHeld: boolean): Promise<boolean[]>
  /** Lets compaction reclaim the written blocks again (once referenced, or abandoned). */
  release(): void
  /** Waits for every write still queued. */
  settle(): Promise<void>
}

/** What an import added (the store's `ImportReport`). */
export interface ImportOutcome {
  readonly blocks: number
  readonly events: number
  readonly heads: CID[]
  readonly roots: CID[]
  readonly foreign: CID[]
}

/**
 * The log: its state (heads, views, event cache), and the one place every change to it goes
 * through. A change is first planned — `planAppend` for appends and object records,
 * `planImport` (then `planAppend` for the records of foreign DAGs) for a CAR — into a
 * CommitPlan, with every rule checked and nothing written; then `#apply` makes it durable in
 * one storage commit and updates, in this order and without an await between the first two,
 * the views and the heads; then the derived indexing, the change feed, and the snapshot
 * schedule. Writes run one at a time under a mutex; appends that arrive while another write
 * holds it share the next commit (group commit, group-commit.ts).
 */
export class EventLog {
  readonly storage: StorageEngine
  readonly views: LogViews
  /** Event payloads from storage, verified, through a cache of recently used events. */
  readonly events: EventReader
  /** The change feed: subscribers, `changes()` waiters and commit listeners. */
  readonly hub: ChangeHub = new ChangeHub()
  readonly opened: LogOpened
  readonly #clock: () => number
  readonly #writes = new Mutex()
  /** Appends waiting for the write lock, committed together on its next turn. */
  readonly #appends: AppendQueue = new AppendQueue((group) => this.#exclusive(() => this.#commitGroup(group)))
  readonly #indexing: IndexingQueue
  readonly #snapshots: SnapshotScheduler
  /** Signatures, access rules and gates: what this replica signs and admits. */
  readonly admission: Admission
  #heads: CID[]
  #closed = false
  /** Blocks of files still being chunked or not yet recorded (keys by CID string, with a count): compaction keeps them. */
  readonly #unrecorded = new Map<string, number>()
  readonly #stopListening: () => void

  private constructor(storage: StorageEngine, views: LogViews, heads: CID[], options: LogOpenOptions, opened: LogOpened, accessCheck: AccessCheckClass | undefined) {
    this.storage = storage
    this.views = views
    this.events = new EventReader(storage, views)
    this.opened = opened
    this.#heads = heads
    this.#clock = options.clock
    this.#indexing = new IndexingQueue(views, storage)
    this.admission = new Admission(views, this.events, options.trust, accessCheck)
    this.#snapshots = new SnapshotScheduler(storage, views, opened.fromSnapshot ? views.size - opened.indexedOnOpen : 0)
    // Another writer on the same storage committed: catch up now, so subscribers see it live.
    this.#stopListening =
      storage.onExternalCommit?.(() => {
        void this.#writes
          .run(async () => {
            if (!this.#closed) await this.#catchUp()
          })
          .catch(() => {})
      }) ?? (() => {})
  }

  /**
   * Opens the log on a storage engine: loads the persisted index snapshot and indexes only the
   * events committed after it (or rebuilds the views from the blocks). Closes the engine when
   * that fails.
   */
  static async open(storage: StorageEngine, options: LogOpenOptions): Promise<EventLog> {
    try {
      const heads = sortCids(await storage.heads())
      const [opened, accessCheck] = await Promise.all([openViews(storage, heads, options.rebuildIndex), Admission.load(options.trust)])
      const log = new EventLog(storage, opened.views, heads, options, { fromSnapshot: opened.fromSnapshot, indexedOnOpen: opened.indexed }, accessCheck)
      for (const e of opened.fresh.slice(-DEFAULT_WARM)) log.events.remember(e)
      await log.admission.catchUp()
      // Persist what this open had to index, so the next one does not index it again.
      if (opened.indexed > 0) {
        await log.#snapshots.ready()
        log.#snapshot(1, true)
      }
      return log
    } catch (err) {
      await storage.close().catch(() => {})
      throw err
    }
  }

  /** The heads, sorted by CID bytes (the log's own array: callers copy it). */
  get heads(): readonly CID[] {
    return this.#heads
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Events covered by the last index snapshot written or loaded. */
  get snapshotEvents(): number {
    return this.#snapshots.size
  }

  /** Throws CAIRN_CLOSED once the log is closed. */
  check(): void {
    if (this.#closed) throw new CairnError('CAIRN_CLOSED', 'the store is closed')
  }

  // ---- writes: plan, then apply ----

  /**
   * Appends drafts as one atomic batch. Resolves to each draft's event (stored or new) once
   * they are durable. Appends that arrive while another write holds the lock are committed
   * together on its next turn (group commit): each planned on top of the ones before it, with
   * its own rules (expectedVersion and meta.id count the events planned before it) and its
   * own signature; one that a rule refuses fails alone, the others go on in one storage commit.
   */
  append(drafts: readonly Draft[]): Promise<StoredEvent[]> {
    return this.#appends.add(drafts)
  }

  /**
   * Records an encoded value as an object: its block and its `object.put` event in one commit.
   * Everything it links to must be stored with its whole DAG. No-op when already recorded with
   * this type.
   */
  putObject(block: Block<unknown>, type: string, value: unknown): Promise<void> {
    return this.#locked(async () => {
      if (this.views.hasObject(block.cid, type)) return
      await this.#assertLinkedDags(block.cid, value, { storage: this.storage }, new Set())
      const draft = objectDraft(block.cid, type, block.bytes.length, { value })
      await this.#apply(await this.#planAppend({ ...this.#base(), blocks: [block] }, [draft]))
    })
  }

  /**
   * Chunks a file's bytes (any ByteSource) into a UnixFS file. Full slices of blocks are committed as they are
   * made, without moving the heads (a crash leaves only unreferenced blocks); the rest comes
   * back, to be committed with the file's `object.put` event. With `plan`, the signal is
   * checked before the first chunk and progress reported as the bytes are read; the file comes
   * back with its reporter (`progress`), for the final report.
   */
  chunkFile(source: ByteSource, plan?: ProgressPlan): Promise<ChunkedFile> {
    const staging = this.#staging()
    const flush = async (blocks: BlockRecord[]): Promise<void> => {
      await staging.write(blocks, false)
    }
    // The reporter loads with the file importer, on first use.
    return import('../objects/unixfs.ts')
      .then(({ importFile, reporterOf }) => {
        const progress = reporterOf(plan)
        progress?.check()
        return importFile(source, flush, progress).then((file) => ({ ...file, release: staging.release, progress }))
      })
      .catch(async (err: unknown) => {
        // The importer may give up while a flush is still queued: let it land, then release it.
        await staging.settle()
        staging.release()
        throw err
      })
  }

  /**
   * Writes blocks ahead of the commit that will reference them (a file's chunks, an import's
   * file blocks): each slice is committed under the write lock without moving the heads, so a
   * crash leaves only unreferenced blocks, and compaction keeps them until `release` (once the
   * referencing commit landed, or failed). With `skipHeld`, blocks storage holds already are
   * not written again; `write` resolves to whether each block was new.
   */
  #staging(): Staging {
    const kept: string[] = []
    const pending = new Set<Promise<unknown>>()
    const write = (blocks: readonly BlockRecord[], skipHeld: boolean): Promise<boolean[]> => {
      const done = this.#locked(async () => {
        const fresh = skipHeld ? await Promise.all(blocks.map(async (b) => !(await this.storage.has(b.cid)))) : blocks.map(() => true)
        const writes = skipHeld ? blocks.filter((_, i) => fresh[i]) : blocks
        if (writes.length > 0) await this.storage.commit({ blocks: writes, heads: this.#heads })
        for (const b of blocks) {
          const key = b.cid.toString()
          kept.push(key)
          this.#unrecorded.set(key, (this.#unrecorded.get(key) ?? 0) + 1)
        }
        return fresh
      })
      pending.add(done)
      void done.finally(() => pending.delete(done)).catch(() => {})
      return done
    }
    const release = (): void => {
      for (const key of kept.splice(0)) {
        const n = (this.#unrecorded.get(key) ?? 1) - 1
        if (n === 0) this.#unrecorded.delete(key)
        else this.#unrecorded.set(key, n)
      }
    }
    const settle = async (): Promise<void> => {
      await Promise.allSettled([...pending])
    }
    return { write, release, settle }
  }

  /**
   * Chunks a byte stream into a UnixFS file (see chunkFile) and records it. `progress` is
   * checked before the first chunk, as the bytes are read, and last just before the record's
   * commit (its final report): an abort or a throwing `onProgress` up to then records nothing.
   */
  async putFile(source: ByteSource, type: string, plan?: ProgressPlan): Promise<CID> {
    const file = await this.chunkFile(source, plan)
    try {
      await this.#recordFile(file, type, file.progress)
    } finally {
      file.release()
    }
    return file.cid
  }

  #recordFile(file: ImportedFile, type: string, progress?: ProgressReporter): Promise<void> {
    return this.#locked(async () => {
      progress?.done()
      if (this.views.hasObject(file.cid, type)) {
        if (file.rest.length > 0) await this.storage.commit({ blocks: file.rest, heads: this.#heads })
        return
      }
      const draft = objectDraft(file.cid, type, file.size, undefined)
      await this.#apply(await this.#planAppend({ ...this.#base(), blocks: file.rest }, [draft]))
    })
  }

  /**
   * Commits a unit of work as one batch: appends and the records of values and files, in the
   * order they were asked for, with the blocks they bring. Every rule is checked against the
   * log as it stands now (expectedVersion, meta.id, the completeness of what values link to —
   * within the work's own blocks or in storage); a value or file already recorded with its
   * type adds no record. All of it becomes durable and visible at once, or none of it.
   * Resolves to each draft's event, in order (undefined for a skipped record).
   */
  commitWork(work: UnitOfWork): Promise<(StoredEvent | undefined)[]> {
    return this.#locked(async () => {
      const own = new CidMap<BlockRecord>(work.blocks.map((b) => [b.cid, b]))
      const visited = new Set<string>()
      for (const { cid, value } of work.values) await this.#assertLinkedDags(cid, value, { car: own, storage: this.storage }, visited)
      const recorded = new Set<string>()
      const kept: Draft[] = []
      const keptAt: number[] = []
      work.drafts.forEach((draft, i) => {
        const record = objectRecordOf(draft)
        if (record !== undefined) {
          const key = `${record.type}\u0000${record.cid}`
          if (recorded.has(key) || this.views.hasObject(record.cid, record.type)) return
          recorded.add(key)
        }
        kept.push(draft)
        keptAt.push(i)
      })
      const stored = await this.#apply(await this.#planAppend({ ...this.#base(), blocks: work.blocks }, kept))
      const out: (StoredEvent | undefined)[] = new Array(work.drafts.length).fill(undefined)
      keptAt.forEach((at, k) => {
        out[at] = stored[k]
      })
      return out
    })
  }

  /**
   * Imports a CAR: reads it with every block verified, plans it against the log (every rule of
   * the format and of the log; see planImport), appends the records of foreign DAGs on top,
   * and applies it all as one commit. Throws, naming the CID, with the store unchanged.
   * `progress` is checked before the read, after each block, and last just before the commit
   * (its final report): an abort or a throwing `onProgress` up to then changes nothing visible.
   */
  async import(source: ByteSource, rules: ImportRules, plan?: ProgressPlan): Promise<ImportOutcome> {
    // The import path (CAR reader, planner) loads on first use: apps that never import do not ship it.
    const { planImport, readVerifiedCar, assertSignatures, reporterOf } = await onDemand()
    const progress = reporterOf(plan)
    progress?.check()
    // File blocks past a slice are staged to storage, unreferenced, as the CAR streams in.
    const staging = this.#staging()
    try {
      const car = await readVerifiedCar(source, rules, (blocks) => staging.write(blocks, true), progress)
      return await this.#locked(async () => {
        const imported = await planImport(car, this.views, this.storage, this.#heads, { now: this.#clock(), maxClockDrift: rules.maxClockDrift, foreignType: rules.foreignType })
        const trust = this.admission.rules
        await assertSignatures(imported.events, trust.requireSignatures, trust.verify)
        const before = this.views.size
        const drafts = imported.foreign.map((f) => objectDraft(f.cid, rules.foreignType, f.size, undefined))
        const plan = await this.#planAppend(imported, drafts, imported.events.length)
        // The last report and abort check: past this point the import is committed.
        progress?.done()
        if (writesSomething(plan)) await this.#apply(plan)
        return {
          blocks: imported.blocks.length + imported.stagedBlocks + imported.foreign.length,
          events: this.views.size - before - imported.foreign.length,
          heads: [...this.#heads],
          roots: car.roots,
          foreign: imported.foreign.map((f) => f.cid),
        }
      })
    } finally {
      await staging.settle()
      staging.release()
    }
  }

  /**
   * Reclaims the blocks no head reaches (a refused or aborted import's, an interrupted file's,
   * a failed transaction's): the engine removes every stored block that is not an event of the
   * log, not in the DAG of a recorded object or file, not linked from an event, and not a block
   * of a file still being put. Runs under the write lock, after indexing caught up, so the
   * views' containment index knows every DAG the log reaches. Engines without compaction keep
   * every block.
   */
  compact(options: CompactOptions): Promise<CompactReport> {
    return this.#locked(async () => {
      if (this.storage.compact === undefined) return { blocksRemoved: 0, bytesReclaimed: 0 }
      await this.#indexing.run()
      if (this.#indexing.pending > 0) {
        throw new CairnError('CAIRN_STORAGE', 'cannot compact now: committed events are still waiting to be indexed (a block read failed); retry later')
      }
      const views = this.views
      const unrecorded = this.#unrecorded
      const live = (cid: CID): boolean => {
        if (views.has(cid)) return true
        const key = cid.toString()
        return views.containers(key) !== undefined || unrecorded.has(key)
      }
      return this.storage.compact(live, options)
    })
  }

  // ---- reads of the log's structure ----

  /** A CARv1 of what the log holds beyond `since`, rooted at the current heads. Pull-based. */
  export(since: readonly CID[], progress?: ProgressPlan): AsyncIterable<Uint8Array> {
    const heads = [...this.#heads]
    return lazyExport(this.views, this.storage, heads, since, this.views.size, (cid) => this.#indexing.has(cid), progress)
  }

  /** A CARv1 of the DAGs under `roots`, rooted at them (see dagBlocks). Pull-based. */
  async *exportDag(roots: readonly CID[], progress?: ProgressPlan): AsyncGenerator<Uint8Array> {
    const { exportDagCar } = await onDemand()
    yield* exportDagCar(this.storage, roots, progress)
  }

  /** Our heads plus ancestors at exponentially growing distances (see syncHints). */
  hints(): CID[] {
    return syncHints(this.views, this.#heads)
  }

  /** The events reachable from the heads and not from `since`, oldest first, as arrival numbers. */
  async eventsSince(since: readonly CID[]): Promise<number[]> {
    const heads = this.#heads
    // With the export path, loaded on first use (only projections catching up ask).
    const { newEvents } = await onDemand()
    return newEvents(this.views, heads, since).reverse()
  }

  /** Walks every block reachable from the heads and re-hashes it. */
  async verify(progress?: ProgressPlan): Promise<VerifyReport> {
    const heads = this.#heads
    // Loaded on first use: most apps never verify a whole store.
    const { verifyReachable, reporterOf } = await onDemand()
    return verifyReachable(this.storage, heads, reporterOf(progress))
  }

  /** Waits for writes in flight, finishes indexing, writes a last snapshot, closes the engine. */
  close(): Promise<void> {
    this.#appends.seal()
    return this.#writes.run(async () => {
      if (this.#closed) return
      await this.#indexing.run()
      await this.#snapshots.settled()
      await this.#snapshots.ready()
      this.#snapshot(1, true)
      await this.#snapshots.settled()
      this.#closed = true
      this.#stopListening()
      this.hub.close()
      await this.storage.close()
    })
  }

  // ---- internals ----

  /**
   * Runs a write other than an append, after the appends asked for before it (which it seals
   * off from later ones): see #exclusive.
   */
  #locked<T>(task: () => Promise<T>): Promise<T> {
    this.#appends.seal()
    return this.#exclusive(task)
  }

  /**
   * Runs a write: one at a time in this log (the mutex) and, on storage that other writers
   * share, holding the storage's exclusive lock after catching up with their commits — so
   * every plan is made against the latest heads and no commit overwrites another's.
   */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.#writes.run(async () => {
      this.check()
      if (this.storage.exclusive === undefined) return task()
      return this.storage.exclusive(async () => {
        await this.#catchUp()
        return task()
      })
    })
  }

  /**
   * Another writer on the same storage committed (a change planned elsewhere and already
   * durable): reads the heads, walks back from them to what the views hold, and applies the
   * events found, without a storage commit.
   */
  async #catchUp(): Promise<void> {
    const stored = sortCids(await this.storage.heads())
    if (stored.length === this.#heads.length && stored.every((h, i) => h.equals(this.#heads[i]!))) return
    const fresh = await collectNew(this.storage, this.views, stored)
    await this.#apply({ blocks: [], events: fresh, heads: stored, results: [] }, true)
  }

  #base(): AppendBase {
    return { heads: this.#heads, events: [], blocks: [] }
  }

  /**
   * Plans appends on a base (the log, or an import's plan whose first `imported` events came
   * from the CAR), signed by this replica's signer, and checks every new event against the
   * access rules and gates. In a group commit, `before` and `pasts` carry what the callers
   * before this one planned (see #commitGroup).
   */
  async #planAppend(base: AppendBase, drafts: readonly Draft[], imported = 0, before?: PlannedBefore, pasts?: PendingPasts): Promise<CommitPlan> {
    const { signer, requireSignatures } = this.admission.rules
    if (signer === undefined && requireSignatures && drafts.length > 0) {
      throw new CairnError('CAIRN_INVALID_SIGNATURE', 'this store requires signed events: open it with a signer; nothing was written')
    }
    const plan = await planAppend(this.views, this.events, base, drafts, this.#clock(), signer, before)
    await this.admission.check(plan.events, imported, pasts)
    return plan
  }

  /**
   * One turn of the write lock for a group of appends: plans each caller's drafts on top of
   * the callers before it (its own rules, its own signature at the end of its own chain, its
   * events admitted in the context of the ones before), leaves out — rejecting it — a caller
   * whose plan throws, applies the rest as one storage commit, and resolves each caller with
   * its own events once that commit is durable. A failed commit fails every caller in it.
   * Where no rule needs a caller planned alone, all drafts are planned at once (the same plan,
   * a fraction of the work per caller); only when that plan throws are they planned one by one.
   */
  async #commitGroup(queued: WaitingAppend[]): Promise<void> {
    const callers = this.#appends.take(queued)
    // One plan for every caller's drafts, in order: a lone caller's, or a group's when no rule
    // depends on a caller being planned alone (no signature ends each caller's chain, no access
    // rule or gate judges its events). It is the plan the callers one by one would make — each
    // caller's events on top of the ones before — bar the clock read once.
    if (callers.length === 1 || (this.admission.rules.signer === undefined && !this.admission.active)) {
      let plan: CommitPlan | undefined
      try {
        const drafts = callers.flatMap((caller) => caller.drafts)
        plan = await this.#planAppend(this.#base(), drafts)
      } catch (err) {
        // Some caller's drafts break a rule: nothing was written; a lone caller is refused, a
        // group's callers are planned one by one below, so that only that caller is.
        if (callers.length === 1) return callers[0]!.reject(err)
      }
      if (plan !== undefined) {
        let stored: StoredEvent[]
        try {
          stored = await this.#apply(plan)
        } catch (err) {
          for (const caller of callers) caller.reject(err)
          return
        }
        let at = 0
        for (const caller of callers) {
          const from = at
          at += caller.drafts.length
          caller.resolve(stored.slice(from, at))
        }
        return
      }
    }
    // Loaded on first use (a group of a signed store, or with rules, or with a refused caller); no await after.
    commitOneByOne ??= (await import('./group-plan.ts')).commitOneByOne
    await commitOneByOne(
      callers,
      this.#heads,
      (heads, drafts, before, pasts) => this.#planAppend({ heads, events: [], blocks: [] }, drafts, 0, before, pasts),
      (plan) => this.#apply(plan),
      new CidMap(),
    )
  }

  /**
   * Applies a plan: the storage commit (blocks and heads, atomically), then — with no await in
   * between, so nobody sees a head the views lack — the views and the heads. The commit is then
   * durable and nothing after it may fail the call: derived indexing (queued, retried on a
   * failed read), the change feed, the snapshot schedule. Resolves to each draft's event.
   * `durable`: another writer already committed it (see #catchUp); only the views follow.
   */
  async #apply(plan: CommitPlan, durable = false): Promise<StoredEvent[]> {
    const views = this.views
    const moves = durable || writesSomething(plan)
    if (!durable && writesSomething(plan)) await this.storage.commit({ blocks: [...plan.blocks], heads: [...plan.heads] })
    // One merge per list for the whole commit, however far back an import's events land.
    const events = plan.events
    // The events' numbers in the plan's order when the views can give them (an append's), else looked up.
    const seqs = views.addEvents(events)
    const added: LoadedEvent[] = new Array(events.length)
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!
      added[i] = { seq: seqs?.[i] ?? views.seqOf(e.cid), cid: e.cid, event: e.event }
    }
    if (moves) this.#heads = [...plan.heads]
    for (const e of added) this.events.remember(e)
    // Access contexts follow the views; a failed read here is retried by the next check.
    await this.admission.catchUp().catch(() => {})
    // An event that records no object and links to nothing has nothing to index.
    for (const e of events) if (e.event.stream === OBJECTS_STREAM || reachesBeyondLog(e.event)) this.#indexing.push(e.cid, e.event, e.object, plan.verified)
    await this.#indexing.run()
    // Each new event's public shape is built once, for subscribers, commit listeners and the caller.
    const stored: (StoredEvent | undefined)[] = new Array(added.length)
    const storedAt = (i: number): StoredEvent => (stored[i] ??= toStoredEvent(added[i]!, views.version(added[i]!.seq)))
    this.hub.publish(added, storedAt, this.#heads)
    this.#snapshot(SNAPSHOT_MIN)
    // Where each result is among the added events: the next one in the plan's order (an
    // append's results name its events in order, as the same CID objects); else a scan for a
    // commit of a few, a map for more.
    let addedAt: Map<number, number> | undefined
    const indexOf = (seq: number): number | undefined => {
      if (added.length > 8) {
        addedAt ??= new Map(added.map((e, i) => [e.seq, i]))
        return addedAt.get(seq)
      }
      for (let i = 0; i < added.length; i++) if (added[i]!.seq === seq) return i
      return undefined
    }
    const results = plan.results
    const out: StoredEvent[] = new Array(results.length)
    let next = 0
    for (let r = 0; r < results.length; r++) {
      const cid = results[r]!
      if (next < added.length && added[next]!.cid === cid) {
        out[r] = storedAt(next++)
        continue
      }
      const seq = views.seqOf(cid)
      const i = indexOf(seq)
      // A retried meta.id resolves to an event stored earlier: read it back.
      out[r] = i !== undefined ? storedAt(i) : toStoredEvent(await this.events.load(seq), views.version(seq))
    }
    return out
  }

  /**
   * Every DAG the value `cid` links to is stored whole (in `source`); `visited` carries the
   * blocks seen across the values of one write. The check loads on the first value that links
   * to anything, once.
   */
  async #assertLinkedDags(cid: CID, value: unknown, source: DagSource, visited: Set<string>): Promise<void> {
    const links = linksIn(value)
    if (links.length === 0) return
    completeDag ??= await import('../objects/complete.ts')
    const { assertCompleteDag } = completeDag
    for (const link of links) await assertCompleteDag(link, this.views, source, visited, `linked from the value ${cid}`, async () => {})
  }

  /** A snapshot, unless indexing is behind (a reopen must index those events from blocks). */
  #snapshot(min: number, always = false): void {
    if (this.#indexing.pending === 0) this.#snapshots.maybe(this.#heads, min, always)
  }
}

/** A group's callers planned one by one (group-plan.ts), once a group needed it (see #commitGroup). */
let commitOneByOne: typeof import('./group-plan.ts').commitOneByOne | undefined

/** The completeness check of the DAGs a put value links to (objects/complete.ts), once a value linked to anything. */
let completeDag: typeof import('../objects/complete.ts') | undefined

/** The log's paths that load on first use (on-demand.ts): import, export, verify. */
function onDemand(): Promise<typeof import('./on-demand.ts')> {
  return import('./on-demand.ts')
}

/** `exportCar` (on-demand.ts), loaded on first use. */
async function* lazyExport(...args: Parameters<typeof import('./on-demand.ts').exportCar>): AsyncGenerator<Uint8Array> {
  const { exportCar } = await onDemand()
  yield* exportCar(...args)
}
