// The files engine's LOCK with real processes: never two holders, and a dead holder's lock is
// taken over even when its pid is alive again (reused, pid 1 in a container, our own).
import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { openFileStorage } from '../../src/storage/files/engine.ts'
import { ownIdentity } from '../../src/storage/files/lock.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const OPENER = fileURLToPath(new URL('./fixtures/lock-opener.ts', import.meta.url))
const freshDir = freshDirs('cairn-lock-')
const RACES = Number(process.env['CAIRN_LOCK_RACES'] ?? 6)
const PROCS = Number(process.env['CAIRN_LOCK_PROCS'] ?? 5)

type Outcome = { opened: number; closed: number } | { refused: string }

function runOpener(dir: string, holdMs: number, startAt: number): Promise<Outcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', OPENER, dir, String(holdMs), String(startAt)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString()
  })
  return new Promise((resolve, reject) => {
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim()) as Outcome)
      } catch {
        reject(new Error(`opener printed ${JSON.stringify(out)}; stderr ${err}`))
      }
    })
  })
}

/** A pid that was alive a moment ago and is now gone. */
async function deadPid(): Promise<number> {
  const dead = spawn(process.execPath, ['-e', ''])
  await new Promise((resolve) => dead.on('close', resolve))
  return dead.pid!
}

async function staleLock(dir: string, holder: object): Promise<void> {
  await writeFile(join(dir, 'LOCK'), JSON.stringify(holder))
}

describe('files engine: the lock', () => {
  test('a lock whose pid is alive again but names another process (reused pid, pid 1, our own) is taken over', async () => {
    const dir = await freshDir()
    await (await openFileStorage(dir)).close()
    const me = await ownIdentity()
    for (const pid of [process.pid, 1, process.ppid]) {
      // Same boot, a live pid, but a start time that is not that process's: its holder is gone.
      await staleLock(dir, { pid, start: '1', boot: me.boot, nonce: 'old' })
      const s = await openFileStorage(dir)
      expect(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8'))).toMatchObject({ pid: process.pid, start: me.start })
      await s.close()
    }
    // A lock from before a reboot is stale whoever has that pid now.
    await staleLock(dir, { pid: process.ppid, start: me.start, boot: 'another-boot', nonce: 'x' })
    await (await openFileStorage(dir)).close()
  })

  test('a lock naming a live process exactly refuses with CAIRN_LOCKED, this process included', async () => {
    const dir = await freshDir()
    const s = await openFileStorage(dir)
    const err = await openFileStorage(dir).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isCairnError(err, 'CAIRN_LOCKED'), String(err)).toBe(true)
    expect((err as { file?: string }).file).toBe(dir)
    expect(String((err as Error).message)).toContain('this one')
    // And from another process.
    expect(await runOpener(dir, 0, Date.now())).toEqual({ refused: 'CAIRN_LOCKED' })
    await s.close()
    const reopened = await runOpener(dir, 0, Date.now())
    expect('opened' in reopened).toBe(true)
  })

  test(`processes racing to open a store with a stale lock: never two holders at once (${RACES} races of ${PROCS})`, async () => {
    const me = await ownIdentity()
    let openedTotal = 0
    for (let race = 0; race < RACES; race++) {
      const dir = await freshDir()
      await (await openFileStorage(dir)).close()
      await staleLock(dir, { pid: await deadPid(), start: '1', boot: me.boot, nonce: `r${race}` })
      const startAt = Date.now() + 1500 // all three are running by then
      const outcomes = await Promise.all(Array.from({ length: PROCS }, () => runOpener(dir, 300, startAt)))
      const held = outcomes.filter((o): o is { opened: number; closed: number } => 'opened' in o).sort((a, b) => a.opened - b.opened)
      for (const o of outcomes) if ('refused' in o) expect(o.refused).toBe('CAIRN_LOCKED')
      expect(held.length, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(1)
      for (let i = 1; i < held.length; i++) expect(held[i]!.opened, `race ${race}: two holders at once ${JSON.stringify(held)}`).toBeGreaterThanOrEqual(held[i - 1]!.closed)
      openedTotal += held.length
    }
    expect(openedTotal).toBeGreaterThanOrEqual(RACES)
  }, 120_000)
})
