// Node/Deno only: CAR files on disk. Export streams into `path + '.tmp'`, fsyncs, then renames,
// so a crash never leaves half a CAR under the final name; import streams from the file.
import { open, type FileHandle } from 'node:fs/promises'
import { errCode, readChunks, replaceFile, writeFully, type ReplaceStep } from '../fs/durable.ts'
import type { ExportOptions, ImportOptions, ImportReport } from '../store/options.ts'
import { expectObject, expectString } from '../errors/arguments.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { CairnStore } from '../store/store.ts'
import { withTotal } from './blob.ts'
import { expectStore } from './store-argument.ts'

/** Bytes asked for per read(2) on import. */
const READ_BYTES = 1 << 20

function fsError(what: string, path: string, cause: unknown): CairnError {
  if (cause instanceof CairnError) return cause
  const code = errCode(cause)
  const detail = code !== undefined ? `${code}: ${(cause as Error).message}` : String((cause as Error | null)?.message ?? cause)
  return new CairnError('CAIRN_STORAGE', `${what} "${path}" failed (${detail})`, { file: path, cause })
}

/**
 * Writes `store.export(options)` to a CAR file at `path`. The bytes stream to `path + '.tmp'`
 * (a block is pulled from the store only once the previous write has finished, so memory
 * stays flat), which is fsynced and then renamed over `path`: a crash leaves either the old
 * file or the whole new one, never a torn CAR under that name. File system failures reject
 * with CAIRN_STORAGE naming the path; nothing is left at `path` then. `options` are the
 * export's (`since` or `roots`, `onProgress`, `signal`); what the export rejects with (an
 * abort's `signal.reason`, a missing root's CAIRN_NOT_FOUND) comes out as it is, and the
 * temporary file is removed, an older file at `path` left as it was.
 *
 * @example
 * const { bytes } = await exportToFile(store, './backup.car', { since: peerHeads })
 * await exportToFile(store, './photo.car', { roots: [photoCid] }) // `ipfs-car unpack photo.car` gives the file back
 */
export async function exportToFile(store: CairnStore, path: string, options: ExportOptions = {}): Promise<{ bytes: number }> {
  expectStore(store)
  expectString('path', path)
  expectObject('options', options)
  const car = store.export(options)
  const tmp = `${path}.tmp`
  let bytes = 0
  let step = 'creating' as ReplaceStep
  try {
    // A fixed temporary name: the next export overwrites what a crashed one left.
    await replaceFile(
      path,
      async (fh) => {
        // Export chunks are already ~64 KiB each (see writeCar): one write per chunk.
        const chunks = car[Symbol.asyncIterator]()
        try {
          for (;;) {
            let next: IteratorResult<Uint8Array>
            try {
              next = await chunks.next()
            } catch (err) {
              throw new FromExport(err)
            }
            if (next.done === true) break
            await writeFully(fh, next.value, bytes)
            bytes += next.value.length
          }
        } finally {
          await chunks.return?.().catch(() => {})
        }
      },
      {
        temp: tmp,
        onStep: (s) => {
          step = s
        },
      },
    )
  } catch (cause) {
    if (cause instanceof FromExport) throw cause.error
    switch (step) {
      case 'renaming':
        throw fsError(`renaming "${tmp}" to`, path, cause)
      case 'syncing the folder':
        throw fsError('syncing the folder of', path, cause)
      default:
        throw fsError(step, tmp, cause)
    }
  }
  return { bytes }
}

/** What the export itself threw (an abort, a missing root, a corrupt store): passed on as it is, not as a file system failure. */
class FromExport {
  constructor(readonly error: unknown) {}
}

/**
 * Imports a CAR file into `store` (see `CairnStore.import`: every block verified, all or
 * nothing), streaming it from disk. A missing or unreadable file rejects with CAIRN_STORAGE
 * naming the path; a bad CAR with the import's own error. `onProgress` reports carry
 * `totalBytes`: the file's size. An abort rejects with `signal.reason` and changes nothing.
 *
 * @example
 * const report = await importFromFile(store, './backup.car')
 */
export async function importFromFile(store: CairnStore, path: string, options: ImportOptions = {}): Promise<ImportReport> {
  expectStore(store)
  expectString('path', path)
  expectObject('options', options)
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (cause) {
    throw fsError('opening', path, cause)
  }
  try {
    let size: number
    try {
      size = (await fh.stat()).size
    } catch (cause) {
      throw fsError('reading', path, cause)
    }
    return await store.import(
      readChunks(fh, READ_BYTES, (cause) => fsError('reading', path, cause)),
      withTotal(options, size),
    )
  } finally {
    await fh.close().catch(() => {})
  }
}
