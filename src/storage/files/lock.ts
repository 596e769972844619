// The LOCK file of a files store: one process at a time has a store folder open. The lock
// holds the pid of its holder; a lock whose holder is gone is taken over.
import { link, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CairnError } from '../../errors/cairn-error.ts'
import { errCode, tempName } from '../../fs/durable.ts'
import { storageError } from './errors.ts'

/** File name of the lock inside the store folder. */
const LOCK = 'LOCK'

interface ProcessLike {
  pid?: number
  kill?: (pid: number, signal: number) => unknown
}

function ownPid(): number {
  const g = globalThis as { process?: ProcessLike; Deno?: { pid?: number } }
  return g.process?.pid ?? g.Deno?.pid ?? 0
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  if (pid === ownPid()) return true
  const proc = (globalThis as { process?: ProcessLike }).process
  if (typeof proc?.kill !== 'function') return false
  try {
    proc.kill(pid, 0)
    return true
  } catch (err) {
    return errCode(err) === 'EPERM'
  }
}

/**
 * Takes `LOCK` in the folder: a file holding our pid, created atomically (written under a
 * temporary name, then hard-linked, so no one ever reads a half-written lock). A lock whose
 * process is gone is replaced. Throws CAIRN_LOCKED (with `file`: the folder) when a live
 * process holds it, this one included (the store is open already).
 */
export async function acquireLock(dir: string): Promise<void> {
  const lockPath = join(dir, LOCK)
  const pid = ownPid()
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      if (await tryCreateLock(dir, lockPath, pid)) return
    } catch (cause) {
      throw storageError(`cannot lock ${dir}`, cause, dir)
    }
    let holder = NaN
    try {
      holder = Number.parseInt(await readFile(lockPath, 'utf8'), 10)
    } catch (err) {
      if (errCode(err) === 'ENOENT') continue
      throw storageError(`cannot read ${lockPath}`, err, lockPath)
    }
    if (alive(holder)) {
      throw new CairnError('CAIRN_LOCKED', `store ${dir} is open in another process (pid ${holder}${holder === pid ? ', this one' : ''})`, { file: dir })
    }
    try {
      await unlink(lockPath)
    } catch (err) {
      if (errCode(err) !== 'ENOENT') throw storageError(`cannot remove stale ${lockPath}`, err, lockPath)
    }
  }
  throw new CairnError('CAIRN_STORAGE', `cannot lock ${dir}: the lock keeps changing hands`, { file: dir })
}

/** True when we now hold the lock, false when someone else's lock file is there. */
async function tryCreateLock(dir: string, lockPath: string, pid: number): Promise<boolean> {
  const tmp = tempName(join(dir, `${LOCK}.${pid}`))
  await writeFile(tmp, String(pid), { flag: 'wx' })
  try {
    await link(tmp, lockPath)
    return true
  } catch (err) {
    const code = errCode(err)
    if (code === 'EEXIST') return false
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EXDEV') throw err
    // No hard links on this file system: fall back to an exclusive create.
    try {
      await writeFile(lockPath, String(pid), { flag: 'wx' })
      return true
    } catch (err2) {
      if (errCode(err2) === 'EEXIST') return false
      throw err2
    }
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

/** Gives up the lock taken by {@link acquireLock}. */
export async function releaseLock(dir: string): Promise<void> {
  await unlink(join(dir, LOCK)).catch(() => {})
}
