// Chromium part of the index benchmark (IndexedDB): bundles bench/index/page with Vite (the
// package's browser build, dist/index.js), serves it cross-origin isolated (precise
// performance.now()), builds the store in one page, then opens it in fresh pages — indexed and
// with `rebuildIndex: true` — reading the JS heap through the DevTools protocol after a forced
// GC, and measures the read figures in the first indexed page.
import { access, mkdtemp, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright'
import { chromiumLaunch } from '../../chromium.ts'
import { bundlePage, repoRoot, servePage } from '../page-server.ts'
import { envInt, measureConfig, slowOpenMs, stepTimeoutMs } from './config.ts'
import type { BenchApi } from './page/main.ts'
import { mb, ms, type Report } from './report.ts'
import { stat, type Figures, type MeasureConfig, type WorkloadShape } from './workload.ts'

function withTimeout<T>(what: string, p: Promise<T>): Promise<T> {
  const timeout = stepTimeoutMs()
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeout / 1000} s (CAIRN_BENCH_TIMEOUT_MS)`)), timeout)
    }),
  ])
}

type Bench = { cairnBench: BenchApi }

interface Loaded {
  page: Page
  cdp: CDPSession
}

async function load(context: BrowserContext, url: string): Promise<Loaded> {
  const page = await context.newPage()
  page.on('console', (m) => {
    process.stderr.write(`  [chromium] ${m.text()}\n`)
  })
  page.on('pageerror', (err) => {
    process.stderr.write(`  [chromium error] ${err.message}\n`)
  })
  await page.goto(url)
  await page.waitForFunction(() => 'cairnBench' in globalThis)
  return { page, cdp: await context.newCDPSession(page) }
}

/** JS memory after a forced full GC, from the DevTools protocol: V8 heap and ArrayBuffer backing stores. */
interface Heap {
  used: number
  backing: number
}

async function heapUsed(cdp: CDPSession): Promise<Heap> {
  await cdp.send('HeapProfiler.collectGarbage')
  await cdp.send('HeapProfiler.collectGarbage')
  const u = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number }
  return { used: u.usedSize, backing: u.backingStorageSize ?? NaN }
}

const total = (h: Heap): number => h.used + (Number.isFinite(h.backing) ? h.backing : 0)

interface PageOpen {
  openMs: number
  heapBefore: Heap
  heapAfter: Heap
  perfMemory: number
  uaMemory: number
  figures?: Figures
  isolated: boolean
}

async function openIn(context: BrowserContext, url: string, name: string, rebuildIndex: boolean, cfg: MeasureConfig | undefined): Promise<PageOpen> {
  const { page, cdp } = await load(context, url)
  try {
    const heapBefore = await heapUsed(cdp)
    const openMs = await withTimeout(
      'open',
      page.evaluate(([n, r]) => (globalThis as unknown as Bench).cairnBench.open(n, r), [name, rebuildIndex] as const),
    )
    const heapAfter = await heapUsed(cdp)
    const perfMemory = await page.evaluate(() => (globalThis as unknown as Bench).cairnBench.usedJsHeap())
    const uaMemory = await page.evaluate(() => (globalThis as unknown as Bench).cairnBench.uaMemory())
    const isolated = await page.evaluate(() => (globalThis as unknown as Bench).cairnBench.isolated())
    process.stderr.write(`  [chromium] opened${rebuildIndex ? ' (rebuildIndex)' : ''} in ${openMs.toFixed(0)} ms, JS heap ${(heapAfter.used / 1e6).toFixed(1)} MB + ArrayBuffers ${(heapAfter.backing / 1e6).toFixed(1)} MB\n`)
    const out: PageOpen = { openMs, heapBefore, heapAfter, perfMemory, uaMemory, isolated }
    if (cfg !== undefined)
      out.figures = await withTimeout(
        'measure',
        page.evaluate((c) => (globalThis as unknown as Bench).cairnBench.measure(c), cfg),
      )
    await page.evaluate(() => (globalThis as unknown as Bench).cairnBench.close())
    return out
  } finally {
    await page.close()
  }
}

const median = (xs: number[]): number => stat(xs).p50

/** Runs the Chromium part and adds its rows to `report`; returns notes for the printout. */
export async function runBrowserIndexBench(report: Report): Promise<string[]> {
  try {
    await access(chromiumLaunch.executablePath)
  } catch {
    throw new Error(`${chromiumLaunch.executablePath} is missing (apt-get install -y chromium); Playwright never downloads a browser here`)
  }
  const events = envInt('CAIRN_BENCH_BROWSER_EVENTS', 100_000)
  const shape: WorkloadShape = { events, streams: Math.max(1, Math.round(events / 100)) }
  const batch = envInt('CAIRN_BENCH_BATCH', 10_000)
  const openRounds = Math.max(1, envInt('CAIRN_BENCH_OPEN_ROUNDS', 3))
  const cfg = measureConfig(shape.events, shape.streams)
  const section = `IndexedDB, ${shape.events.toLocaleString('en')} ev / ${shape.streams.toLocaleString('en')} streams`
  const notes: string[] = []

  const work = await mkdtemp(join(tmpdir(), 'cairn-bench-index-page-'))
  let server: Server | undefined
  const browser = await chromium.launch({
    executablePath: chromiumLaunch.executablePath,
    args: [...chromiumLaunch.args, '--enable-precise-memory-info', '--enable-blink-features=ForceEagerMeasureMemory'],
    headless: true,
  })
  try {
    await bundlePage(join(repoRoot, 'bench', 'index', 'page'), work)
    const served = await servePage(work)
    server = served.server
    const context = await browser.newContext()
    const name = `cairn-bench-index-${Date.now()}`

    console.log(`index bench (chromium ${browser.version()}): building ${shape.events.toLocaleString('en')} events on ${shape.streams.toLocaleString('en')} streams in IndexedDB (appendMany ×${batch})`)
    const builder = await load(context, served.url)
    const buildMs = await withTimeout(
      'build',
      builder.page.evaluate(([n, s, b]) => (globalThis as unknown as Bench).cairnBench.build(n, s, b), [name, shape, batch] as const),
    )
    await builder.page.close()
    notes.push(`IndexedDB: built ${shape.events.toLocaleString('en')} events in ${ms(buildMs)} (${Math.round((shape.events / buildMs) * 1000).toLocaleString('en')} events/s, appendMany ×${batch}, Chromium ${browser.version()})`)

    const indexed: PageOpen[] = []
    const rebuilt: PageOpen[] = []
    for (let r = 0; r < openRounds; r++) {
      if (r === 0 || indexed.at(-1)!.openMs < slowOpenMs()) indexed.push(await openIn(context, served.url, name, false, r === 0 ? cfg : undefined))
      if (r === 0 || rebuilt.at(-1)!.openMs < slowOpenMs()) rebuilt.push(await openIn(context, served.url, name, true, undefined))
    }
    await context.close()

    const f = indexed[0]!.figures!
    const med = (rs: PageOpen[], get: (r: PageOpen) => number): number => median(rs.map(get))
    const openI = med(indexed, (r) => r.openMs)
    const openR = med(rebuilt, (r) => r.openMs)
    report.add(section, `open (median of ${indexed.length} fresh pages)`, ms(openI), ms(openR), openR / openI, `open with rebuildIndex (median of ${rebuilt.length})`, `< 1 s ${openI < 1000 ? '✓' : '✗'}`)
    const heapI = med(indexed, (r) => total(r.heapAfter))
    const heapR = med(rebuilt, (r) => total(r.heapAfter))
    report.add(section, 'JS heap + ArrayBuffers after open (after GC)', mb(heapI), mb(heapR), heapR / heapI, 'same, rebuildIndex open')
    const usedI = med(indexed, (r) => r.heapAfter.used)
    const usedR = med(rebuilt, (r) => r.heapAfter.used)
    report.add(section, 'of which V8 heap (objects)', mb(usedI), mb(usedR), usedR / usedI, 'same, rebuildIndex open')
    const growI = med(indexed, (r) => total(r.heapAfter) - total(r.heapBefore))
    const growR = med(rebuilt, (r) => total(r.heapAfter) - total(r.heapBefore))
    report.add(section, 'JS memory added by open', mb(growI), mb(growR), growR / growI, 'same, rebuildIndex')

    report.workload(section, f)

    const i0 = indexed[0]!
    const list = (rs: PageOpen[]): string => rs.map((r) => `${ms(r.openMs)} (${mb(total(r.heapAfter))})`).join(', ')
    notes.push(
      `IndexedDB: JS memory read through DevTools (HeapProfiler.collectGarbage ×2, Runtime.getHeapUsage: usedSize + backingStorageSize) in a fresh page; before openStore ${mb(total(i0.heapBefore))}; after open, performance.memory.usedJSHeapSize ${mb(i0.perfMemory)} and performance.measureUserAgentSpecificMemory() ${mb(i0.uaMemory)} (rebuildIndex: ${mb(rebuilt[0]!.uaMemory)}); renderer RSS and IndexedDB's own memory (storage service process) are not measured`,
    )
    notes.push(
      `IndexedDB: page ${i0.isolated ? 'cross-origin isolated: performance.now() precise to ~5 µs' : 'NOT cross-origin isolated: performance.now() coarsened to 100 µs'}; each open a fresh page, in this order: indexed (measures the figures), rebuildIndex, indexed, …; indexed opens ${list(indexed)}; rebuildIndex opens ${list(rebuilt)}`,
    )
    return notes
  } finally {
    await browser.close()
    server?.close()
    await rm(work, { recursive: true, force: true })
  }
}
