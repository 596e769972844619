// Node part of the index benchmark (files engine): builds the store once in a child process,
// then opens it in fresh child processes — indexed (persisted snapshot) and with
// `rebuildIndex: true` — for open time and resident memory, and measures the read figures
// in the first indexed child. Children run compiled JS under plain `node --expose-gc` (no tsx
// loader in the process whose memory is reported).
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm, stat as fsStat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BuildResult, OpenRequest, OpenResult } from './child.ts'
import { envInt, measureConfig, slowOpenMs, stepTimeoutMs } from './config.ts'
import { mb, ms, type Report } from './report.ts'
import { stat, type WorkloadShape } from './workload.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** Runs `tsc -p bench/index/tsconfig.child.json` into `outDir` (a folder of ES modules). */
async function compileChild(outDir: string): Promise<string> {
  const tsc = join(root, 'node_modules', '.bin', 'tsc')
  const code = await new Promise<number | null>((resolve, reject) => {
    const p = spawn(tsc, ['-p', join(root, 'bench', 'index', 'tsconfig.child.json'), '--outDir', outDir], { stdio: ['ignore', 'inherit', 'inherit'] })
    p.on('error', reject)
    p.on('exit', resolve)
  })
  // Type errors elsewhere (others' work in progress) still emit; only missing output is fatal.
  const js = join(outDir, 'child.js')
  try {
    await fsStat(js)
  } catch {
    throw new Error(`compiling bench/index/child.ts failed (tsc exit ${code})`)
  }
  await writeFile(join(outDir, 'package.json'), '{ "type": "module" }\n')
  return js
}

/** Runs the compiled child; resolves its `@@result` JSON. */
function runChild<T>(childJs: string, args: string[], heapMb: number): Promise<T> {
  const timeout = stepTimeoutMs()
  return new Promise<T>((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', `--max-old-space-size=${heapMb}`, childJs, ...args], {
      env: { ...process.env, CAIRN_BENCH_MODULE: import.meta.resolve('cairndb') },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    const timer = setTimeout(() => {
      p.kill('SIGKILL')
      reject(new Error(`child ${args[0]} timed out after ${timeout / 1000} s (CAIRN_BENCH_TIMEOUT_MS)`))
    }, timeout)
    p.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    p.on('exit', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('@@result '))
      if (code === 0 && line !== undefined) resolve(JSON.parse(line.slice('@@result '.length)) as T)
      else reject(new Error(`child ${args[0]} failed (exit ${code}${signal === null ? '' : `, ${signal}`})`))
    })
  })
}

async function duBytes(dir: string): Promise<number> {
  let n = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await fsStat(join(e.parentPath, e.name))).size
  }
  return n
}

const median = (xs: number[]): number => stat(xs).p50

/** Runs the Node part and adds its rows to `report`; returns notes for the printout. */
export async function runNodeIndexBench(report: Report): Promise<string[]> {
  const events = envInt('CAIRN_BENCH_EVENTS', 1_000_000)
  const shape: WorkloadShape = { events, streams: envInt('CAIRN_BENCH_STREAMS', Math.max(1, Math.round(events / 100))) }
  const batch = envInt('CAIRN_BENCH_BATCH', 10_000)
  const openRounds = Math.max(1, envInt('CAIRN_BENCH_OPEN_ROUNDS', 3))
  const heapMb = envInt('CAIRN_BENCH_HEAP_MB', 8192)
  const cfg = measureConfig(shape.events, shape.streams)
  const keep = process.env['CAIRN_BENCH_DIR']
  const section = `files, ${shape.events.toLocaleString('en')} ev / ${shape.streams.toLocaleString('en')} streams`
  const notes: string[] = []

  const work = await mkdtemp(join(tmpdir(), 'cairn-bench-index-'))
  try {
    const childJs = await compileChild(join(work, 'js'))
    const dir = keep ?? join(work, 'store')

    // 1. Build once (or reuse CAIRN_BENCH_DIR when it already holds a store).
    let reused = false
    if (keep !== undefined) {
      try {
        reused = (await readdir(keep)).length > 0
      } catch {
        reused = false
      }
    }
    if (reused) {
      console.log(`index bench (node): reusing the store in ${dir} (CAIRN_BENCH_DIR); it must hold ${shape.events} events on ${shape.streams} streams`)
    } else {
      console.log(`index bench (node): building ${shape.events.toLocaleString('en')} events on ${shape.streams.toLocaleString('en')} streams in ${dir} (appendMany ×${batch})`)
      const b = await runChild<BuildResult>(childJs, ['build', dir, JSON.stringify({ ...shape, batch })], heapMb)
      notes.push(`files: built ${shape.events.toLocaleString('en')} events in ${ms(b.ms)} (${Math.round((shape.events / b.ms) * 1000).toLocaleString('en')} events/s, appendMany ×${batch}, one process)`)
    }
    notes.push(`files: store on disk ${mb(await duBytes(dir))}`)

    // 2. Opens in fresh processes, alternating indexed / rebuildIndex; the first indexed one also measures.
    const indexed: OpenResult[] = []
    const rebuilt: OpenResult[] = []
    for (let r = 0; r < openRounds; r++) {
      if (r === 0 || indexed.at(-1)!.openMs < slowOpenMs()) {
        const req: OpenRequest = r === 0 ? { rebuildIndex: false, measure: cfg } : { rebuildIndex: false }
        indexed.push(await runChild<OpenResult>(childJs, ['open', dir, JSON.stringify(req)], heapMb))
      }
      if (r === 0 || rebuilt.at(-1)!.openMs < slowOpenMs()) {
        rebuilt.push(await runChild<OpenResult>(childJs, ['open', dir, JSON.stringify({ rebuildIndex: true } satisfies OpenRequest)], heapMb))
      }
    }
    const f = indexed[0]!.figures!
    const at1M = shape.events >= 1_000_000
    const med = (rs: OpenResult[], get: (r: OpenResult) => number): number => median(rs.map(get))
    const nI = indexed.length
    const nR = rebuilt.length

    const openI = med(indexed, (r) => r.openMs)
    const openR = med(rebuilt, (r) => r.openMs)
    report.add(section, `open (median of ${nI} fresh processes)`, ms(openI), ms(openR), openR / openI, `open with rebuildIndex (median of ${nR})`, `< 1 s ${openI < 1000 ? '✓' : '✗'}`)
    const rssI = med(indexed, (r) => r.after.rss)
    const rssR = med(rebuilt, (r) => r.after.rss)
    report.add(section, 'resident memory (RSS) after open', mb(rssI), mb(rssR), rssR / rssI, 'RSS after rebuildIndex open', at1M ? `< 150 MB ${rssI < 150e6 ? '✓' : '✗'}` : '< 150 MB at 1M (not at this size)')
    const growI = med(indexed, (r) => r.after.rss - r.before.rss)
    const growR = med(rebuilt, (r) => r.after.rss - r.before.rss)
    report.add(section, 'RSS added by open (after − before openStore)', mb(growI), mb(growR), growR / growI, 'same, rebuildIndex')
    const heapI = med(indexed, (r) => r.after.heapUsed + r.after.arrayBuffers)
    const heapR = med(rebuilt, (r) => r.after.heapUsed + r.after.arrayBuffers)
    report.add(section, 'JS heap + ArrayBuffers after open', mb(heapI), mb(heapR), heapR / heapI, 'same, rebuildIndex')

    report.workload(section, f)

    const m0 = indexed[0]!
    notes.push(`files: a fresh \`node --expose-gc\` with Cairn imported and nothing open: RSS ${mb(m0.before.rss)}, heap ${mb(m0.before.heapUsed)}; memory is read after two gc() calls${m0.gcExposed ? '' : ' (gc was NOT exposed)'}`)
    if (m0.afterReads !== undefined) notes.push(`files: RSS after the indexed figures (before the scans) ${mb(m0.afterReads.rss)}, heap ${mb(m0.afterReads.heapUsed)}`)
    const list = (rs: OpenResult[]): string => rs.map((r) => `${ms(r.openMs)} (RSS ${mb(r.after.rss)})`).join(', ')
    notes.push(
      `files: each open is a fresh process on a warm OS page cache, in this order: indexed, rebuildIndex, indexed, …; the first indexed open follows the build process's close() and is the one that measures the figures; indexed opens ${list(indexed)}; rebuildIndex opens ${list(rebuilt)}`,
    )
    return notes
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
