// Browser figures for `npm run bench` (issue 11), each beside its floor measured in the same
// Chromium page run: appendMany ×1000 into IndexedDB against the same number of blocks put in
// ONE strict readwrite transaction per batch (plus a heads record), and a verified CAR import
// against the CAR's blocks put raw in one such transaction. Cairn and floor rounds interleave;
// medians. Alone: `npx tsx bench/browser/run.ts` after `npm run build`.
//
// Environment (optional): BENCH_ROUNDS=5; CAIRN_BENCH_PROFILE=1 also profiles one Cairn append
// run and one import (DevTools Profiler, unminified bundle) and prints the top self times.
import { access, mkdtemp, rm } from 'node:fs/promises'
import type { Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type CDPSession, type Page } from 'playwright'
import { chromiumLaunch } from '../../chromium.ts'
import { fmt, median } from '../measure.ts'
import { bundlePage, repoRoot, servePage } from '../page-server.ts'
import type { RowFn } from '../sync.ts'
import type { BrowserBenchApi } from './page/main.ts'
import { BATCH, EVENTS } from './workload.ts'

type Bench = { cairnBrowserBench: BrowserBenchApi }

const perSecond = (n: number, ms: number, unit: string): string => fmt((n / ms) * 1000, unit)

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

/** Runs `fn` under the DevTools CPU profiler and prints the functions with the most self time. */
async function profiled(cdp: CDPSession, what: string, fn: () => Promise<unknown>, top = 25): Promise<void> {
  await cdp.send('Profiler.enable')
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 })
  await cdp.send('Profiler.start')
  await fn()
  const { profile } = (await cdp.send('Profiler.stop')) as { profile: { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] } }
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  const byName = new Map<string, number>()
  let total = 0
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0
    total += us
    const f = node.callFrame
    const file = f.url.split('/').pop() ?? ''
    const key = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`
    byName.set(key, (byName.get(key) ?? 0) + us)
  }
  console.log(`\nprofile of ${what}: ${(total / 1000).toFixed(0)} ms sampled; top self time:`)
  for (const [k, us] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`)
  // Inclusive (total) time per function: its self time plus its callees', each sample counted once per function.
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const inclusive = new Map<string, number>()
  for (const [id, us] of self) {
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = nodes.get(at)!.callFrame
      if (f.url === '' && f.functionName.startsWith('(')) continue
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop() ?? ''}:${f.lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + us)
    }
  }
  console.log(`top inclusive time:`)
  for (const [k, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`)
}

/** Runs the browser benchmarks in Chromium and adds their rows. */
export async function runBrowserBench(row: RowFn, rounds: number): Promise<void> {
  try {
    await access(chromiumLaunch.executablePath)
  } catch {
    throw new Error(`${chromiumLaunch.executablePath} is missing (apt-get install -y chromium); Playwright never downloads a browser here`)
  }
  const R = Math.max(3, rounds)
  const profile = process.env['CAIRN_BENCH_PROFILE'] === '1'
  const work = await mkdtemp(join(tmpdir(), 'cairn-bench-browser-page-'))
  let server: Server | undefined
  const browser = await chromium.launch({ executablePath: chromiumLaunch.executablePath, args: chromiumLaunch.args, headless: true })
  try {
    await bundlePage(join(repoRoot, 'bench', 'browser', 'page'), work, { minify: !profile })
    const served = await servePage(work)
    server = served.server
    const context = await browser.newContext()
    const page: Page = await context.newPage()
    page.on('console', (m) => {
      process.stderr.write(`  [chromium] ${m.text()}\n`)
    })
    page.on('pageerror', (err) => {
      process.stderr.write(`  [chromium error] ${err.message}\n`)
    })
    await page.goto(served.url)
    await page.waitForFunction(() => 'cairnBrowserBench' in globalThis)
    const isolated = await page.evaluate(() => (globalThis as unknown as Bench).cairnBrowserBench.isolated())
    if (!isolated) throw new Error('the benchmark page is not cross-origin isolated: performance.now() would be coarsened')
    const call = <A extends unknown[], T>(fn: (args: A) => Promise<T>, ...args: A): Promise<T> => page.evaluate(fn as never, args as never) as Promise<T>
    let seq = 0
    const fresh = (kind: string): string => `cairn-bench-${kind}-${Date.now()}-${seq++}`

    const car = await call(([n]: [number]) => (globalThis as unknown as Bench).cairnBrowserBench.makeCar(n), EVENTS)
    const block = Math.round(car.meanBlock)
    console.log(`browser bench (Chromium ${browser.version()}): ${EVENTS.toLocaleString('en')} events; CAR of ${car.blocks} blocks, ${(car.bytes / 1e6).toFixed(2)} MB, mean block ${block} bytes`)

    // 1. appendMany ×1000 into IndexedDB; floor: the same number of blocks of the mean block size
    //    in one strict readwrite transaction per batch, plus a heads record.
    const appendMs: number[] = []
    const appendFloorMs: number[] = []
    for (let r = 0; r < R; r++) {
      appendMs.push(await call(([name, n, b]: [string, number, number]) => (globalThis as unknown as Bench).cairnBrowserBench.appendCairn(name, n, b), fresh('append'), EVENTS, BATCH))
      appendFloorMs.push(await call(([name, n, b, s]: [string, number, number, number]) => (globalThis as unknown as Bench).cairnBrowserBench.appendFloor(name, n, b, s), fresh('append-floor'), EVENTS, BATCH, block))
    }
    const a = median(appendMs)
    const af = median(appendFloorMs)
    console.log(`  append rounds (ms): Cairn ${appendMs.map((x) => x.toFixed(0)).join(', ')}; floor ${appendFloorMs.map((x) => x.toFixed(0)).join(', ')}`)
    row('appendMany ×1000, IndexedDB (Chromium, strict)', perSecond(EVENTS, a, 'events/s'), perSecond(EVENTS, af, 'blocks/s'), af / a, `raw IDB: 1 strict tx per ${BATCH} blocks + heads`)

    // 2. Verified import of the workload's CAR into a new IndexedDB store; floor: the CAR's
    //    blocks put raw (no parsing, hashing or checks) in one strict readwrite transaction.
    const importMs: number[] = []
    const importFloorMs: number[] = []
    for (let r = 0; r < R; r++) {
      importMs.push(await call(([name]: [string]) => (globalThis as unknown as Bench).cairnBrowserBench.importCairn(name), fresh('import')))
      importFloorMs.push(await call(([name]: [string]) => (globalThis as unknown as Bench).cairnBrowserBench.importFloor(name), fresh('import-floor')))
    }
    const im = median(importMs)
    const imf = median(importFloorMs)
    console.log(`  import rounds (ms): Cairn ${importMs.map((x) => x.toFixed(0)).join(', ')}; floor ${importFloorMs.map((x) => x.toFixed(0)).join(', ')}`)
    row('import 20k-event CAR (verified), IndexedDB', fmt(car.bytes / im / 1000, 'MB/s'), fmt(car.bytes / imf / 1000, 'MB/s'), imf / im, 'raw IDB: its blocks in 1 strict tx')

    if (profile) {
      const phases = await call(([name, n, b]: [string, number, number]) => (globalThis as unknown as Bench).cairnBrowserBench.appendPhases(name, n, b), fresh('append'), EVENTS, BATCH)
      console.log(
        `\nengine calls during appendMany ×${BATCH} (wall ms, nested calls overlap): ${Object.entries(phases)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(', ')}`,
      )
      const cdp = await context.newCDPSession(page)
      await profiled(cdp, `appendMany ×${BATCH}, ${EVENTS} events`, () => call(([name, n, b]: [string, number, number]) => (globalThis as unknown as Bench).cairnBrowserBench.appendCairn(name, n, b), fresh('append'), EVENTS, BATCH))
      await profiled(cdp, 'append floor', () => call(([name, n, b, s]: [string, number, number, number]) => (globalThis as unknown as Bench).cairnBrowserBench.appendFloor(name, n, b, s), fresh('append-floor'), EVENTS, BATCH, block), 8)
      await profiled(cdp, 'verified import', () => call(([name]: [string]) => (globalThis as unknown as Bench).cairnBrowserBench.importCairn(name), fresh('import')))
    }
    await context.close()
  } finally {
    await browser.close()
    server?.close()
    await rm(work, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows: string[][] = []
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5)
  await runBrowserBench((what, cairn, baseline, ratio, baselineName) => {
    rows.push([what, cairn, baseline, `${ratio.toFixed(2)}×`, baselineName])
    console.log(`${what}: ${cairn} | ${baselineName}: ${baseline} | ratio ${ratio.toFixed(2)}`)
  }, rounds)
  console.log(`\n| what | Cairn | baseline | Cairn ÷ baseline speed | baseline |\n|---|---|---|---|---|`)
  for (const r of rows) console.log(`| ${r.join(' | ')} |`)
  console.log(`\n${new Date().toISOString().slice(0, 10)}, Chromium, median of ${Math.max(3, rounds)} rounds`)
}
