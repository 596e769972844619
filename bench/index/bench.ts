// The index/query benchmark of issue 4: open time, memory after open, and p50/p99 of stream
// reads, type queries and reduces, each beside a full rebuild or full scan measured in the
// same run. Node (files engine) and Chromium (IndexedDB). Called by bench/run.ts and by
// bench/index.ts (alone).
import { parts } from './config.ts'
import { Report } from './report.ts'

export async function runIndexBench(): Promise<void> {
  const which = parts()
  const report = new Report()
  const notes: string[] = []
  const failures: string[] = []
  console.log('\n## Index and query benchmark (issue 4)\n')
  if (which.node) {
    const { runNodeIndexBench } = await import('./node.ts')
    try {
      notes.push(...(await runNodeIndexBench(report)))
    } catch (err) {
      failures.push(`files part failed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  if (which.browser) {
    const { runBrowserIndexBench } = await import('./browser.ts')
    try {
      notes.push(...(await runBrowserIndexBench(report)))
    } catch (err) {
      failures.push(`Chromium part failed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  notes.push(
    "baseline ÷ indexed: above 1 the indexed path is that many times faster (or smaller); latency rows compare the same percentile, or a slow scan's median over a few runs",
    'warm = a working set of streams, each read once untimed, then picked at random for every timed iteration; first touch = streams never read before in that process/page',
    'targets (issue 4) are checked against p50 and printed, never asserted; the machine is shared and noisy, so read the ratios',
  )
  report.print('Index and query (issue 4)', [...notes, ...failures])
  console.log(`\n${new Date().toISOString().slice(0, 10)}, Node ${process.versions.node}`)
  if (failures.length > 0) process.exitCode = 1
}
