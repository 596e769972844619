// Reading a file back (store.cat), loaded on first use: every block is verified against its
// CID before any of its bytes leave.
import type { PBNode } from '@ipld/dag-pb'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { verify } from '../block/codec.ts'
import { CairnError, isCairnError } from '../errors/cairn-error.ts'
import type { StorageEngine } from '../storage/interface.ts'

/** A read-only blockstore view for the exporter that verifies every block it hands out. */
function verifiedView(storage: StorageEngine): { get(cid: CID): AsyncGenerator<Uint8Array> } {
  return {
    async *get(cid: CID): AsyncGenerator<Uint8Array> {
      const bytes = await storage.get(cid)
      if (bytes === undefined) throw new CairnError('CAIRN_NOT_FOUND', `block ${cid} is not in the store`, { cid })
      await verify(cid, bytes)
      yield bytes
    },
  }
}

/**
 * Streams a file's bytes, verifying each block before any of its bytes leave. The UnixFS
 * exporter resolves the root and every inner node (through a view that verifies them); the
 * leaves, which hold the bytes, are read here: in windows of 1 MiB (one storage request each,
 * the next two read while this one is handed on), each window's blocks hashed all at
 * once as soon as they arrive (WebCrypto hashes large ones off the main thread, in parallel)
 * and before any of its bytes leave, with the checks the exporter makes (block sizes against
 * links, no more and no fewer bytes than the file's size). Through the exporter alone every
 * leaf cost a blockstore round trip of async generators, a copy, and all of a node's leaves
 * were read at once.
 */
export async function* readFile(storage: StorageEngine, cid: CID): AsyncGenerator<Uint8Array> {
  let entry: UnixFSEntry
  let exporter: typeof import('ipfs-unixfs-exporter').exporter
  const view = verifiedView(storage)
  try {
    ;({ exporter } = await import('ipfs-unixfs-exporter'))
    entry = await exporter(cid, view)
  } catch (err) {
    throw unwrap(err, cid)
  }
  if (entry.type !== 'file' && entry.type !== 'raw') {
    throw new CairnError('CAIRN_INVALID_VALUE', `${cid} is a ${entry.type}, not a file`, { cid })
  }
  try {
    if (entry.type === 'file' && (entry.unixfs.type === 'file' || entry.unixfs.type === 'raw')) {
      const inner = async (child: CID): Promise<FileNode> => {
        const e = await exporter(child, view)
        if (e.type !== 'file' && e.type !== 'directory') throw new CairnError('CAIRN_INVALID_BLOCK', `cannot read file ${cid}: ${child} is not a UnixFS node`, { cid: child })
        return { node: e.node, unixfs: e.unixfs }
      }
      yield* fileLeaves(storage, cid, { node: entry.node, unixfs: entry.unixfs }, inner)
    } else yield* entry.content()
  } catch (err) {
    throw unwrap(err, cid)
  }
}

/** A UnixFS node of a file: its dag-pb node and the UnixFS data in it. */
interface FileNode {
  readonly node: PBNode
  readonly unixfs: { readonly data?: Uint8Array | undefined; readonly blockSizes: readonly bigint[]; fileSize(): bigint }
}

/** A node being read: the children that hold part of the file, with where each starts in it. */
interface Frame {
  readonly links: readonly { readonly cid: CID; readonly start: number; readonly size: number }[]
  next: number
  /** Leaves read ahead: from `from`, their blocks (undefined for a child that is not a leaf). */
  window: Window | undefined
  /** The windows after it, already asked for (WINDOWS_AHEAD at most). */
  ahead: Window[]
}

interface Window {
  readonly from: number
  readonly to: number
  readonly blocks: Promise<(Uint8Array | undefined)[]>
}

/** Bytes of raw leaves read at once (at least one leaf)... */
const LEAF_WINDOW_BYTES = 1024 * 1024
/** ...and at most this many leaves (block sizes in a node may lie). */
const LEAF_WINDOW_BLOCKS = 32
/** Windows asked for after the one being handed on: three in flight at most (per node being read). */
const WINDOWS_AHEAD = 2
const RAW_CODE = 0x55
const DAG_PB_CODE = 0x70

/**
 * The bytes of the file under `root`, in order: each node's own data, then its children's. The
 * same bytes and the same checks as the exporter's file content for a whole read.
 */
async function* fileLeaves(storage: StorageEngine, file: CID, root: FileNode, inner: (cid: CID) => Promise<FileNode>): AsyncGenerator<Uint8Array> {
  const end = Number(root.unixfs.fileSize())
  if (end === 0) return
  let read = 0
  const bad = (why: string): CairnError => new CairnError('CAIRN_INVALID_BLOCK', `cannot read file ${file}: ${why}`, { cid: file })
  // What a block holds of the file's range [0, end), as the exporter cuts it.
  const extract = (bytes: Uint8Array, start: number): Uint8Array => {
    const blockEnd = start + bytes.length
    if (0 >= blockEnd || end < start) return bytes.subarray(0, 0)
    return end < blockEnd ? bytes.subarray(0, end - start) : bytes
  }
  /** Counts bytes handed out; true once the whole file has been. */
  const count = (n: number): boolean => {
    read += n
    if (read > end) throw bad('more bytes than the file size in its root node')
    return read === end
  }
  const stack: Frame[] = []
  /** Hands out a node's own data and stacks its children; returns the data (empty if none). */
  const open = (f: FileNode, position: number): Uint8Array => {
    const data = f.unixfs.data === undefined ? undefined : extract(f.unixfs.data, position)
    if (data !== undefined) position += data.length
    const sizes = f.unixfs.blockSizes
    if (f.node.Links.length !== sizes.length) throw bad('block sizes do not match the links')
    const links: { cid: CID; start: number; size: number }[] = []
    for (let i = 0; i < sizes.length; i++) {
      const size = Number(sizes[i]!)
      const childStart = position
      const childEnd = childStart + size
      // The exporter's test for a child holding part of [0, end).
      if ((0 >= childStart && 0 < childEnd) || (end >= childStart && end <= childEnd) || (0 < childStart && end > childEnd)) {
        links.push({ cid: f.node.Links[i]!.Hash, start: childStart, size })
      }
      position = childEnd
      if (position > end) break
    }
    stack.push({ links, next: 0, window: undefined, ahead: [] })
    return data ?? new Uint8Array(0)
  }
  const windowAt = (frame: Frame, from: number): Window | undefined => {
    if (from >= frame.links.length) return undefined
    let to = from
    let bytes = 0
    // Each leaf's place in the request (-1: not a leaf). A leaf repeating the one before it
    // (a run of zeros) is asked for once and counts once against the window's bytes.
    const at: number[] = []
    const wanted: CID[] = []
    while (to < frame.links.length && (to === from || (to - from < LEAF_WINDOW_BLOCKS && bytes + frame.links[to]!.size <= LEAF_WINDOW_BYTES))) {
      const link = frame.links[to++]!
      if (link.cid.code !== RAW_CODE) {
        at.push(-1)
        continue
      }
      const last = wanted[wanted.length - 1]
      if (last === undefined || at[at.length - 1] === -1 || !last.equals(link.cid)) {
        wanted.push(link.cid)
        bytes += link.size
      }
      at.push(wanted.length - 1)
    }
    const read = wanted.length === 0 ? Promise.resolve([]) : storage.getMany !== undefined ? storage.getMany(wanted) : Promise.all(wanted.map((c) => storage.get(c)))
    // Every block of the window is checked as soon as it is read, all at once (WebCrypto
    // hashes large blocks off the main thread), before any of the window's bytes leave.
    const blocks = read.then(async (got) => {
      await Promise.all(got.map((bytes, k) => (bytes === undefined ? undefined : verify(wanted[k]!, bytes))))
      return at.map((k) => (k < 0 ? undefined : got[k]))
    })
    blocks.catch(() => {}) // awaited later; a window never reached (an early stop) must not fail unhandled
    return { from, to, blocks }
  }
  const first = open(root, 0)
  if (first.length > 0) {
    const done = count(first.length)
    yield first
    if (done) return
  }
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!
    if (frame.next === frame.links.length) {
      stack.pop()
      continue
    }
    const i = frame.next++
    const link = frame.links[i]!
    const cid = link.cid
    let bytes: Uint8Array
    if (cid.code === RAW_CODE) {
      if (frame.window === undefined || i >= frame.window.to) {
        frame.window = frame.ahead[0]?.from === i ? frame.ahead.shift() : windowAt(frame, i)
        let to = (frame.ahead.at(-1) ?? frame.window!).to
        while (frame.ahead.length < WINDOWS_AHEAD) {
          const next = windowAt(frame, to)
          if (next === undefined) break
          frame.ahead.push(next)
          to = next.to
        }
      }
      const got = (await frame.window!.blocks)[i - frame.window!.from]
      if (got === undefined) throw new CairnError('CAIRN_NOT_FOUND', `block ${cid} is not in the store`, { cid })
      bytes = extract(got, link.start)
    } else if (cid.code === DAG_PB_CODE) {
      bytes = open(await inner(cid), link.start)
    } else throw bad(`unsupported codec 0x${cid.code.toString(16)} for ${cid}`)
    if (bytes.length === 0) continue
    const done = count(bytes.length)
    yield bytes
    if (done) return
  }
  if (read < end) throw bad('fewer bytes than the file size in its root node')
}

function unwrap(err: unknown, cid: CID): unknown {
  if (isCairnError(err)) return err
  const cause = (err as { cause?: unknown }).cause
  if (isCairnError(cause)) return cause
  return new CairnError('CAIRN_INVALID_BLOCK', `cannot read file ${cid}: ${(err as Error).message}`, { cid, cause: err })
}
