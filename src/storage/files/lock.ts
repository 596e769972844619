// The LOCK file of a files store: one process at a time has a store folder open.
//
// The lock names its holder by identity, not by pid alone: pid, the process's start time and
// the machine's boot id (Linux: /proc/<pid>/stat field 22, /proc/sys/kernel/random/boot_id).
// A pid that was reused — a container's pid 1 after a restart, any recycled pid, our own pid in
// a new process — has another start time, so its lock is recognised as stale. Where /proc is
// missing (macOS, Windows) the identity is the pid alone and liveness a signal-0 probe.
//
// Taking a lock is an exclusive create (a hard link of a fully written temporary file, so no
// one reads a half-written lock). Breaking a stale lock is serialised by a second lock,
// LOCK.break, taken the same way: only its holder may remove LOCK, and only after reading
// LOCK again and finding the same stale holder (the same nonce). Between that read and the
// unlink LOCK cannot change — its holder is dead, another breaker is excluded, and a newcomer
// cannot create over an existing file — so no process ever removes a lock it did not judge
// stale, and two processes never both hold the store. A breaker that dies mid-break leaves a
// LOCK.break whose own holder is dead: it is broken by renaming it aside and checking that
// what was moved is that same stale file.
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CairnError } from '../../errors/cairn-error.ts'
import { errCode, tempName } from '../../fs/durable.ts'
import { storageError } from './errors.ts'

/** File name of the lock inside the store folder. */
const LOCK = 'LOCK'
/** File name of the lock that serialises breaking a stale LOCK. */
const BREAK = 'LOCK.break'
/** Rounds of take / inspect / break before giving up (each round makes progress unless others race). */
const ATTEMPTS = 20

/** Who holds a lock. `start` and `boot` are empty where the platform cannot tell. */
export interface LockHolder {
  readonly pid: number
  readonly start: string
  readonly boot: string
  /** Random per lock file: tells two locks of the same process apart. */
  readonly nonce: string
}

interface ProcessLike {
  pid?: number
  kill?: (pid: number, signal: number) => unknown
}

function ownPid(): number {
  const g = globalThis as { process?: ProcessLike; Deno?: { pid?: number } }
  return g.process?.pid ?? g.Deno?.pid ?? 0
}

/** Start time of a process in clock ticks since boot (Linux), or '' when unknown or gone. */
async function startTimeOf(pid: number): Promise<string> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which is in parentheses and may hold spaces or ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? '' // field 22 overall: starttime
  } catch {
    return ''
  }
}

let bootId: Promise<string> | undefined
function ownBootId(): Promise<string> {
  bootId ??= readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
    (s) => s.trim(),
    () => '',
  )
  return bootId
}

/** This process's identity, with a fresh nonce. */
export async function ownIdentity(): Promise<LockHolder> {
  const pid = ownPid()
  return { pid, start: await startTimeOf(pid), boot: await ownBootId(), nonce: Math.random().toString(36).slice(2, 12) }
}

/** Parses a lock file: JSON `{ pid, start, boot, nonce }`, or a bare pid (older versions). */
export function parseHolder(text: string): LockHolder | undefined {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed), start: '', boot: '', nonce: '' }
  try {
    const o = JSON.parse(trimmed) as Partial<LockHolder>
    if (typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid)) return undefined
    return { pid: o.pid, start: String(o.start ?? ''), boot: String(o.boot ?? ''), nonce: String(o.nonce ?? '') }
  } catch {
    return undefined
  }
}

/** Whether the process named by `holder` is still the one running: same boot, same pid, same start time. */
export async function holderAlive(holder: LockHolder): Promise<boolean> {
  if (!Number.isSafeInteger(holder.pid) || holder.pid <= 0) return false
  const boot = await ownBootId()
  if (holder.boot !== '' && boot !== '' && holder.boot !== boot) return false // the machine rebooted since
  const start = await startTimeOf(holder.pid)
  if (start !== '' && holder.start !== '') return start === holder.start
  if (start === '' && boot !== '') return false // Linux: no /proc entry, no such process
  // No /proc (or a lock from an older version without a start time): probe the pid.
  if (holder.pid === ownPid()) return holder.start === '' || holder.start === start
  const proc = (globalThis as { process?: ProcessLike }).process
  if (typeof proc?.kill !== 'function') return false
  try {
    proc.kill(holder.pid, 0)
    return true
  } catch (err) {
    return errCode(err) === 'EPERM'
  }
}

/** A lock this process holds on a store folder. */
export interface HeldLock {
  /** Removes LOCK, if it is still ours. */
  release(): Promise<void>
}

/**
 * Takes `LOCK` in the folder (see the top of this file). Throws CAIRN_LOCKED (with `file`: the
 * folder) when a live process holds it, this one included (the store is open already).
 */
export async function acquireLock(dir: string): Promise<HeldLock> {
  const lockPath = join(dir, LOCK)
  const me = await ownIdentity()
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (await createExclusive(dir, LOCK, me)) return { release: () => releaseIfOurs(lockPath, me) }
    let holder = await readHolder(lockPath)
    if (holder === undefined) {
      // Unreadable: maybe a lock being written where hard links are missing. Look again shortly.
      await pause(10)
      holder = await readHolder(lockPath)
    }
    if (holder === null) continue // released meanwhile: try again
    if (holder !== undefined && (await holderAlive(holder))) {
      const self = holder.pid === me.pid ? ', this one' : ''
      throw new CairnError('CAIRN_LOCKED', `store ${dir} is open in another process (pid ${holder.pid}${self})`, { file: dir })
    }
    await breakStale(dir, holder, me)
    if (attempt > 2) await pause(attempt)
  }
  throw new CairnError('CAIRN_LOCKED', `cannot lock ${dir}: the lock keeps changing hands`, { file: dir })
}

/**
 * Removes LOCK if it still holds `stale` (undefined: unreadable content), holding LOCK.break
 * while it checks and removes. Returns without doing anything when another process is
 * breaking it (the caller's next round sees the outcome).
 */
async function breakStale(dir: string, stale: LockHolder | undefined, me: LockHolder): Promise<void> {
  const lockPath = join(dir, LOCK)
  const breakPath = join(dir, BREAK)
  if (!(await createExclusive(dir, BREAK, me))) {
    const breaker = await readHolder(breakPath)
    if (breaker === null || (breaker !== undefined && (await holderAlive(breaker)))) return
    await removeIfStill(dir, breakPath, breaker) // a breaker died mid-break
    return
  }
  try {
    const now = await readHolder(lockPath)
    if (now !== null && sameHolder(now, stale)) {
      try {
        await unlink(lockPath)
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw storageError(`cannot remove stale ${lockPath}`, err, lockPath)
      }
    }
  } finally {
    await releaseIfOurs(breakPath, me)
  }
}

/**
 * Removes a file only if it still holds `stale`: renames it aside (atomic), reads what was
 * moved, and puts it back with an exclusive link when it turns out to be a fresh one.
 */
async function removeIfStill(dir: string, path: string, stale: LockHolder | undefined): Promise<void> {
  const aside = tempName(join(dir, `${BREAK}.stale`))
  try {
    await rename(path, aside)
  } catch (err) {
    if (errCode(err) === 'ENOENT') return
    throw storageError(`cannot move stale ${path}`, err, path)
  }
  const moved = await readHolder(aside)
  if (moved !== null && !sameHolder(moved, stale)) await link(aside, path).catch(() => {})
  await unlink(aside).catch(() => {})
}

function sameHolder(a: LockHolder | undefined, b: LockHolder | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return a.pid === b.pid && a.start === b.start && a.boot === b.boot && a.nonce === b.nonce
}

/** The holder in a lock file; undefined for unreadable content; null when there is no such file. */
async function readHolder(path: string): Promise<LockHolder | undefined | null> {
  try {
    return parseHolder(await readFile(path, 'utf8'))
  } catch (err) {
    if (errCode(err) === 'ENOENT') return null
    throw storageError(`cannot read ${path}`, err, path)
  }
}

/** Creates `name` in `dir` holding `me`, atomically and only if absent. True when we created it. */
async function createExclusive(dir: string, name: string, me: LockHolder): Promise<boolean> {
  const target = join(dir, name)
  const tmp = tempName(join(dir, `${name}.${me.pid}`))
  const body = JSON.stringify(me)
  try {
    await writeFile(tmp, body, { flag: 'wx' })
    try {
      await link(tmp, target)
      return true
    } catch (err) {
      const code = errCode(err)
      if (code === 'EEXIST') return false
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EXDEV') throw err
      // No hard links on this file system: an exclusive create (a reader may then see it empty for a moment).
      try {
        await writeFile(target, body, { flag: 'wx' })
        return true
      } catch (err2) {
        if (errCode(err2) === 'EEXIST') return false
        throw err2
      }
    }
  } catch (cause) {
    throw storageError(`cannot lock ${dir}`, cause, dir)
  } finally {
    await unlink(tmp).catch(() => {})
  }
}

async function releaseIfOurs(path: string, me: LockHolder): Promise<void> {
  const holder = await readHolder(path).catch(() => undefined)
  if (holder !== null && holder !== undefined && sameHolder(holder, me)) await unlink(path).catch(() => {})
}

function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(50, attempt * 2) + Math.random() * 5))
}
