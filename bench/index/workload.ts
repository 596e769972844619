// The index/query workload of issue 4, shared by the Node child (files engine) and the
// Chromium page (IndexedDB): how the store is filled, and every timed figure with its
// full-scan baseline. Environment-neutral: no Node built-ins, no DOM; `cairn` types only.
import type { CairnStore, CID, StoredEvent } from 'cairndb'

/** Eight event types, spread so that every stream holds all of them and the log holds each densely. */
export const TYPES: readonly string[] = ['account.opened', 'deposit.made', 'withdrawal.made', 'fee.charged', 'interest.paid', 'transfer.sent', 'transfer.received', 'limit.changed']

export interface WorkloadShape {
  /** Events in the log. */
  events: number
  /** Streams; events go round-robin, so each holds events/streams and streams interleave in the log. */
  streams: number
}

export interface EventData {
  n: number
  amount: number
}

export const streamName = (s: number): string => `acct-${String(s).padStart(6, '0')}`

/** The i-th appended event: stream i mod S, version ⌊i/S⌋+1, a type that rotates per stream and per version. */
export function eventAt(i: number, shape: WorkloadShape): { stream: string; type: string; data: EventData } {
  const s = i % shape.streams
  const v = Math.floor(i / shape.streams)
  return { stream: streamName(s), type: TYPES[(s + v) % TYPES.length]!, data: { n: i, amount: (i * 7919) % 1000 } }
}

/** Appends the whole workload with appendMany batches; `progress` gets the count done. */
export async function fill(store: CairnStore, shape: WorkloadShape, batch: number, progress?: (done: number) => void): Promise<void> {
  for (let done = 0; done < shape.events; done += batch) {
    const k = Math.min(batch, shape.events - done)
    await store.appendMany(Array.from({ length: k }, (_, j) => eventAt(done + j, shape)))
    progress?.(done + k)
  }
}

/** Deterministic PRNG (mulberry32), so both runtimes and every run pick the same streams. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Distribution of one figure, in milliseconds. */
export interface Stat {
  n: number
  p50: number
  p99: number
  min: number
  max: number
  mean: number
}

export function stat(xs: readonly number[]): Stat {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return { n: 0, p50: NaN, p99: NaN, min: NaN, max: NaN, mean: NaN }
  const q = (p: number): number => {
    // Linear interpolation between closest ranks.
    const at = (s.length - 1) * p
    const lo = Math.floor(at)
    const hi = Math.ceil(at)
    return s[lo]! + (s[hi]! - s[lo]!) * (at - lo)
  }
  return { n: s.length, p50: q(0.5), p99: q(0.99), min: s[0]!, max: s.at(-1)!, mean: s.reduce((a, b) => a + b, 0) / s.length }
}

export interface MeasureConfig extends WorkloadShape {
  /** Timed iterations per warm figure (≥ 200 for a p99). */
  iterations: number
  /** Timed iterations of the scans that stop after 100 matches (their p50/p99). */
  scanIterations: number
  /** Streams in the warm working set: each read once untimed, then read `iterations` times in random order. */
  warmSet: number
  /** Distinct streams read for the first-touch figures (never read before in this process/page). */
  firstTouch: number
  /** Full scans: at most this many runs per scan baseline… */
  scanRuns: number
  /** …and no new run once this much time has gone into that baseline. */
  scanBudgetMs: number
  seed: number
}

export interface Figures {
  /** Read one whole stream (100 events), warm working set. */
  readWarm: Stat
  /** Read one whole stream the first time it is touched. */
  readFirst: Stat
  /** `query({ type, limit: 100 })`, first page of a random type. */
  queryFirst: Stat
  /** `query({ type, limit: 100, after })` with `after` a random event of that type. */
  queryAfter: Stat
  /** `query({ type })` over every event of a type (≈ events/8). */
  queryAll: Stat
  /** `reduce` over one whole stream (100 events), warm working set. */
  reduceWarm: Stat
  /** `reduce` over a stream the first time it is touched. */
  reduceFirst: Stat
  /** Baseline of read: `query({})` over the whole log, keeping one stream's events. */
  scanRead: Stat
  /** Baseline of queryFirst: `query({})` from the start, keeping the type until 100 are found. */
  scanQueryFirst: Stat
  /** Baseline of queryAfter: `query({ after })`, keeping the type until 100 are found. */
  scanQueryAfter: Stat
  /** Baseline of queryAll: `query({})` over the whole log, keeping one type. */
  scanQueryAll: Stat
  /** Baseline of reduce: a fold over `query({})` of the whole log, keeping one stream. */
  scanReduce: Stat
  /** Events per result, to show the figures measured what they claim. */
  counts: { read: number; queryFirst: number; queryAfter: number; queryAll: number; scanRead: number; scanQueryAll: number }
}

export interface MeasureHooks {
  /** Progress messages. */
  log?: (msg: string) => void
  /** Called once the indexed figures are done, before the first full scan (e.g. to sample memory). */
  beforeScans?: () => Promise<void> | void
}

/** Performance clock: `performance.now()` in both runtimes. */
const now = (): number => performance.now()

async function count(it: AsyncIterable<unknown>): Promise<number> {
  let n = 0
  for await (const _ of it) n++
  return n
}

const sum = (s: number, e: StoredEvent<EventData>): number => s + e.data.amount

/**
 * Every timed figure, indexed first (so the full scans cannot warm caches for them), then the
 * scan baselines. `log` reports progress.
 */
export async function measure(store: CairnStore, cfg: MeasureConfig, hooks: MeasureHooks = {}): Promise<Figures> {
  const log = hooks.log ?? ((): void => {})
  const rand = rng(cfg.seed)
  const pick = (n: number): number => Math.floor(rand() * n)
  const perStream = Math.floor(cfg.events / cfg.streams)
  /** Events of a stream: round-robin gives the first events mod streams one more. */
  const want = (s: string): number => perStream + (Number(s.slice('acct-'.length)) < cfg.events % cfg.streams ? 1 : 0)
  const check = (s: string, got: number): void => {
    if (got !== want(s)) throw new Error(`${s}: ${got} events, expected ${want(s)}`)
  }

  // Streams: the warm working set, and distinct never-read streams for first touch (and reduce's first touch).
  const order = Array.from({ length: cfg.streams }, (_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = pick(i + 1)
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  const warm = order.slice(0, Math.min(cfg.warmSet, order.length)).map(streamName)
  const rest = order.slice(warm.length)
  const firstRead = rest.slice(0, Math.min(cfg.firstTouch, Math.floor(rest.length / 2))).map(streamName)
  const firstReduce = rest.slice(firstRead.length, firstRead.length * 2).map(streamName)

  // 1. First touch (before anything else warms these streams).
  log('first-touch reads and reduces')
  const readFirst: number[] = []
  for (const s of firstRead) {
    const t = now()
    const n = await count(store.read(s))
    readFirst.push(now() - t)
    check(s, n)
  }
  const reduceFirst: number[] = []
  for (const s of firstReduce) {
    const t = now()
    await store.reduce<number, EventData>(s, sum, 0)
    reduceFirst.push(now() - t)
  }

  // 2. Warm: each working-set stream read once untimed, then random picks from the set.
  log(`warm reads and reduces (${warm.length} streams, ${cfg.iterations} iterations)`)
  for (const s of warm) check(s, await count(store.read(s)))
  const readWarm: number[] = []
  for (let i = 0; i < cfg.iterations; i++) {
    const s = warm[pick(warm.length)]!
    const t = now()
    await count(store.read(s))
    readWarm.push(now() - t)
  }
  const reduceWarm: number[] = []
  const expected = new Map<string, number>()
  for (let i = 0; i < cfg.iterations; i++) {
    const s = warm[pick(warm.length)]!
    const t = now()
    const total = await store.reduce<number, EventData>(s, sum, 0)
    reduceWarm.push(now() - t)
    const before = expected.get(s)
    if (before !== undefined && before !== total) throw new Error(`reduce ${s} gave ${total}, then ${before}`)
    expected.set(s, total)
  }

  // Cursors for `after`: random events of the warm streams (their type, their CID).
  const cursors: { type: string; cid: CID }[] = []
  for (const s of warm) for await (const e of store.read(s)) if (rand() < 0.25) cursors.push({ type: e.type, cid: e.cid })
  if (cursors.length === 0) throw new Error('no cursor events')

  // 3. query({ type, limit: 100 }): first pages, then pages after random cursors.
  log('queries')
  const queryFirst: number[] = []
  let firstGot = 0
  for (const t of TYPES) await count(store.query({ type: t, limit: 100 })) // untimed warm-up
  for (let i = 0; i < cfg.iterations; i++) {
    const type = TYPES[pick(TYPES.length)]!
    const t = now()
    firstGot += await count(store.query({ type, limit: 100 }))
    queryFirst.push(now() - t)
  }
  const queryAfter: number[] = []
  const afterCursors: { type: string; cid: CID }[] = []
  let afterGot = 0
  for (let i = 0; i < cfg.iterations; i++) {
    const c = cursors[pick(cursors.length)]!
    afterCursors.push(c)
    const t = now()
    afterGot += await count(store.query({ type: c.type, after: c.cid, limit: 100 }))
    queryAfter.push(now() - t)
  }

  // Budgeted repeated runs for the slow figures (whole-type queries and full scans).
  const runs = async (what: string, fn: (run: number) => Promise<number>): Promise<{ ms: number[]; got: number }> => {
    const ms: number[] = []
    let got = 0
    let spent = 0
    for (let r = 0; r < cfg.scanRuns && (r === 0 || spent < cfg.scanBudgetMs); r++) {
      const t = now()
      got = await fn(r)
      const d = now() - t
      ms.push(d)
      spent += d
      log(`${what}: run ${r + 1} ${d.toFixed(0)} ms`)
    }
    return { ms, got }
  }
  const typeOf = (r: number): string => TYPES[(r * 3 + 1) % TYPES.length]!
  const queryAll = await runs('query({ type }) over a whole type', (r) => count(store.query({ type: typeOf(r) })))

  // 4. Baselines: scans of the whole log through query({}).
  await hooks.beforeScans?.()
  const scanRead = await runs('scan for one stream', async (r) => {
    const s = warm[r % warm.length]!
    const out: StoredEvent[] = []
    for await (const e of store.query({})) if (e.stream === s) out.push(e)
    check(s, out.length)
    return out.length
  })
  const scanReduce = await runs('fold over a scan', async (r) => {
    const s = warm[r % warm.length]!
    let total = 0
    for await (const e of store.query<EventData>({})) if (e.stream === s) total = sum(total, e)
    if (total !== expected.get(s)) throw new Error(`fold over a scan of ${s} gave ${total}, reduce ${expected.get(s)}`)
    return 1
  })
  const scanQueryAll = await runs('scan for one type', async (r) => {
    const type = typeOf(r)
    let n = 0
    for await (const e of store.query({})) if (e.type === type) n++
    return n
  })
  // Scans that stop at 100 matches: p50/p99 over scanIterations, the first cursors of the indexed figure.
  log('scans until 100 of a type')
  const scanQueryFirst: number[] = []
  for (let i = 0; i < cfg.scanIterations; i++) {
    const type = TYPES[pick(TYPES.length)]!
    const t = now()
    let n = 0
    for await (const e of store.query({})) if (e.type === type && ++n === 100) break
    scanQueryFirst.push(now() - t)
  }
  const scanQueryAfter: number[] = []
  for (const c of afterCursors.slice(0, cfg.scanIterations)) {
    const t = now()
    let n = 0
    for await (const e of store.query({ after: c.cid })) if (e.type === c.type && ++n === 100) break
    scanQueryAfter.push(now() - t)
  }

  return {
    readWarm: stat(readWarm),
    readFirst: stat(readFirst),
    queryFirst: stat(queryFirst),
    queryAfter: stat(queryAfter),
    queryAll: stat(queryAll.ms),
    reduceWarm: stat(reduceWarm),
    reduceFirst: stat(reduceFirst),
    scanRead: stat(scanRead.ms),
    scanQueryFirst: stat(scanQueryFirst),
    scanQueryAfter: stat(scanQueryAfter),
    scanQueryAll: stat(scanQueryAll.ms),
    scanReduce: stat(scanReduce.ms),
    counts: {
      read: perStream,
      queryFirst: firstGot / Math.max(1, cfg.iterations),
      queryAfter: afterGot / Math.max(1, cfg.iterations),
      queryAll: queryAll.got,
      scanRead: scanRead.got,
      scanQueryAll: scanQueryAll.got,
    },
  }
}
