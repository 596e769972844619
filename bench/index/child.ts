// One fresh Node process of the index benchmark (files engine). bench/index/node.ts compiles
// this file with tsc to plain JS and runs it with `node --expose-gc`, without tsx's loader, so
// that resident memory is Node + Cairn + the opened store and nothing else. Cairn is loaded
// from the URL in CAIRN_BENCH_MODULE (the built package, dist/index.node.js).
//
//   child.js build <dir> <shape.json>              fills a store and closes it
//   child.js open <dir> <open.json>                opens (optionally rebuildIndex), reports time
//                                                  and memory, optionally measures, closes
// The result is one stdout line `@@result <json>`; progress goes to stderr.
import type { OpenStore } from 'cairndb'
import { fill, measure, type Figures, type MeasureConfig, type WorkloadShape } from './workload.ts'

export interface BuildResult {
  ms: number
  events: number
}

export interface Memory {
  rss: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export interface OpenResult {
  /** openStore() until resolved, ms. */
  openMs: number
  /** Process memory with Cairn imported, before openStore (after gc). */
  before: Memory
  /** Process memory once the store is open (after gc). */
  after: Memory
  /** Process memory after the indexed figures, before the full scans (after gc); with `measure` only. */
  afterReads?: Memory
  figures?: Figures
  gcExposed: boolean
}

export interface OpenRequest {
  rebuildIndex: boolean
  /** Measure the figures after opening (MeasureConfig), or just open and close. */
  measure?: MeasureConfig
}

const gc = (globalThis as { gc?: () => void }).gc

function memory(): Memory {
  // Two passes: the second collects what the first's finalizers released.
  gc?.()
  gc?.()
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers }
}

const log = (msg: string): void => {
  process.stderr.write(`  [${process.argv[2]} pid ${process.pid}] ${msg}\n`)
}

async function main(): Promise<unknown> {
  const [mode, dir, json] = process.argv.slice(2)
  const url = process.env['CAIRN_BENCH_MODULE']
  if (url === undefined || dir === undefined || json === undefined) throw new Error('usage: child.js build|open <dir> <json> with CAIRN_BENCH_MODULE set')
  const { openStore } = (await import(url)) as { openStore: OpenStore }

  if (mode === 'build') {
    const shape = JSON.parse(json) as WorkloadShape & { batch: number }
    const t = performance.now()
    const store = await openStore({ path: dir })
    let next = 0
    await fill(store, shape, shape.batch, (done) => {
      if (done >= next) {
        log(`${done.toLocaleString('en')} / ${shape.events.toLocaleString('en')} events, ${((performance.now() - t) / 1000).toFixed(1)} s`)
        next += shape.events / 10
      }
    })
    await store.close()
    return { ms: performance.now() - t, events: shape.events } satisfies BuildResult
  }

  if (mode === 'open') {
    const req = JSON.parse(json) as OpenRequest
    const before = memory()
    const t = performance.now()
    const store = await openStore({ path: dir, rebuildIndex: req.rebuildIndex })
    const openMs = performance.now() - t
    const after = memory()
    log(`opened${req.rebuildIndex ? ' (rebuildIndex)' : ''} in ${openMs.toFixed(0)} ms, rss ${(after.rss / 1e6).toFixed(0)} MB`)
    const out: OpenResult = { openMs, before, after, gcExposed: gc !== undefined }
    if (req.measure !== undefined) {
      out.figures = await measure(store, req.measure, {
        log,
        beforeScans: () => {
          out.afterReads = memory()
        },
      })
    }
    await store.close()
    return out
  }
  throw new Error(`unknown mode ${mode}`)
}

main().then(
  (result) => {
    process.stdout.write(`@@result ${JSON.stringify(result)}\n`)
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exitCode = 1
  },
)
