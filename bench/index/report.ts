// The printed table of the index benchmark: one line per figure, the indexed value beside the
// baseline measured in the same run (a full rebuild on open, a full scan of the log for reads),
// their ratio, and the issue's target where it gives one. A printout, never an assertion.
import type { Figures, Stat } from './workload.ts'

export interface Row {
  section: string
  what: string
  indexed: string
  baseline: string
  /** baseline ÷ indexed (time or memory): above 1, the indexed path wins. NaN: not comparable. */
  ratio: number
  baselineName: string
  /** e.g. "< 1 s", with ✓/✗ appended when checked; '' when the issue gives none. */
  target: string
}

export const ms = (x: number): string => {
  if (!Number.isFinite(x)) return 'n/a'
  if (x < 1) return `${(x * 1000).toFixed(x < 0.01 ? 1 : 0)} µs`
  if (x < 1000) return `${x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0)} ms`
  return `${(x / 1000).toFixed(2)} s`
}

export const mb = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1e6).toFixed(bytes < 10e6 ? 1 : 0)} MB` : 'n/a')

/** A target check: `value < limit`, or '' marks when it does not apply (e.g. a smaller store than the target's). */
export function target(label: string, value: number, limit: number, applies = true): string {
  if (!applies) return `${label} (not at this size)`
  return `${label} ${value < limit ? '✓' : '✗'}`
}

export class Report {
  readonly rows: Row[] = []

  add(section: string, what: string, indexed: string, baseline: string, ratio: number, baselineName: string, targetText = ''): void {
    const r: Row = { section, what, indexed, baseline, ratio, baselineName, target: targetText }
    this.rows.push(r)
    console.log(`${section} · ${what}: ${indexed} | ${baselineName}: ${baseline} | ratio ${fmtRatio(ratio)}${targetText === '' ? '' : ` | target ${targetText}`}`)
  }

  /** p50 and p99 lines of a latency figure beside a baseline distribution (same percentile). */
  latency(section: string, what: string, indexed: Stat, baseline: Stat, baselineName: string, p50Target?: { label: string; limitMs: number; applies?: boolean }): void {
    const t = p50Target === undefined ? '' : target(p50Target.label, indexed.p50, p50Target.limitMs, p50Target.applies ?? true)
    this.add(section, `${what}, p50 (n=${indexed.n})`, ms(indexed.p50), ms(baseline.p50), baseline.p50 / indexed.p50, `${baselineName}, p50 (n=${baseline.n})`, t)
    this.add(section, `${what}, p99`, ms(indexed.p99), ms(baseline.p99), baseline.p99 / indexed.p99, `${baselineName}, p99`)
  }

  /** p50 and p99 of a latency figure beside one slow baseline run (its median over a few runs). */
  latencyVsScan(section: string, what: string, indexed: Stat, scan: Stat, scanName: string, p50Target?: { label: string; limitMs: number; applies?: boolean }): void {
    const t = p50Target === undefined ? '' : target(p50Target.label, indexed.p50, p50Target.limitMs, p50Target.applies ?? true)
    const name = `${scanName}, median of ${scan.n}`
    this.add(section, `${what}, p50 (n=${indexed.n})`, ms(indexed.p50), ms(scan.p50), scan.p50 / indexed.p50, name, t)
    this.add(section, `${what}, p99`, ms(indexed.p99), ms(scan.p50), scan.p50 / indexed.p99, name)
  }

  /** The read, query and reduce rows both engines print, from one workload's figures. */
  workload(section: string, f: Figures): void {
    this.latencyVsScan(section, 'read one 100-event stream, warm', f.readWarm, f.scanRead, 'full scan query({}) keeping the stream', { label: '< 100 µs', limitMs: 0.1 })
    this.latencyVsScan(section, 'read one 100-event stream, first touch', f.readFirst, f.scanRead, 'full scan query({}) keeping the stream')
    this.latency(section, 'query({ type, limit: 100 }), first page', f.queryFirst, f.scanQueryFirst, 'query({}) from the start, keep type until 100')
    this.latency(section, 'query({ type, limit: 100, after: random })', f.queryAfter, f.scanQueryAfter, 'query({ after }), keep type until 100')
    this.add(
      section,
      `query({ type }), all ${f.counts.queryAll.toLocaleString('en')} events of a type (median of ${f.queryAll.n})`,
      ms(f.queryAll.p50),
      ms(f.scanQueryAll.p50),
      f.scanQueryAll.p50 / f.queryAll.p50,
      `full scan query({}) keeping the type (median of ${f.scanQueryAll.n})`,
    )
    this.latencyVsScan(section, 'reduce over one 100-event stream, warm', f.reduceWarm, f.scanReduce, 'fold over a full scan query({})', { label: '< 1 ms', limitMs: 1 })
    this.latencyVsScan(section, 'reduce over one 100-event stream, first touch', f.reduceFirst, f.scanReduce, 'fold over a full scan query({})')
  }

  print(title: string, notes: readonly string[]): void {
    console.log(`\n### ${title}\n`)
    console.log('| where | what | indexed | baseline | baseline ÷ indexed | baseline | target |')
    console.log('|---|---|---|---|---|---|---|')
    for (const r of this.rows) console.log(`| ${r.section} | ${r.what} | ${r.indexed} | ${r.baseline} | ${fmtRatio(r.ratio)} | ${r.baselineName} | ${r.target} |`)
    console.log('')
    for (const n of notes) console.log(`- ${n}`)
  }
}

export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return '—'
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`
}
