// Runs variants against a store and checks the outcome against the oracle:
//   - refused: the error is a CairnError with a CAIRN_ code the oracle allows, and the store
//     (heads, stats, objects, the engine's heads and the set of blocks it lists) is unchanged;
//   - accepted: the oracle says the CAR is valid, and heads, stats, objects, stored blocks and
//     the local records of foreign roots are what it predicts, verify() passes, and importing
//     the same CAR again changes nothing.
// Runtime-neutral: engines are passed in (the files engine only by the Node runner).
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import type { StorageEngine } from '../../src/storage/interface.ts'
import { CairnStore } from '../../src/store/store.ts'
import { collect } from '../support/stores.ts'
import { NOW, type CorpusInfo } from './corpora.ts'
import { KNOWN_FINDINGS, type Failure } from './findings.ts'
import { makeVariant, sourceOf, type Variant } from './mutators.ts'
import { allows, compareBytes, compareStamps, DEFAULT_LIMITS, judge, type Accepted, type Limits, type Model } from './oracle.ts'
import { deriveSeed, Rng } from './prng.ts'

/** A storage engine the fuzzer can make fresh instances of. */
export interface EngineTarget {
  readonly name: string
  open(): Promise<{ storage: StorageEngine; dispose(): Promise<void> }>
}

/** What the run saw, over every engine and seed. */
export interface Tally {
  variants: number
  accepted: number
  /** Accepted variants that changed nothing (everything already held, or nothing reachable). */
  noops: number
  refused: Record<string, number>
  /** Variants by first mutator: [run, accepted]. */
  mutators: Record<string, [number, number]>
  /** Known findings seen: id → how many and the first variant's repro line. */
  known: Record<string, { count: number; first: string }>
  /** Failures that are not known findings (each with its repro line). */
  failures: string[]
  seeds: number[]
  engines: string[]
}

export function newTally(): Tally {
  return { variants: 0, accepted: 0, noops: 0, refused: {}, mutators: {}, known: {}, failures: [], seeds: [], engines: [] }
}

interface State {
  heads: string[]
  stats: unknown
  objects: string[]
  storageHeads: string[]
  blocks: string[]
}

async function stateOf(store: CairnStore, storage: StorageEngine): Promise<State> {
  const blocks: string[] = []
  for await (const b of storage.blocks()) blocks.push(b.cid.toString())
  return {
    heads: store.heads.map(String),
    stats: await store.stats(),
    objects: (await collect(store.objects())).map((o) => `${o.cid}|${o.type}|${o.size}|${o.event}`),
    storageHeads: (await storage.heads()).map(String),
    blocks: blocks.sort(),
  }
}

const same = (a: State, b: State): boolean => JSON.stringify(a) === JSON.stringify(b)

function diff(a: State, b: State): string {
  const out: string[] = []
  const cut = (s: string): string => (s.length > 300 ? `${s.slice(0, 300)}…` : s)
  for (const k of Object.keys(a) as (keyof State)[]) {
    const x = JSON.stringify(a[k])
    const y = JSON.stringify(b[k])
    if (x !== y) out.push(`${k}: ${cut(x)} -> ${cut(y)}`)
  }
  return out.join('; ')
}

/** A store in a corpus's starting state. */
interface Live {
  store: CairnStore
  storage: StorageEngine
  dispose(): Promise<void>
  state: State
}

async function openLive(engine: EngineTarget, info: CorpusInfo): Promise<Live> {
  const { storage, dispose } = await engine.open()
  const store = await CairnStore.open(storage, { clock: () => NOW })
  for (const car of info.corpus.prep) await store.import(car)
  const state = await stateOf(store, storage)
  // The oracle's model of this state must be the store's: else every verdict below is moot.
  const m = info.model
  const heads = m.heads.map(String)
  const name = info.corpus.name
  if (JSON.stringify(state.heads) !== JSON.stringify(heads)) throw new Error(`corpus ${name}: the model's heads ${heads} are not the store's ${state.heads}`)
  const events = (state.stats as { events: number }).events
  if (events !== m.events.size) throw new Error(`corpus ${name}: the model holds ${m.events.size} events, the store ${events}`)
  const held = new Set(state.blocks)
  if (held.size !== m.blocks.size || [...m.blocks.keys()].some((k) => !held.has(k))) throw new Error(`corpus ${name}: the model's blocks are not the store's`)
  return {
    store,
    storage,
    dispose: async () => {
      await store.close()
      await dispose()
    },
    state,
  }
}

function latestObjectsEvent(model: Model, verdict: Accepted): CID | null {
  let best: { cid: CID; ts: number; tc: number } | undefined
  const consider = (e: { cid: CID; ts: number; tc: number; stream: string }): void => {
    if (e.stream !== '$objects') return
    if (best === undefined || compareStamps(e, best) > 0 || (compareStamps(e, best) === 0 && compareBytes(e.cid.bytes, best.cid.bytes) > 0)) best = e
  }
  for (const e of model.events.values()) consider(e)
  for (const { cid, ev } of verdict.fresh.values()) consider({ cid, ts: ev.ts, tc: ev.tc, stream: ev.stream })
  return best?.cid ?? null
}

/** Checks an accepted import against the oracle's prediction. Returns what differs. */
async function checkAccepted(live: Live, model: Model, verdict: Accepted, report: { events: number; blocks: number; foreign: CID[] }, variant: Variant, limits: Limits): Promise<Failure[]> {
  const failures: Failure[] = []
  const fail = (message: string, rule: string): void => {
    failures.push({ kind: 'inconsistent', message, rules: [rule] })
  }
  const after = await stateOf(live.store, live.storage)
  const stats = after.stats as { events: number }
  const foreign = verdict.foreign.map(String)
  const listed = report.foreign.map(String)
  if (new Set(listed).size !== listed.length) {
    // A root listed more than once was recorded once per listing: what else differs (counts, records, sizes) only restates that.
    fail(`foreign roots listed more than once in the header were recorded once per listing: ${listed.length} records for ${foreign.length} roots`, 'foreign-duplicates')
    return failures
  }
  if (stats.events !== model.events.size + verdict.fresh.size + foreign.length) fail(`events: ${stats.events}, expected ${model.events.size} + ${verdict.fresh.size} new + ${foreign.length} records`, 'events')
  if (report.events !== verdict.fresh.size) fail(`the report says ${report.events} new events, expected ${verdict.fresh.size}`, 'report.events')
  const reportForeign = report.foreign.map(String)
  if (JSON.stringify(reportForeign) !== JSON.stringify(foreign)) fail(`foreign roots ${reportForeign.join(',')}, expected ${foreign.join(',')}`, 'foreign-roots')

  const before = new Set(live.state.blocks)
  const now = new Set(after.blocks)
  for (const k of verdict.stored.keys()) if (!now.has(k)) fail(`block ${k} should have been stored`, 'blocks.missing')
  const extra = after.blocks.filter((k) => !before.has(k) && !verdict.stored.has(k))
  // Blocks beyond the prediction must be the local records of the foreign roots.
  const records = new Map<string, Record<string, unknown>>()
  for (const k of extra) {
    const bytes = await live.storage.get(CID.parse(k))
    let value: Record<string, unknown> | undefined
    try {
      value = dagCbor.decode(bytes!) as Record<string, unknown>
    } catch {
      value = undefined
    }
    const data = value?.['data'] as { cid?: unknown; type?: unknown } | undefined
    if (value?.['stream'] !== '$objects' || value['type'] !== 'object.put' || data?.type !== limits.foreignType || !foreign.includes(String(data.cid))) {
      fail(`block ${k} was stored, but nothing new reaches it`, 'blocks.extra')
    } else records.set(k, value)
  }
  if (records.size !== foreign.length) fail(`${records.size} local records of foreign roots, expected ${foreign.length} (${foreign.join(',')})`, 'foreign-records')

  const expectedHeads = verdict.heads.map(String)
  if (foreign.length === 0) {
    if (JSON.stringify(after.heads) !== JSON.stringify(expectedHeads)) fail(`heads ${after.heads}, expected ${expectedHeads}`, 'heads')
  } else if (after.heads.length !== 1 || !records.has(after.heads[0]!)) {
    fail(`heads ${after.heads}: expected the last local record of a foreign root`, 'heads')
  } else {
    // The records chain from the import's heads: the first names them, each next names the one before.
    const chain: [string, Record<string, unknown>][] = []
    for (let k: string | undefined = after.heads[0]; k !== undefined && records.has(k); ) {
      const r = records.get(k)!
      chain.unshift([k, r])
      const ps = (r['parents'] as CID[]).map(String)
      k = ps.length === 1 && records.has(ps[0]!) ? ps[0] : undefined
    }
    const first = chain[0]
    if (first !== undefined) {
      const ps = (first[1]['parents'] as CID[]).map(String)
      if (JSON.stringify(ps) !== JSON.stringify(expectedHeads)) fail(`the first foreign record names parents ${ps}, expected the import's heads ${expectedHeads}`, 'record.parents')
      const prev = first[1]['prev'] === null ? null : String(first[1]['prev'])
      const want = latestObjectsEvent(model, verdict)
      if (prev !== (want === null ? null : String(want))) fail(`the first foreign record's prev is ${prev}; the last $objects event in canonical order is ${want}`, 'record.prev')
    }
    for (const [k, r] of chain) {
      const d = r['data'] as { cid: CID; size: number }
      const size = verdict.foreignSizes.get(String(d.cid))
      if (size !== d.size) fail(`record ${k} gives foreign root ${d.cid} size ${d.size}; the CAR carried ${size} bytes of its DAG`, 'record.size')
    }
    if (chain.length !== records.size) fail(`the foreign records do not form one chain above the import's heads`, 'record.chain')
  }

  const expectedObjects = new Set([...model.objects, ...verdict.objects, ...foreign.map((c) => `${c}|${limits.foreignType}`)])
  const objects = new Set(after.objects.map((o) => o.split('|').slice(0, 2).join('|')))
  const missing = [...expectedObjects].filter((o) => !objects.has(o))
  const surplus = [...objects].filter((o) => !expectedObjects.has(o))
  if (missing.length > 0 || surplus.length > 0) fail(`objects: missing ${missing.join(',')}; unexpected ${surplus.join(',')}`, 'objects')

  try {
    await live.store.verify()
  } catch (err) {
    fail(`verify() failed after the import: ${String(err)}`, 'verify')
  }
  try {
    const again = await live.store.import(variant.bytes, variant.options)
    const state = await stateOf(live.store, live.storage)
    if (again.events !== 0 || again.blocks !== 0 || !same(state, after)) fail(`importing the same CAR again changed the store: ${again.events} events, ${again.blocks} blocks; ${diff(after, state)}`, 'idempotent')
  } catch (err) {
    fail(`importing the same CAR again failed: ${String(err)}`, 'idempotent')
  }
  return failures
}

export interface RunOptions {
  seed: number
  /** Variants start … count-1, or only the one given. */
  count: number
  only?: number | undefined
  /** The first variant (default 0). */
  start?: number
  infos: readonly CorpusInfo[]
  engine: EngineTarget
  /** The command that re-runs one variant (shown with every failure). */
  repro: (seed: number, index: number) => string
  /** Gets every failure line, with the variant's bytes. */
  log?: (line: string) => void
  /** Called before each variant runs (progress, or finding a variant that hangs). */
  trace?: (index: number, where: string) => void
}

/** An import slower than this is a failure (a generous bound: the machine may be loaded). */
const SLOW_MS = 30_000
const SLOW_TINY_CHUNKS_MS = 2_000

const CORPUS_WEIGHTS: Record<string, number> = { log: 3, file: 1, merge: 2, 'merge-incremental': 2, incremental: 2, foreign: 2, held: 2, partial: 1 }

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

/** Makes variant `index` of `seed`: its own generator picks the corpus, then the mutations. */
export async function variantOf(seed: number, index: number, infos: readonly CorpusInfo[]): Promise<{ info: CorpusInfo; variant: Variant }> {
  const rng = new Rng(deriveSeed(seed, index))
  const info = rng.weighted(infos.map((i) => [CORPUS_WEIGHTS[i.corpus.name] ?? 1, i] as const))
  return { info, variant: await makeVariant(rng, info) }
}

/** Runs the variants of one seed on one engine, adding to the tally. Never throws for a failing variant: see `tally.failures`. */
export async function runSeed(o: RunOptions, tally: Tally): Promise<void> {
  if (!tally.seeds.includes(o.seed)) tally.seeds.push(o.seed)
  const first = o.only ?? o.start ?? 0
  const end = o.only === undefined ? o.count : o.only + 1
  const runner = new Runner(o.engine, tally, o.log)
  try {
    for (let index = first; index < end; index++) {
      const { info, variant } = await variantOf(o.seed, index, o.infos)
      const where = `seed ${o.seed} variant ${index} (engine ${o.engine.name}, corpus ${info.corpus.name}, ${variant.mutators.join('+')}: ${variant.note})`
      o.trace?.(index, where)
      await runner.run(info, variant, where, o.repro(o.seed, index))
    }
  } finally {
    await runner.close()
  }
}

/** Runs variants one by one, keeping a store per corpus in its starting state while imports are refused. */
export class Runner {
  readonly #live = new Map<string, Live>()

  constructor(
    readonly engine: EngineTarget,
    readonly tally: Tally,
    readonly log?: (line: string) => void,
  ) {
    if (!tally.engines.includes(engine.name)) tally.engines.push(engine.name)
  }

  /** Runs one variant against a store in `info`'s starting state; failures go to the tally (`where` and `repro` name it). */
  async run(info: CorpusInfo, variant: Variant, where: string, repro: string): Promise<void> {
    const tally = this.tally
    let failures: Failure[]
    const name = info.corpus.name
    try {
      let l = this.#live.get(name)
      if (l === undefined) {
        l = await openLive(this.engine, info)
        this.#live.set(name, l)
      }
      const { failures: found, dirty, accepted, code } = await runVariant(l, info, variant)
      failures = found
      tally.variants++
      const mutator = variant.mutators[0] ?? '(none)'
      tally.mutators[mutator] ??= [0, 0]
      const m = tally.mutators[mutator]
      m[0]++
      if (accepted) {
        tally.accepted++
        m[1]++
      }
      if (accepted && !dirty) tally.noops++
      if (code !== undefined) tally.refused[code] = (tally.refused[code] ?? 0) + 1
      if (dirty) {
        this.#live.delete(name)
        await l.dispose()
      }
    } catch (err) {
      failures = [{ kind: 'harness', message: `the harness failed: ${(err as Error).stack ?? String(err)}`, rules: [] }]
      const l = this.#live.get(name)
      this.#live.delete(name)
      await l?.dispose().catch(() => {})
    }
    for (const f of failures) {
      const known = KNOWN_FINDINGS.find((k) => k.matches(f, variant))
      const line = `${where}: ${f.kind}: ${f.message}\n    re-run: ${repro}`
      const detail = `${Object.keys(variant.options).length > 0 ? `\n    options: ${JSON.stringify(variant.options)}` : ''}${variant.chunks === undefined ? '' : `\n    read in chunks of ${variant.chunks.join(', ')}`}\n    bytes (${variant.bytes.length}): ${variant.bytes.length <= 8192 ? hex(variant.bytes) : `${hex(variant.bytes.subarray(0, 512))}…`}`
      if (known !== undefined) {
        tally.known[known.id] ??= { count: 0, first: line }
        const k = tally.known[known.id]!
        k.count++
        this.log?.(`known finding ${known.id}: ${line}${detail}`)
      } else {
        tally.failures.push(line)
        this.log?.(`FAILURE ${line}${detail}`)
      }
    }
  }

  async close(): Promise<void> {
    for (const l of this.#live.values()) await l.dispose().catch(() => {})
    this.#live.clear()
  }
}

/** The corpus's CAR cut at every boundary between sections (and one byte either side): prefix varints, header, each frame's prefix, CID and block. */
export function truncations(info: CorpusInfo): Variant[] {
  const car = info.corpus.car
  const cuts = new Set<number>()
  for (const b of info.layout.boundaries) for (const d of [-1, 0, 1]) if (b + d >= 0 && b + d < car.length) cuts.add(b + d)
  return [...cuts].sort((a, b) => a - b).map((cut) => ({ bytes: car.subarray(0, cut), options: {}, mutators: ['truncation-sweep'], note: `cut at ${cut} of ${car.length}` }))
}

async function runVariant(live: Live, info: CorpusInfo, variant: Variant): Promise<{ failures: Failure[]; dirty: boolean; accepted: boolean; code?: string }> {
  const limits: Limits = { ...DEFAULT_LIMITS, ...variant.options, now: NOW }
  const verdict = await judge(info.model, variant.bytes, limits)
  let report: Awaited<ReturnType<CairnStore['import']>> | undefined
  let error: unknown
  const started = Date.now()
  try {
    report = await live.store.import(sourceOf(variant), variant.options)
  } catch (err) {
    error = err
  }
  const ms = Date.now() - started
  const failures: Failure[] = []
  const rules = verdict.ok ? [] : verdict.problems.map((p) => p.rule)
  const tiny = variant.chunks !== undefined && Math.min(...variant.chunks) <= 8 && variant.bytes.length > 50_000
  if (ms > (tiny ? SLOW_TINY_CHUNKS_MS : SLOW_MS)) {
    failures.push({ kind: 'slow', message: `the import took ${ms} ms for ${variant.bytes.length} bytes${variant.chunks === undefined ? '' : ` read in chunks of ${variant.chunks.join(', ')}`}`, rules: [tiny ? 'slow.tiny-chunks' : 'slow'] })
  }
  if (report === undefined) {
    const after = await stateOf(live.store, live.storage)
    if (!same(live.state, after)) failures.push({ kind: 'store-changed', message: `a refused import changed the store: ${diff(live.state, after)}`, rules })
    if (!isCairnError(error) || !/^CAIRN_[A-Z_]+$/.test(error.code)) {
      const e = error as Error | undefined
      failures.push({ kind: 'plain-error', message: `the import threw ${e?.name}: ${e?.message ?? String(error)}`, rules })
      return { failures, dirty: true, accepted: false, code: `(not a CairnError: ${e?.name})` }
    }
    if (verdict.ok) failures.push({ kind: 'refused-valid', message: `refused with ${error.code} (${error.message}), but the CAR is valid`, rules, code: error.code })
    else if (!allows(verdict, error.code)) {
      const found = verdict.problems.map((p) => `${p.codes.join('|')} [${p.rule}: ${p.why}]`).join('; ')
      failures.push({ kind: 'wrong-code', message: `refused with ${error.code} (${error.message}); the problems found allow ${found}`, rules, code: error.code })
    }
    return { failures, dirty: failures.some((f) => f.kind === 'store-changed'), accepted: false, code: error.code }
  }
  if (!verdict.ok) {
    failures.push({ kind: 'accepted-invalid', message: `accepted (${report.events} events, ${report.blocks} blocks), but: ${verdict.problems.map((p) => `${p.rule}: ${p.why}`).join('; ')}`, rules })
    return { failures, dirty: true, accepted: true }
  }
  failures.push(...(await checkAccepted(live, info.model, verdict, report, variant, limits)))
  const dirty = report.events > 0 || report.blocks > 0 || failures.length > 0
  return { failures, dirty, accepted: true }
}

/** The tally as lines: counts, codes, known findings, seeds. */
export function summary(t: Tally, ms: number): string {
  const refused = Object.values(t.refused).reduce((a, b) => a + b, 0)
  const lines = [
    `fuzz: ${t.variants} variants on ${t.engines.join(', ')}${t.seeds.length > 0 ? ` with seeds ${t.seeds.join(', ')}` : ''} in ${(ms / 1000).toFixed(1)} s`,
    `  accepted ${t.accepted} (${t.noops} changed nothing), refused ${refused}:`,
    ...Object.entries(t.refused)
      .sort((a, b) => b[1] - a[1])
      .map(([code, n]) => `    ${code}: ${n}`),
    `  by mutator (run / accepted): ${Object.entries(t.mutators)
      .map(([m, [n, a]]) => `${m} ${n}/${a}`)
      .join(', ')}`,
  ]
  const known = Object.entries(t.known)
  if (known.length > 0) {
    lines.push(`  known findings (reported, not failing):`)
    for (const [id, k] of known) {
      const f = KNOWN_FINDINGS.find((x) => x.id === id)!
      lines.push(`    ${id} (${k.count}×): ${f.title}\n      first: ${k.first.replace(/\n/g, '\n      ')}`)
    }
  }
  lines.push(`  failures: ${t.failures.length}`)
  return lines.join('\n')
}
