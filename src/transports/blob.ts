// Web-platform CAR helpers: a store's export as a Blob (to download, upload or keep), and an
// import from any Blob or File (a picked file, a fetch response's blob). No Node built-ins.
import { CAR_MEDIA_TYPE } from '../car/interface.ts'
import type { ExportOptions, ImportOptions, ImportReport } from '../store/options.ts'
import { expectObject } from '../errors/arguments.ts'
import type { CairnStore } from '../store/store.ts'
import type { Progress } from '../errors/progress.ts'
import { expectStore } from './store-argument.ts'

/**
 * Collects `store.export(options)` into a Blob of type `application/vnd.ipld.car`.
 * The browser may keep a large Blob on disk, but the parts pass through memory first.
 * `options` are the export's: `since` or `roots`, `onProgress` and `signal` (an abort rejects
 * with `signal.reason` and makes no Blob).
 *
 * @example
 * const blob = await exportToBlob(store)
 * const url = URL.createObjectURL(blob)          // a download link
 * const photo = await exportToBlob(store, { roots: [photoCid] }) // one file's DAG, rooted at it
 */
export async function exportToBlob(store: CairnStore, options: ExportOptions = {}): Promise<Blob> {
  expectStore(store)
  expectObject('options', options)
  // Export chunks are already ~64 KiB each (see writeCar).
  const parts: Uint8Array<ArrayBuffer>[] = []
  for await (const chunk of store.export(options)) parts.push(new Uint8Array(chunk.buffer as ArrayBuffer, chunk.byteOffset, chunk.length))
  return new Blob(parts, { type: CAR_MEDIA_TYPE })
}

/**
 * Imports a CAR held in a Blob or File, streamed through `blob.stream()` (see
 * `CairnStore.import`: every block verified, all or nothing). `onProgress` reports carry
 * `totalBytes`: the Blob's size. An abort rejects with `signal.reason` and changes nothing.
 *
 * @example
 * input.onchange = async () => { await importFromBlob(store, input.files![0]!) }
 */
export async function importFromBlob(store: CairnStore, blob: Blob, options: ImportOptions = {}): Promise<ImportReport> {
  expectStore(store)
  if (blob === null || typeof blob !== 'object' || typeof (blob as Partial<Blob>).stream !== 'function') {
    throw new TypeError('"blob" expected a Blob or File')
  }
  expectObject('options', options)
  return store.import(blob.stream() as ReadableStream<Uint8Array>, withTotal(options, blob.size))
}

/** The options with `onProgress` reports carrying `totalBytes` (a bad `onProgress` is left for the store to refuse). */
export function withTotal<O extends { onProgress?: (p: Progress) => void }>(options: O, totalBytes: number): O {
  const onProgress = options.onProgress
  if (typeof onProgress !== 'function') return options
  return { ...options, onProgress: (p: Progress) => onProgress({ ...p, totalBytes }) }
}
