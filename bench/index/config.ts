// Knobs of the index benchmark, from the environment (see bench/index.ts for the list).
import type { MeasureConfig } from './workload.ts'

/** An integer from the environment: `1000000`, `1_000_000`, `1e6` and `100k`/`1m` all work. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const s = raw.trim().toLowerCase().replaceAll('_', '').replaceAll(',', '')
  const mult = s.endsWith('k') ? 1e3 : s.endsWith('m') ? 1e6 : 1
  const n = Number(mult === 1 ? s : s.slice(0, -1)) * mult
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${raw}: expected a non-negative number`)
  return Math.round(n)
}

/** The measured figures' settings for a store of `events` events on `streams` streams. */
export function measureConfig(events: number, streams: number): MeasureConfig {
  return {
    events,
    streams,
    iterations: Math.max(200, envInt('CAIRN_BENCH_ITERATIONS', 1000)),
    scanIterations: Math.max(1, envInt('CAIRN_BENCH_SCAN_ITERATIONS', 200)),
    warmSet: Math.min(streams, envInt('CAIRN_BENCH_WARM_SET', 50)),
    firstTouch: envInt('CAIRN_BENCH_FIRST_TOUCH', 300),
    scanRuns: Math.max(1, envInt('CAIRN_BENCH_SCAN_RUNS', 3)),
    scanBudgetMs: envInt('CAIRN_BENCH_SCAN_BUDGET_MS', 20_000),
    seed: envInt('CAIRN_BENCH_SEED', 4),
  }
}

/** Which parts run: CAIRN_BENCH_INDEX=node, =browser, both (default), or none. */
export function parts(): { node: boolean; browser: boolean } {
  const v = (process.env['CAIRN_BENCH_INDEX'] ?? 'node,browser').toLowerCase()
  return { node: v.includes('node'), browser: v.includes('browser') || v.includes('chromium') }
}

/** How long one child process or browser step may take before it is killed and reported. */
export const stepTimeoutMs = (): number => envInt('CAIRN_BENCH_TIMEOUT_MS', 15 * 60_000)

/** A single open slower than this is not repeated (the median then has fewer rounds). */
export const slowOpenMs = (): number => envInt('CAIRN_BENCH_SLOW_OPEN_MS', 15_000)
