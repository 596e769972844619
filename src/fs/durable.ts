// Node/Deno only: generic file helpers for durable writes, shared by the files engine and CAR
// files: whole reads and writes at an offset, fdatasync, atomic replacement of a file, fsync of
// a folder, temporary names and their cleanup after a crash. Nothing here knows a store's layout.
import { open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/** The `code` of a Node-style error (ENOENT, EEXIST, …), if it has one. */
export function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Writes all of `bytes` at file offset `position` (a write may take only part of them). */
export async function writeFully(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0
  while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done, position + done)).bytesWritten
}

/** Reads exactly `buf.length` bytes at `pos`; throws if the file is shorter. */
export async function readFully(fh: FileHandle, buf: Uint8Array, pos: number): Promise<void> {
  let done = 0
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, pos + done)
    if (bytesRead === 0) throw new Error(`unexpected end of file at ${pos + done}`)
    done += bytesRead
  }
}

/**
 * A file's bytes from its current position to its end, in fresh buffers of `size` bytes (a
 * reader may keep slices of them, as the CAR reader does until a frame is complete); a failed
 * read throws `fail(cause)`.
 */
export async function* readChunks(fh: FileHandle, size: number, fail: (cause: unknown) => Error): AsyncGenerator<Uint8Array> {
  for (;;) {
    const buffer = new Uint8Array(size)
    let bytesRead: number
    try {
      ;({ bytesRead } = await fh.read(buffer, 0, size, null))
    } catch (cause) {
      throw fail(cause)
    }
    if (bytesRead === 0) return
    yield bytesRead === size ? buffer : buffer.subarray(0, bytesRead)
  }
}

/** fdatasync where the runtime has it (it also persists the file size, which is all an append changes besides data), else fsync. */
export async function datasync(fh: FileHandle): Promise<void> {
  if (typeof fh.datasync === 'function') await fh.datasync()
  else await fh.sync()
}

/** Makes a new directory entry durable. Some platforms cannot fsync a directory; that alone is ignored. */
export async function syncDir(path: string): Promise<void> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (err) {
    if (errCode(err) === 'EISDIR' || errCode(err) === 'EPERM' || errCode(err) === 'EACCES') return
    throw err
  }
  try {
    await fh.sync()
  } catch (err) {
    const code = errCode(err)
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF' && code !== 'ENOTSUP') throw err
  } finally {
    await fh.close().catch(() => {})
  }
}

/** Temporary files end in this; callers must give no file of their own this ending ({@link removeTemps} without `file` removes them all). */
const TEMP_SUFFIX = '.tmp'

/** A new temporary name beside `file`: `<file>.<random>.tmp`. */
export function tempName(file: string): string {
  return `${file}.${Math.random().toString(36).slice(2, 10)}${TEMP_SUFFIX}`
}

/** Where {@link replaceFile} was when it failed. */
export type ReplaceStep = 'creating' | 'writing' | 'syncing' | 'renaming' | 'syncing the folder'

export interface ReplaceOptions {
  /**
   * The temporary file, overwritten if it exists. Default: a new {@link tempName}, created
   * exclusively (which {@link removeTemps} recognises).
   */
  readonly temp?: string
  /** Keep the file open (for reading and writing) and return its handle; else it is closed before the rename. */
  readonly keepOpen?: boolean
  /** Told each step as it starts, so that a caller can say where a failure happened. */
  readonly onStep?: (step: ReplaceStep) => void
}

/**
 * Replaces `file` atomically and durably: `write` fills a temporary file beside it, which is
 * fsynced, renamed over `file`, and then the folder is fsynced, in that order. A crash leaves
 * the old file or the new one (and maybe the temporary file), never a torn file under the
 * real name. A failure before the rename removes the temporary file; any failure closes the
 * handle and rethrows the error as it is.
 */
export async function replaceFile(file: string, write: (fh: FileHandle) => Promise<void>, options: ReplaceOptions & { readonly keepOpen: true }): Promise<FileHandle>
export async function replaceFile(file: string, write: (fh: FileHandle) => Promise<void>, options?: ReplaceOptions): Promise<void>
export async function replaceFile(file: string, write: (fh: FileHandle) => Promise<void>, options: ReplaceOptions = {}): Promise<FileHandle | void> {
  const { keepOpen = false, onStep } = options
  const temp = options.temp ?? tempName(file)
  onStep?.('creating')
  const fh = await open(temp, `${options.temp === undefined ? 'wx' : 'w'}${keepOpen ? '+' : ''}`)
  let isOpen = true
  try {
    onStep?.('writing')
    await write(fh)
    onStep?.('syncing')
    await fh.sync()
    if (!keepOpen) {
      isOpen = false
      await fh.close()
    }
    onStep?.('renaming')
    await rename(temp, file)
  } catch (err) {
    if (isOpen) await fh.close().catch(() => {})
    await unlink(temp).catch(() => {})
    throw err
  }
  try {
    onStep?.('syncing the folder')
    await syncDir(dirname(file))
  } catch (err) {
    if (isOpen) await fh.close().catch(() => {})
    throw err
  }
  return keepOpen ? fh : undefined
}

/**
 * Removes temporary files a crash left in `dir`: those {@link tempName} made for the file
 * `file` of `dir` (`<file>.<random>.tmp`), or, without `file`, every name ending in `.tmp`.
 * False when `dir` does not exist.
 */
export async function removeTemps(dir: string, file?: string): Promise<boolean> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if (errCode(err) === 'ENOENT') return false
    throw err
  }
  for (const name of names) {
    if (file === undefined ? name.endsWith(TEMP_SUFFIX) : isTempOf(name, file)) await unlink(join(dir, name)).catch(() => {})
  }
  return true
}

const RANDOM_PART = /^[a-z0-9]*\.tmp$/

/** True when `name` has the form of a {@link tempName} of `file`. */
const isTempOf = (name: string, file: string): boolean => name.startsWith(`${file}.`) && RANDOM_PART.test(name.slice(file.length + 1))
