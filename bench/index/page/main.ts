// The Chromium page of the index benchmark (IndexedDB). Bundled by Vite with the browser build
// of the package (dist/index.js) and driven by bench/index/browser.ts: each step is a call
// to `globalThis.cairnBench`, so that the driver can collect garbage and read the heap between
// opening and measuring.
import { openStore, type CairnStore } from 'cairndb'
import { fill, measure, type Figures, type MeasureConfig, type WorkloadShape } from '../workload.ts'

export interface BenchApi {
  /** Fills a new database; resolves the wall time in ms. */
  build(name: string, shape: WorkloadShape, batch: number): Promise<number>
  /** Opens the database (optionally rebuildIndex); resolves openStore()'s time in ms. */
  open(name: string, rebuildIndex: boolean): Promise<number>
  measure(cfg: MeasureConfig): Promise<Figures>
  close(): Promise<void>
  /** `performance.memory.usedJSHeapSize` (precise with --enable-precise-memory-info), or NaN. */
  usedJsHeap(): number
  /** `performance.measureUserAgentSpecificMemory()` bytes (JS heap and ArrayBuffers of this page; needs isolation), or NaN. */
  uaMemory(): Promise<number>
  /** Whether the page is cross-origin isolated (then performance.now() is precise to ~5 µs, else 100 µs). */
  isolated(): boolean
}

let store: CairnStore | undefined

const api: BenchApi = {
  async build(name, shape, batch) {
    const t = performance.now()
    const s = await openStore({ name })
    let next = 0
    await fill(s, shape, batch, (done) => {
      if (done >= next) {
        console.log(`build: ${done} / ${shape.events} events, ${((performance.now() - t) / 1000).toFixed(1)} s`)
        next += shape.events / 10
      }
    })
    await s.close()
    return performance.now() - t
  },
  async open(name, rebuildIndex) {
    const t = performance.now()
    store = await openStore({ name, rebuildIndex })
    return performance.now() - t
  },
  async measure(cfg) {
    if (store === undefined) throw new Error('open first')
    return measure(store, cfg, { log: (msg) => console.log(msg) })
  },
  async close() {
    await store?.close()
    store = undefined
  },
  usedJsHeap() {
    const m = (performance as { memory?: { usedJSHeapSize: number } }).memory
    return m === undefined ? NaN : m.usedJSHeapSize
  },
  async uaMemory() {
    const p = performance as { measureUserAgentSpecificMemory?: () => Promise<{ bytes: number }> }
    if (p.measureUserAgentSpecificMemory === undefined || globalThis.crossOriginIsolated !== true) return NaN
    return (await p.measureUserAgentSpecificMemory()).bytes
  },
  isolated() {
    return globalThis.crossOriginIsolated === true
  },
}

;(globalThis as { cairnBench?: BenchApi }).cairnBench = api
