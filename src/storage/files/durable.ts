// Node/Deno only: what the file engine and CAR files share to make writes durable.
import { open, type FileHandle } from 'node:fs/promises'

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
