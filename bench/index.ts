// The index/query benchmark of issue 4 alone: `npx tsx bench/index.ts` (after `npm run build`).
// `npm run bench` runs it after the other sections.
//
// Environment (all optional):
//   CAIRN_BENCH_INDEX=node|browser|none  run one part only, or none (default both)
//   CAIRN_BENCH_EVENTS=1000000         events of the files store (streams: events/100)
//   CAIRN_BENCH_STREAMS                override the files store's stream count
//   CAIRN_BENCH_BROWSER_EVENTS=100000  events of the IndexedDB store (streams: events/100)
//   CAIRN_BENCH_ITERATIONS=1000        timed iterations per p50/p99 figure (at least 200)
//   CAIRN_BENCH_FIRST_TOUCH=300        distinct never-read streams for the first-touch figures
//   CAIRN_BENCH_WARM_SET=50            streams in the warm working set
//   CAIRN_BENCH_SCAN_RUNS=3            full-scan baseline runs (fewer once CAIRN_BENCH_SCAN_BUDGET_MS=20000 is spent)
//   CAIRN_BENCH_SCAN_ITERATIONS=200    timed iterations of the baselines that scan until 100 of a type
//   CAIRN_BENCH_OPEN_ROUNDS=3          fresh processes/pages per kind of open (fewer when one takes > CAIRN_BENCH_SLOW_OPEN_MS=15000)
//   CAIRN_BENCH_BATCH=10000            appendMany batch size while building
//   CAIRN_BENCH_DIR=/some/dir          build the files store there once and reuse it on later runs (kept)
//   CAIRN_BENCH_TIMEOUT_MS=900000      per child process / browser step
//   CAIRN_BENCH_HEAP_MB=8192           --max-old-space-size of the Node children
import { runIndexBench } from './index/bench.ts'

await runIndexBench()
