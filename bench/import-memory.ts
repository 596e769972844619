// Import memory (issue 11, item 4): a CAR of files imports into the files engine with peak RSS
// under 300 MB whatever its size, file blocks staged to storage as they stream in. Each side
// runs in its own child process so that its peak RSS (getrusage maxrss) is its own: Cairn's
// verified, all-or-nothing importFromFile, beside the floor — the same CAR streamed through
// @ipld/car's CarBlockIterator with a sha2-256 per block and nothing kept.
//
// Alone: `npx tsx bench/import-memory.ts` (size from CAIRN_BENCH_IMPORT_MB, default 2048).
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CarBlockIterator } from '@ipld/car/iterator'
import { exportToFile, importFromFile, openStore } from 'cairndb'
import { fmt } from './measure.ts'
import { withDir } from './scratch.ts'

const MB = 1 << 20
const SELF = fileURLToPath(import.meta.url)

/** `mb` MiB of file content in 1 MiB chunks, every 256 KiB distinct (so every UnixFS leaf is its own block). */
async function* content(mb: number): AsyncGenerator<Uint8Array> {
  const base = new Uint8Array(MB)
  for (let i = 0, x = 1; i < base.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    base[i] = x >>> 24
  }
  for (let n = 0; n < mb; n++) {
    const chunk = base.slice()
    const view = new DataView(chunk.buffer)
    for (let at = 0; at < MB; at += 64 * 1024) view.setUint32(at, n * 16 + at / (64 * 1024))
    yield chunk
  }
}

/**
 * This process's peak RSS in KiB: Linux's VmHWM, which belongs to the running program. getrusage's
 * maxrss is not usable here: Linux carries it across fork and exec, so a child started by a
 * parent holding 400 MB reports at least that.
 */
async function peakRssKb(): Promise<number> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '')
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status)
  return hwm !== null ? Number(hwm[1]) : process.resourceUsage().maxRSS
}

interface ChildResult {
  readonly ms: number
  readonly maxRssMb: number
  readonly blocks: number
}

/** Runs this file as a child doing one side, and returns what it measured. */
function child(side: 'cairn' | 'floor', car: string, dir: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', SELF, '--child', side, car, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildResult) : reject(new Error(`${side} child exited ${code}`))))
  })
}

async function runChild(side: string, car: string, dir: string): Promise<void> {
  const t0 = performance.now()
  let blocks = 0
  if (side === 'cairn') {
    const store = await openStore({ path: dir })
    const report = await importFromFile(store, car, { maxBytes: 64 * 1024 * MB })
    blocks = report.blocks
    await store.close()
  } else {
    for await (const block of await CarBlockIterator.fromIterable(createReadStream(car, { highWaterMark: MB }))) {
      createHash('sha256').update(block.bytes).digest()
      blocks++
    }
  }
  const ms = performance.now() - t0
  console.log(JSON.stringify({ ms, maxRssMb: (await peakRssKb()) / 1024, blocks }))
}

/** Adds the import-memory rows: Cairn's peak RSS and rate beside the streaming floor's. */
export async function runImportMemoryBench(row: (what: string, cairn: string, baseline: string, ratio: number, baselineName: string) => void, mb: number): Promise<void> {
  await withDir('cairn-bench-import-', async (dir) => {
    const source = await openStore({ path: join(dir, 'source') })
    await source.putFile(content(mb))
    const car = join(dir, 'files.car')
    await exportToFile(source, car)
    await source.close()
    const size = (await stat(car)).size
    const floor = await child('floor', car, join(dir, 'unused'))
    const cairn = await child('cairn', car, join(dir, 'target'))
    const label = `${fmt(size / MB, 'MiB')} CAR of one file`
    row(`import of a ${label} into the files engine: peak RSS`, fmt(cairn.maxRssMb, 'MB'), fmt(floor.maxRssMb, 'MB'), cairn.maxRssMb / floor.maxRssMb, 'CarBlockIterator + sha2-256 per block, nothing kept (target: Cairn under 300 MB)')
    row(`import of the same: rate (verified, staged, one commit)`, fmt(size / MB / (cairn.ms / 1000), 'MB/s'), fmt(size / MB / (floor.ms / 1000), 'MB/s'), floor.ms / cairn.ms, 'the same floor')
  })
}

if (process.argv[2] === '--child') {
  await runChild(process.argv[3]!, process.argv[4]!, process.argv[5]!)
} else if (process.argv[1] === SELF) {
  await runImportMemoryBench((what, cairn, baseline, ratio, name) => console.log(`${what}: ${cairn} | ${name}: ${baseline} | ratio ${ratio.toFixed(2)}`), Number(process.env['CAIRN_BENCH_IMPORT_MB'] ?? 2048))
}
