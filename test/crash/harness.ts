// Parent side of the crash suite: runs the writer child (test/crash/writer.ts), SIGKILLs it at a
// seeded moment, reopens the store in this process and checks what the kill left against the plan.
//
// One episode = one fresh store and a few kills in a row; each child starts where the last one's
// committed work ends. An op in flight at a kill that turns out committed is retried by the next
// child when it is idempotent (append with meta.id, put, putFile, import), so retries after a
// crash are exercised too; a committed appendMany is not retried (it has no idempotency key).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { equalBytes } from '../../src/block/codec.ts'
import { type CairnStore, CID, encodeValue, type ObjectInfo, openStore, type StoredEvent } from '../../src/index.node.ts'
import type { DonorRound } from './donor.ts'
import { type CrashEngine, openCrashStore } from './engines.ts'
import type { WriterInput } from './writer.ts'
import { batchSize, between, FILE_TYPE, fileBytes, fileSize, mix, OP_KINDS, type OpEventData, type OpKind, Plan, PUT_TYPE, rng } from './plan.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const WRITER = fileURLToPath(new URL('./writer.ts', import.meta.url))

/** What was in flight when a kill landed: an op, the writer's open, or nothing (between an ack and the next begin). */
export type InFlight = OpKind | 'open' | 'none'
export const IN_FLIGHT: readonly InFlight[] = [...OP_KINDS, 'open', 'none']

/** How the op in flight was found on reopen. */
export type Outcome = 'committed' | 'absent' | 'retried' | 'noop'

export interface CrashStats {
  kills: number
  /** Per engine, per kind in flight, per outcome. */
  counts: Map<string, Map<InFlight, Record<Outcome, number>>>
  /** Kills per engine. */
  perEngine: Map<string, number>
  /** Wall time spent per engine, ms. */
  ms: Map<string, number>
  /** How late each kill was sent, ms. */
  late: number[]
  /** Idempotent ops found committed though unacknowledged, which the next writer redid. */
  retries: Map<string, number>
}

export function newStats(): CrashStats {
  return { kills: 0, counts: new Map(), perEngine: new Map(), ms: new Map(), late: [], retries: new Map() }
}

function count(stats: CrashStats, engine: string, kind: InFlight, outcome: Outcome): void {
  if (!stats.counts.has(engine)) stats.counts.set(engine, new Map())
  const perKind = stats.counts.get(engine)!
  if (!perKind.has(kind)) perKind.set(kind, { committed: 0, absent: 0, retried: 0, noop: 0 })
  perKind.get(kind)![outcome]++
  stats.kills++
  stats.perEngine.set(engine, (stats.perEngine.get(engine) ?? 0) + 1)
}

/** The summary table: kills per engine and per kind in flight, and what became of the op in flight. */
export function summary(stats: CrashStats, seed: number): string {
  const lines = [`crash suite: ${stats.kills} SIGKILLs (seed ${seed})`]
  for (const [engine, perKind] of stats.counts) {
    lines.push(`  ${engine}: ${stats.perEngine.get(engine)} kills in ${((stats.ms.get(engine) ?? 0) / 1000).toFixed(1)} s`)
    lines.push(`    ${'in flight'.padEnd(11)} ${'kills'.padStart(5)} ${'committed'.padStart(9)} ${'absent'.padStart(6)} ${'retried'.padStart(7)} ${'no-op'.padStart(5)}`)
    for (const kind of IN_FLIGHT) {
      const row = perKind.get(kind)
      if (row === undefined) continue
      const total = row.committed + row.absent + row.retried + row.noop
      lines.push(`    ${kind.padEnd(11)} ${String(total).padStart(5)} ${String(row.committed).padStart(9)} ${String(row.absent).padStart(6)} ${String(row.retried).padStart(7)} ${String(row.noop).padStart(5)}`)
    }
  }
  const retries = [...stats.retries].map(([kind, n]) => `${n} ${kind}`).join(', ')
  if (retries !== '') lines.push(`  redone by the next writer after they committed unacknowledged (no duplicate allowed): ${retries}`)
  const late = [...stats.late].sort((a, b) => a - b)
  if (late.length > 0) lines.push(`  kills sent late by (event loop): median ${late[late.length >> 1]!.toFixed(0)} ms, max ${late.at(-1)!.toFixed(0)} ms`)
  lines.push('  committed: the op in flight was durable though unacknowledged; absent: nothing of it was there;')
  lines.push('  retried: killed while redoing an op that had committed; no-op: an import that brought nothing new')
  return lines.join('\n')
}

/**
 * CIDs of file ops, computed once per (seed, op) by putting the same bytes into a memory store
 * (the engines run the same seeds side by side and share them).
 */
export class FileCids {
  readonly #cids = new Map<string, CID>()
  readonly #pending = new Map<string, Promise<void>>()

  get(seed: number, n: number): CID | undefined {
    return this.#cids.get(`${seed}:${n}`)
  }

  /** Makes sure every file op below `end` has its CID. */
  async ensure(plan: Plan, end: number): Promise<void> {
    for (let n = 0; n < end; n++) {
      const key = `${plan.seed}:${n}`
      if (plan.kind(n) !== 'putFile' || this.#cids.has(key)) continue
      let pending = this.#pending.get(key)
      if (pending === undefined) {
        pending = (async () => {
          // A memory store per file, so the bytes are not kept.
          const store = await openStore({ memory: true })
          this.#cids.set(key, await store.putFile(fileBytes(plan.seed, n), { type: FILE_TYPE }))
          await store.close()
        })()
        this.#pending.set(key, pending)
      }
      await pending
    }
  }
}

/** What the writer printed, and how it ended. */
interface WriterRun {
  lines: string[]
  /** How much later than asked the kill was sent (this process's event loop was busy), ms. */
  late: number
  /** How long the run waited for the writer to finish loading, ms. */
  waited: number
  stderr: string
  signal: NodeJS.Signals | null
  code: number | null
}

/** A writer process, started ahead of its run: it loads its modules and waits for its input. */
class Writer {
  readonly child: ChildProcessWithoutNullStreams
  readonly lines: string[] = []
  stderr = ''
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  onLine: ((line: string) => void) | undefined
  readyAt: number | undefined

  constructor() {
    // `node --import tsx`, as killAfterAcks does: the tsx CLI would run the script in a grandchild that SIGKILL misses.
    this.child = spawn(process.execPath, ['--import', 'tsx', WRITER], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString()
    })
    // A writer that died while loading fails its run by its exit code, not by an EPIPE here.
    this.child.stdin.on('error', () => {})
    let buffered = ''
    this.child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString()
      const parts = buffered.split('\n')
      buffered = parts.pop()!
      for (const line of parts) {
        if (line === 'ready') this.readyAt = performance.now()
        this.lines.push(line)
        this.onLine?.(line)
      }
    })
    this.closed = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        if (buffered !== '') this.lines.push(buffered)
        resolve({ code, signal })
      })
    })
  }

  /**
   * Sends the input and SIGKILLs the writer `delayMs` after the first line `trigger` accepts.
   * Resolves when it exited.
   */
  async run(input: WriterInput, trigger: (line: string) => boolean, delayMs: number): Promise<WriterRun> {
    let late = 0
    const sent = performance.now()
    // A writer that never reaches its trigger (stuck, or far slower than expected) is killed anyway; the run then fails its checks.
    const guard = setTimeout(() => this.child.kill('SIGKILL'), 120_000)
    this.onLine = (line) => {
      if (!trigger(line)) return
      this.onLine = undefined
      const due = performance.now() + delayMs
      setTimeout(() => {
        late = performance.now() - due
        this.child.kill('SIGKILL')
      }, delayMs)
    }
    this.child.stdin.end(`${JSON.stringify(input)}\n`)
    const { code, signal } = await this.closed
    clearTimeout(guard)
    const waited = Math.max(0, (this.readyAt ?? sent) - sent)
    return { lines: this.lines.filter((l) => l !== 'ready'), late, waited, stderr: this.stderr, signal, code }
  }
}

/** One spare writer kept loading while the current one runs and while its store is checked. */
export class WriterPool {
  #spare: Writer | undefined

  take(): Writer {
    const writer = this.#spare ?? new Writer()
    this.#spare = new Writer()
    return writer
  }

  /** Ends the spare: its stdin closes and it exits (it never opened a store). */
  async close(): Promise<void> {
    const spare = this.#spare
    this.#spare = undefined
    if (spare === undefined) return
    spare.child.stdin.end()
    await spare.closed
  }
}

/**
 * How long ops take on this machine right now, learnt from the durations the writers print with
 * their acks (and with `opened`), so that a kill lands at a uniformly random point of the op it aims at or
 * a little after it (then between its commit and its ack, or in the next op). The seed fixes the
 * ops, the ack a kill follows and the fraction of the op it waits; only the milliseconds vary.
 */
export class Timing {
  /** Per kind: ms observed and units done (an event of a batch, 64 KiB of a file, else 1 per op). */
  readonly #seen = new Map<OpKind | 'open', { ms: number; units: number }>([
    ['appendMany', { ms: 20, units: 1 }],
    ['append', { ms: 15, units: 1 }],
    ['put', { ms: 15, units: 1 }],
    ['putFile', { ms: 20, units: 1 }],
    ['import', { ms: 80, units: 1 }],
    ['open', { ms: 100, units: 1 }],
  ])

  static units(plan: Plan, n: number): number {
    const kind = plan.kind(n)
    // A fixed part (one commit) plus the size: ten events or 64 KiB each cost about as much as a commit.
    return kind === 'appendMany' ? 1 + batchSize(plan.seed, n) / 10 : kind === 'putFile' ? 1 + fileSize(plan.seed, n) / 65536 : 1
  }

  estimate(kind: OpKind | 'open', units: number): number {
    const s = this.#seen.get(kind)!
    return (s.ms / s.units) * units
  }

  observe(kind: OpKind | 'open', units: number, ms: number): void {
    const s = this.#seen.get(kind)!
    // A moving average that forgets old runs (the machine's load changes).
    s.ms = s.ms * 0.8 + ms
    s.units = s.units * 0.8 + units
  }

  /** Learns from one writer's lines. */
  learn(plan: Plan, run: WriterRun): void {
    for (const line of run.lines) {
      const [what, a, , c] = line.split(' ')
      if (what === 'opened') this.observe('open', 1, Number(a))
      else if (what === 'ack') this.observe(plan.kind(Number(a)), Timing.units(plan, Number(a)), Number(c))
    }
  }
}

class CheckError extends Error {}
function check(ok: boolean, message: () => string): asserts ok {
  if (!ok) throw new CheckError(message())
}

const same = (a: unknown, b: unknown): boolean => encodeValue(a).cid.equals(encodeValue(b).cid)
const show = (v: unknown): string => JSON.stringify(v, (_, x) => (CID.asCID(x) === null ? x : String(x)))

/** Everything the reopened store holds, grouped by where it came from. */
interface Seen {
  byOp: Map<number, StoredEvent<OpEventData>[]>
  byRound: Map<number, StoredEvent[]>
  probes: StoredEvent[]
  objects: Map<string, ObjectInfo>
  records: Map<string, number>
  events: number
}

async function inspect(store: CairnStore): Promise<Seen> {
  const seen: Seen = { byOp: new Map(), byRound: new Map(), probes: [], objects: new Map(), records: new Map(), events: 0 }
  for await (const e of store.query({})) {
    seen.events++
    const data = e.data as Record<string, unknown> | null
    if (e.stream === 'probe') seen.probes.push(e)
    else if (typeof data?.['op'] === 'number') push(seen.byOp, data['op'], e as StoredEvent<OpEventData>)
    else if (typeof data?.['round'] === 'number') push(seen.byRound, data['round'], e)
    else throw new CheckError(`an event nothing wrote: ${show(e)}`)
  }
  for await (const e of store.read('$objects')) {
    seen.events++
    const key = String((e.data as { cid: CID }).cid)
    seen.records.set(key, (seen.records.get(key) ?? 0) + 1)
  }
  for await (const o of store.objects()) {
    check(!seen.objects.has(String(o.cid)), () => `objects() lists ${o.cid} twice`)
    seen.objects.set(String(o.cid), o)
  }
  return seen
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

async function catBytes(store: CairnStore, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const c of store.cat(cid)) {
    chunks.push(c)
    size += c.length
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/** Opens the store in this process; a store that no longer opens fails the check, saying so. */
async function reopen(engine: CrashEngine, dir: string, when: string): Promise<CairnStore> {
  try {
    return await openCrashStore(engine, dir)
  } catch (err) {
    throw new CheckError(`the store does not open ${when}: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
}

/** Options of one episode: a fresh store on `engine`, `kills` kills in a row. */
export interface EpisodeOptions {
  engine: CrashEngine
  seed: number
  kills: number
  dir: string
  carsDir: string
  donor: readonly DonorRound[]
  fileCids: FileCids
  /** Shared by the episodes of one engine. */
  timing: Timing
  writers: WriterPool
  stats: CrashStats
  log?: (line: string) => void
}

/** A failure with what is needed to reproduce it. */
export class EpisodeFailure extends Error {}

/** Runs one episode; throws an EpisodeFailure naming the seed, the kill and what the writer printed. */
export async function runEpisode(o: EpisodeOptions): Promise<void> {
  const episode = new Episode(o)
  for (let k = 0; k < o.kills; k++) {
    let run: WriterRun | undefined
    try {
      run = await episode.kill(k)
    } catch (err) {
      const tail = run ?? episode.lastRun
      throw new EpisodeFailure(
        [
          `${o.engine}, seed ${o.seed}, kill ${k + 1}/${o.kills} (writer from op ${episode.start}${episode.aim === undefined ? '' : `, ${episode.aim}`}): ${err instanceof Error ? err.message : String(err)}`,
          `  re-run: CAIRN_CRASH_SEED=${o.seed} CAIRN_CRASH_KILLS=${o.kills} npx vitest run --project node test/node/crash.node.spec.ts (the first episode of each engine uses that seed)`,
          `  store kept in ${o.dir}`,
          tail === undefined ? '' : `  writer printed: ${tail.lines.slice(-8).join(' | ')}${tail.stderr === '' ? '' : `\n  writer stderr: ${tail.stderr.slice(-2000)}`}`,
        ].join('\n'),
        { cause: err },
      )
    }
  }
}

class Episode {
  readonly o: EpisodeOptions
  readonly plan: Plan
  readonly storeDir: string
  readonly schedule: () => number
  /** The next writer starts at this op. */
  start = 0
  /** Ops below this are committed. */
  committedEnd = 0
  probes = 0
  lastRun: WriterRun | undefined
  /** Objects whose bytes were read back (get, cat) after an earlier kill; verify() re-hashes them after every kill. */
  readonly read = new Set<string>()
  /** Where the current kill aims, for failure messages. */
  aim: string | undefined

  constructor(o: EpisodeOptions) {
    this.o = o
    this.plan = new Plan(o.seed, (j) => {
      const cid = o.fileCids.get(o.seed, j)
      if (cid === undefined) throw new Error(`no CID computed for file op ${j}`)
      return cid
    })
    this.storeDir = join(o.dir, 'store')
    this.schedule = rng(mix(o.seed, 0x5eed))
  }

  async kill(k: number): Promise<WriterRun> {
    const { plan, o } = this
    const r = this.schedule
    // Where the kill lands: during the writer's open now and then, else within the op after `target` acks.
    const target = r() < 0.1 ? 0 : between(r, 1, 4)
    const aim = this.start + target
    const delay = Math.floor(r() * 1.25 * Math.min(2000, target === 0 ? o.timing.estimate('open', 1) : o.timing.estimate(plan.kind(aim), Timing.units(plan, aim))))
    this.aim = target === 0 ? `killed ${delay} ms after it began to open` : `killed ${delay} ms after ack ${aim - 1}`
    await o.fileCids.ensure(plan, this.start)
    const files: [number, string][] = []
    for (let j = 0; j < this.start; j++) if (plan.kind(j) === 'putFile') files.push([j, String(o.fileCids.get(o.seed, j))])

    const trigger = target === 0 ? (l: string) => l === 'opening' : (l: string) => l.startsWith(`ack ${this.start + target - 1} `)
    const t0 = performance.now()
    const run = await o.writers.take().run({ engine: o.engine, dir: this.storeDir, seed: o.seed, start: this.start, files, carsDir: o.carsDir }, trigger, delay)
    this.lastRun = run
    o.timing.learn(plan, run)
    o.stats.late.push(run.late)
    check(run.signal === 'SIGKILL', () => `the writer was not killed but exited with code ${run.code}`)

    // What the writer said: acks in order from `start`, each for the planned op and CID.
    await o.fileCids.ensure(plan, this.start + run.lines.filter((l) => l.startsWith('ack ')).length + 1)
    let acks = 0
    let begun: number | undefined
    let opened = false
    for (const line of run.lines) {
      const [what, nArg, kind, , cid] = line.split(' ')
      if (what === 'opened') opened = true
      if (what === 'begin') begun = Number(nArg)
      if (what !== 'ack') continue
      const n = this.start + acks
      check(Number(nArg) === n && kind === plan.kind(n), () => `ack ${nArg} ${kind} where op ${n} ${plan.kind(n)} was expected`)
      if (kind === 'put' || kind === 'putFile') check(cid === String(plan.objectCid(n)), () => `op ${n} ${kind} acknowledged ${cid}, expected ${plan.objectCid(n)}`)
      acks++
    }
    check(acks >= target, () => `the writer was killed after ${acks} acks, before its trigger (${target})`)
    const f = this.start + acks
    const inFlight: InFlight = !opened ? 'open' : begun === f ? plan.kind(f) : 'none'
    this.committedEnd = Math.max(this.committedEnd, f)
    const wasCommitted = f < this.committedEnd

    const t1 = performance.now()
    // First reopen: every acknowledged op whole, the op in flight all or nothing.
    let store = await reopen(o.engine, this.storeDir, 'after the kill')
    let outcome: Outcome
    let heads: string[]
    try {
      outcome = await this.verifyStore(store, inFlight === 'open' || inFlight === 'none' || wasCommitted ? undefined : f, true)
      // The store still takes writes.
      await store.append({ stream: 'probe', type: 'probe', data: { probe: this.probes } })
      this.probes++
      heads = store.heads.map(String)
    } finally {
      await store.close()
    }
    if (outcome === 'committed') this.committedEnd = f + 1
    if (wasCommitted) outcome = 'retried'
    const t2 = performance.now()
    // Second reopen, without a kill: it opens (from the snapshot the clean close wrote) and holds the same.
    store = await reopen(o.engine, this.storeDir, 'after a clean close')
    try {
      await this.verifyStore(store, undefined, false)
      check(show(store.heads.map(String)) === show(heads), () => `the heads after a clean reopen are ${store.heads}, they were ${heads}`)
    } finally {
      await store.close()
    }
    count(o.stats, o.engine, inFlight, inFlight === 'open' || inFlight === 'none' ? 'absent' : outcome)
    o.log?.(
      `${o.engine} seed ${o.seed} kill ${k + 1}: ops ${this.start}…${f - 1} acked, ${inFlight} ${inFlight === 'open' || inFlight === 'none' ? '' : `op ${f} `}in flight: ${outcome} [writer ${(t1 - t0) | 0} ms (${run.waited | 0} loading), check ${(t2 - t1) | 0} ms, recheck ${(performance.now() - t2) | 0} ms; target ${target} delay ${delay}] ${run.lines.slice(-3).join(' | ')}`,
    )

    // Where the next writer starts: retry an idempotent op that committed unacknowledged; never an appendMany.
    const committedF = f < this.committedEnd
    this.start = committedF && plan.kind(f) === 'appendMany' ? f + 1 : f
    if (committedF && this.start === f) o.stats.retries.set(plan.kind(f), (o.stats.retries.get(plan.kind(f)) ?? 0) + 1)
    return run
  }

  /**
   * Checks the store against the plan: ops below `committedEnd` whole, `maybe` (the op in flight)
   * all or nothing, nothing else. With `full`, also reads every object back (`get`, `cat`) and
   * runs verify(), which re-hashes every block reachable from the heads. Says whether `maybe` was found committed.
   */
  async verifyStore(store: CairnStore, maybe: number | undefined, full: boolean): Promise<Outcome> {
    const { plan, o } = this
    const seen = await inspect(store)
    let outcome: Outcome = 'absent'
    let carMax = -1
    const expectedObjects = new Map<string, { type: string; size: number; value?: unknown; bytes?: () => Uint8Array }>()
    for (let n = 0; n < this.committedEnd || n === maybe; n++) {
      const op = plan.op(n)
      const optional = n === maybe
      switch (op.kind) {
        case 'appendMany':
        case 'append': {
          const got = (seen.byOp.get(n) ?? []).sort((a, b) => a.data.i - b.data.i)
          seen.byOp.delete(n)
          if (optional && got.length === 0) break
          check(got.length === op.events.length, () => `${optional ? 'half batch: ' : ''}op ${n} ${op.kind} has ${got.length} of its ${op.events.length} events${optional ? ' (in flight at the kill)' : ''}`)
          for (const [i, want] of op.events.entries()) {
            const e = got[i]!
            check(e.stream === want.stream && e.type === want.type && same(e.data, want.data), () => `op ${n} event ${i}: got ${show(e)}, expected ${show(want)}`)
            if (op.kind === 'append') check(e.meta?.id === `op-${n}`, () => `op ${n}: meta.id ${e.meta?.id}`)
          }
          if (optional) outcome = 'committed'
          break
        }
        case 'put':
        case 'putFile': {
          const cid = plan.objectCid(n)
          if (optional && !seen.objects.has(String(cid)) && !seen.records.has(String(cid))) break
          if (op.kind === 'put') expectedObjects.set(String(cid), { type: PUT_TYPE, size: encodeValue(op.value).bytes.length, value: op.value })
          else expectedObjects.set(String(cid), { type: FILE_TYPE, size: op.size, bytes: () => fileBytes(plan.seed, n) })
          if (optional) outcome = 'committed'
          break
        }
        case 'import': {
          if (!optional || op.car <= carMax) {
            if (optional) outcome = 'noop'
            carMax = Math.max(carMax, op.car)
            break
          }
          // In flight: the rounds it would add are all there or none is.
          const added = o.donor.slice(carMax + 1, op.car + 1)
          const present = added.filter((d) => seen.byRound.has(d.round))
          check(present.length === 0 || present.length === added.length, () => `half import: op ${n} (car ${op.car}) added rounds ${present.map((d) => d.round)} of ${added.map((d) => d.round)}`)
          if (present.length > 0) {
            outcome = 'committed'
            carMax = op.car
          }
          break
        }
      }
    }
    // Events of ops never acknowledged and not in flight.
    for (const [n, events] of seen.byOp) throw new CheckError(`${events.length} events of op ${n} (${plan.kind(n)}), which was neither acknowledged nor in flight`)
    // Imported rounds: exactly 0 … carMax, each whole.
    for (const d of o.donor) {
      const got = (seen.byRound.get(d.round) ?? []).sort((a, b) => (a.data as { i: number }).i - (b.data as { i: number }).i)
      if (d.round > carMax) {
        check(got.length === 0, () => `round ${d.round} of the donor is there though no import of it committed`)
        continue
      }
      check(got.length === d.events.length, () => `round ${d.round} of the donor has ${got.length} of its ${d.events.length} events`)
      for (const [i, want] of d.events.entries()) check(got[i]!.stream === want.stream && same(got[i]!.data, want.data), () => `donor round ${d.round} event ${i}: got ${show(got[i])}`)
      for (const obj of d.objects) {
        expectedObjects.set(String(obj.cid), { type: obj.type, size: obj.size, ...(obj.value === undefined ? {} : { value: obj.value }), ...(obj.bytes === undefined ? {} : { bytes: () => obj.bytes! }) })
      }
    }
    // Probes: one per earlier kill, in order.
    check(seen.probes.length === this.probes, () => `${seen.probes.length} probe events, expected ${this.probes}`)
    for (const [i, e] of seen.probes.entries()) check(same(e.data, { probe: i }), () => `probe ${i}: ${show(e.data)}`)
    // Objects: exactly the expected ones, each recorded once, with the right type, size and bytes.
    for (const [key, want] of expectedObjects) {
      const info = seen.objects.get(key)
      check(info !== undefined, () => `object ${key} (${want.type}) is missing from objects()`)
      check(info.type === want.type && info.size === want.size, () => `object ${key}: type ${info.type} size ${info.size}, expected ${want.type} ${want.size}`)
      check(seen.records.get(key) === 1, () => `object ${key} has ${seen.records.get(key) ?? 0} object.put records`)
      if (!full || this.read.has(key)) continue
      this.read.add(key)
      const cid = CID.parse(key)
      if (want.value !== undefined) check(same(await store.get(cid), want.value), () => `get(${key}) gave another value`)
      if (want.bytes !== undefined) check(equalBytes(await catBytes(store, cid), want.bytes()), () => `cat(${key}) gave other bytes`)
    }
    for (const key of seen.objects.keys()) check(expectedObjects.has(key), () => `objects() lists ${key} (${seen.objects.get(key)!.type}), which no acknowledged or in-flight op put`)
    check(seen.records.size === expectedObjects.size, () => `${seen.records.size} objects recorded in $objects, expected ${expectedObjects.size}`)
    // The views agree with the scans, and every block reachable from the heads is there and hashes right.
    const stats = await store.stats()
    check(stats.events === seen.events, () => `stats() counts ${stats.events} events, the scans found ${seen.events}`)
    if (!full) return outcome
    const report = await store.verify()
    check(report.dangling.length === 0, () => `verify() found dangling links: ${report.dangling.join(', ')}`)
    return outcome
  }
}
