// Derived-data slots of the files engine: one file per name under `<store>/derived/`.
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { errCode, readFully, removeTemps, replaceFile, syncDir, writeFully } from '../../fs/durable.ts'

/** Folder of derived values inside the store folder. */
export const DERIVED_DIR = 'derived'

/**
 * The file of derived value `name`. Names match DERIVED_NAME (`[a-z0-9._-]{1,64}`), which
 * allows '.', '..', 'con' and names ending in a dot; the prefix and suffix make every one of
 * them an ordinary file name on every platform (no path tricks, no Windows device names, no
 * trailing dots for Win32 to strip).
 */
const fileOf = (name: string): string => `d-${name}.bin`

/** The value stored under `name` in `dir`, in a buffer of its own; undefined when there is none. */
export async function readDerivedFile(dir: string, name: string): Promise<Uint8Array | undefined> {
  let fh: FileHandle
  try {
    fh = await open(join(dir, DERIVED_DIR, fileOf(name)), 'r')
  } catch (err) {
    if (errCode(err) === 'ENOENT') return undefined
    throw err
  }
  try {
    // The handle pins the file it opened, so a rename that replaces it meanwhile cannot mix two values.
    const { size } = await fh.stat()
    const bytes = new Uint8Array(size)
    await readFully(fh, bytes, 0)
    return bytes
  } finally {
    await fh.close().catch(() => {})
  }
}

/**
 * Replaces the value `name` in `dir` atomically and durably: a temporary file, fsync, rename
 * over the old file, fsync of the folder. A crash leaves the old value or the new one.
 * `created` says whether the derived folder is already known to exist durably (else it is
 * created and its entry in `dir` synced first).
 */
export async function writeDerivedFile(dir: string, name: string, bytes: Uint8Array, created: boolean): Promise<void> {
  const folder = join(dir, DERIVED_DIR)
  if (!created) {
    await mkdir(folder, { recursive: true })
    await syncDir(dir)
  }
  await replaceFile(join(folder, fileOf(name)), (fh) => writeFully(fh, bytes, 0))
}

/**
 * Removes temporary files a crash left in the derived folder (every name ending in `.tmp`,
 * which no value's file does); false when there is no folder yet.
 */
export function cleanDerived(dir: string): Promise<boolean> {
  return removeTemps(join(dir, DERIVED_DIR))
}
