// Imports in bounded memory (issue 11, item 4), what only a real process shows:
// - the CAR reader keeps no source chunk alive once it has read past it (it kept up to 1,024
//   spent chunks: a 1 GiB working set for a CAR read in 1 MiB chunks), and the CIDs it yields
//   do not share their block's buffer (a staged import keeps the CIDs, not the bytes);
// - a files-engine import killed with SIGKILL after it staged file blocks leaves the store as
//   it was: same heads and state, the staged blocks unreferenced until compaction reclaims
//   them; the same CAR then imports whole.
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build as bundle } from 'esbuild'
import { describe, expect, test } from 'vitest'
import { openFileStorage } from '../../src/storage/files/engine.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { onLines } from '../support/child-lines.node.ts'
import { bytesOf, catBytes, pattern } from '../support/stores.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'

const RUNNER = fileURLToPath(new URL('./fixtures/import-runner.ts', import.meta.url))
const freshDir = freshDirs('cairn-import-memory-')

/** The child, bundled from the sources into the test's folder (it starts faster than through tsx). */
async function runner(): Promise<string> {
  const outfile = join(await freshDir(), 'import-runner.mjs')
  await bundle({ entryPoints: [RUNNER], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'warning' })
  return outfile
}

/** Runs the child; `killOn`: SIGKILL it as soon as it prints that line. Resolves to its output lines. */
function run(file: Promise<string>, args: string[], killOn?: string): Promise<{ lines: string[]; killed: boolean }> {
  return file.then(
    (file) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--expose-gc', file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
        const lines: string[] = []
        let stderr = ''
        let killed = false
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString()
        })
        onLines(child.stdout, (line) => {
          lines.push(line)
          if (line === killOn && !killed) {
            killed = true
            child.kill('SIGKILL')
          }
        })
        child.on('error', reject)
        child.on('exit', (code, signal) => {
          if (code === 0 || (killed && signal === 'SIGKILL')) resolve({ lines, killed })
          else reject(new Error(`child exited ${code ?? signal}: ${stderr}`))
        })
      }),
  )
}

describe('import memory (real processes)', () => {
  test('the CAR reader keeps no chunk it has read past alive, and a CID it yields keeps no block alive', async () => {
    const { lines } = await run(runner(), ['retention'])
    const result = JSON.parse(lines.at(-1)!) as { worst: number; worstFrames: number; chunks: number; blocks: number }
    expect(result.chunks).toBeGreaterThan(40)
    expect(result.blocks).toBe(96)
    expect(result.worst).toBeLessThanOrEqual(1)
    // A block's CID must not share (and so keep alive) the buffer of the block's bytes.
    expect(result.worstFrames).toBeLessThanOrEqual(1)
  }, 60_000)

  test('SIGKILL after file blocks were staged: heads and state as before; compaction reclaims them; the CAR then imports whole', async () => {
    const source = await CairnStore.open(new MemoryStorage())
    await source.append({ stream: 'notes', type: 'note', data: { n: 1 } })
    const bytes = pattern(40 << 20, 3)
    const file = await source.putFile([bytes])
    const car = await bytesOf(source.export())
    const heads = source.heads.map(String)
    await source.close()
    const dir = await freshDir()
    const carPath = join(dir, 'in.car')
    await writeFile(carPath, car)
    const storeDir = join(dir, 'store')
    const mine = await CairnStore.open(await openFileStorage(storeDir))
    await mine.append({ stream: 'mine', type: 'x' })
    const before = { heads: mine.heads.map(String), state: String(await mine.stateHash()) }
    await mine.close()

    const child = runner()
    const killed = await run(child, ['import', storeDir, carPath], 'staged')
    expect(killed.killed).toBe(true)
    expect(killed.lines.some((l) => l.startsWith('done'))).toBe(false)

    const after = await CairnStore.open(await openFileStorage(storeDir))
    expect({ heads: after.heads.map(String), state: String(await after.stateHash()) }).toEqual(before)
    const report = await after.compact({ minDeadRatio: 0 })
    expect(report.blocksRemoved).toBeGreaterThan(0)
    expect(report.bytesReclaimed).toBeGreaterThanOrEqual(8 << 20)
    await after.close()

    const whole = await run(child, ['import', storeDir, carPath])
    expect(whole.lines.filter((l) => l === 'staged').length).toBeGreaterThanOrEqual(2)
    expect(whole.lines.at(-1)).toMatch(/^done /)
    const done = await CairnStore.open(await openFileStorage(storeDir))
    expect(done.heads.map(String).sort()).toEqual([...heads, ...before.heads].sort())
    expect(await catBytes(done, file)).toBe(bytes.length)
    await done.close()
  }, 120_000)
})
