import type { ImporterOptions } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { ProgressReporter } from '../errors/progress-reporter.ts'
import type { StorageEngine } from '../storage/interface.ts'
import type { ByteSource } from '../car/interface.ts'
import { chunksOf } from '../car/source.ts'
import { readFile } from './cat.ts'

/**
 * Source of a file's bytes.
 *
 * @example
 * await store.putFile(new TextEncoder().encode('hello'))
 * await store.putFile(file.stream())   // or any iterable or async iterable of Uint8Array chunks
 */
export type FileSource = ByteSource

/**
 * The importer settings that make Cairn's file CIDs equal to IPFS tools' defaults for
 * CIDv1: 256 KiB fixed chunks, raw leaves, balanced DAG of at most 174 links per node.
 */
export const FILE_IMPORT_OPTIONS: ImporterOptions = {
  cidVersion: 1,
  rawLeaves: true,
  reduceSingleLeafToSelf: true,
  wrapWithDirectory: false,
}

export { reporterOf } from '../errors/progress-reporter.ts'

/** With progress, a source chunk is handed to the importer in parts of at most this many bytes. */
const PROGRESS_PART = 1 << 20

/** Blocks are handed to storage in slices of about this many bytes, so memory stays flat. */
export const FILE_FLUSH_BYTES: number = 8 * 1024 * 1024

export interface ImportedFile {
  readonly cid: CID
  readonly size: number
  /** Blocks not yet flushed; the caller commits them with the file's `object.put` event. */
  readonly rest: BlockRecord[]
}

/**
 * Chunks a file into a UnixFS DAG (its bytes read as `chunksOf` reads a source: a chunk that is
 * not a Uint8Array is a TypeError). `flush` receives full slices of blocks as they are made
 * (committed without moving the heads, so a crash leaves only unreferenced blocks).
 * `progress` counts the blocks made and the bytes read from `source`; it reports, and throws
 * on an abort, as the source is read (so the importer fails through its source, its one
 * error path), not from inside the block writes.
 */
export async function importFile(file: FileSource, flush: (blocks: BlockRecord[]) => Promise<void>, progress?: ProgressReporter): Promise<ImportedFile> {
  let pending: BlockRecord[] = []
  let pendingBytes = 0
  const sink = {
    async put(cid: CID, bytes: Uint8Array): Promise<CID> {
      if (progress !== undefined) progress.blocks++
      pending.push({ cid, bytes })
      pendingBytes += bytes.length
      if (pendingBytes >= FILE_FLUSH_BYTES) {
        const slice = pending
        pending = []
        pendingBytes = 0
        await flush(slice)
      }
      return cid
    },
  }
  let size = 0
  const source = chunksOf(file)
  async function* counted(): AsyncGenerator<Uint8Array> {
    if (progress === undefined) {
      for await (const chunk of source) {
        size += chunk.length
        yield chunk
      }
      return
    }
    progress.check()
    for await (const chunk of source) {
      size += chunk.length
      // A large chunk (a whole file as one Uint8Array) is handed on a MiB at a time, so that an
      // abort and the reports come between its parts. The importer rechunks: the CID is the same.
      for (let at = 0; at < chunk.length || at === 0; at += PROGRESS_PART) {
        const part = chunk.length <= PROGRESS_PART ? chunk : chunk.subarray(at, at + PROGRESS_PART)
        progress.add(0, part.length)
        yield part
        if (part === chunk) break
      }
    }
  }
  let root: CID | undefined
  // Loaded on first use: the UnixFS importer and exporter add ~6 MB to a process that never stores a file.
  const { importer } = await import('ipfs-unixfs-importer')
  for await (const entry of importer([{ content: counted() }], sink, FILE_IMPORT_OPTIONS)) root = entry.cid
  if (root === undefined) throw new CairnError('CAIRN_INVALID_VALUE', 'the file importer produced no root')
  return { cid: root, size, rest: pending }
}

/**
 * Streams a file's bytes, verifying each block before any of its bytes leave (see cat.ts; it
 * loads with this module, on first use).
 */
export async function* catFile(storage: StorageEngine, cid: CID): AsyncGenerator<Uint8Array> {
  yield* readFile(storage, cid)
}
