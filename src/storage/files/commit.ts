// The commit path of the files engine: a batch is checked, blocks the store holds already are
// dropped, and the rest are framed with a commit record (format.ts) into one buffer, written
// with one write and one datasync (the write alone where the segment was opened with O_DSYNC:
// segments.ts) at the end of the last segment, or as a new segment (header and commit in one
// write) when the last one is full; a small commit that reaches the end of the file writes
// zeros after itself for the next ones to overwrite (WRITE_AHEAD). The caller indexes the
// blocks after.
import { CID } from 'multiformats/cid'
import { CidSet } from '../../block/cid-map.ts'
import type { BlockRecord } from '../../block/interface.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import { datasync, writeFully } from '../../fs/durable.ts'
import type { CommitBatch } from '../interface.ts'
import { storageError } from './errors.ts'
import { CAR_HEADER, encodeCommit, IDENTITY, MAX_FRAME, type EncodedCommit } from './format.ts'
import type { BlockLocator } from './locator.ts'
import { MAX_SEGMENT, type Segment, type SegmentFiles } from './segments.ts'
import { keyHi, keyLo } from './tail-index.ts'

/** A commit on disk: its heads, and where its encoding was written (`base` in `segment`). */
export interface WrittenCommit {
  readonly heads: CID[]
  readonly segment: Segment
  readonly base: number
  readonly encoded: EncodedCommit
}

/**
 * Writes `batch` durably: its new blocks and a commit record naming its heads. Throws
 * TypeError for a malformed batch, CAIRN_INVALID_BLOCK for a block the engine cannot store,
 * CAIRN_TOO_LARGE for a commit bigger than a segment, CAIRN_STORAGE when the write fails (then
 * cut off again; if that fails too, `onUndoFailed` is told first). Changes nothing in memory
 * but the segment list (a new segment); the caller sets the segment's size and indexes it.
 */
export async function writeCommit(batch: CommitBatch, segments: SegmentFiles, locator: BlockLocator, segmentLimit: number, onUndoFailed: (undo: unknown) => void): Promise<WrittenCommit> {
  const heads = batch.heads.map((h, i) => {
    const cid = CID.asCID(h)
    if (cid === null) throw new TypeError(`"heads[${i}]" expected a CID`)
    return cid
  })
  const fresh = await newBlocks(batch, locator)
  const { segment, base, encoded } = await append(fresh, heads, segments, segmentLimit, onUndoFailed)
  return { heads, segment, base, encoded }
}

/**
 * The batch's blocks the store does not hold, each once, in batch order. A block whose key no
 * index entry can have (the usual case: a new block) costs no await and no string.
 */
async function newBlocks(batch: CommitBatch, locator: BlockLocator): Promise<BlockRecord[]> {
  const fresh: BlockRecord[] = []
  const seen = new CidSet()
  const blocks = batch.blocks
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i]!
    const cid = CID.asCID(block.cid)
    if (cid === null) throw new TypeError(`"blocks[${i}].cid" expected a CID`)
    if (!(block.bytes instanceof Uint8Array)) throw new TypeError(`"blocks[${i}].bytes" expected a Uint8Array`)
    if (cid.multihash.code === IDENTITY) {
      throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} has an identity hash; the files engine does not store those`, { cid })
    }
    if (cid.bytes.length + block.bytes.length > MAX_FRAME) {
      throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} is ${block.bytes.length} bytes; the files engine stores blocks up to ${MAX_FRAME - 64}`, { cid })
    }
    if (seen.has(cid)) continue
    seen.add(cid)
    const c = cid.bytes
    if (locator.mayHaveKey(keyHi(c, 0, c.length), keyLo(c, 0, c.length))) {
      // Only a key match costs a read (to tell a stored block from another CID with the same key).
      const candidates = await locator.candidates(c)
      if (candidates.length > 0 && (await locator.contains(c, candidates))) continue
    }
    fresh.push(cid === block.cid ? block : { cid, bytes: block.bytes })
  }
  return fresh
}

/**
 * Zeros a small commit writes after itself when it would grow the last segment, so that the
 * commits after it overwrite bytes the file already has. Growing the file is what makes an
 * fdatasync commit the filesystem's journal (the new size); an overwrite only flushes data.
 */
export const WRITE_AHEAD: number = 256 * 1024
/** Commits up to this many bytes write zeros ahead ({@link WRITE_AHEAD}); larger ones grow the file by themselves only. */
const SMALL_COMMIT = 64 * 1024

/**
 * Frames `fresh` and a record of `heads` into one buffer and writes it: one write, one
 * datasync. A small commit that reaches past the zeros written ahead in the last segment
 * writes the next {@link WRITE_AHEAD} zeros in the same write (up to the segment limit); if
 * that write fails, the commit is written once more without them (near a full disk the zeros
 * may be what does not fit).
 */
async function append(fresh: readonly BlockRecord[], heads: readonly CID[], segments: SegmentFiles, segmentLimit: number, onUndoFailed: (undo: unknown) => void): Promise<{ segment: Segment; base: number; encoded: EncodedCommit }> {
  const segment = segments.last
  const encoded = encodeCommit(fresh, heads)
  const length = encoded.buffer.length
  if (CAR_HEADER.length + length > MAX_SEGMENT) {
    throw new CairnError('CAIRN_TOO_LARGE', `a commit of ${length} bytes does not fit in one segment (at most 4 GiB); commit fewer blocks at a time`)
  }
  if (segment.size > CAR_HEADER.length && segment.size + length > segmentLimit) {
    // A segment before the last ends with its last commit: cut the zeros ahead off first.
    try {
      await segments.trim(segment)
    } catch (cause) {
      throw storageError(`cannot write ${segment.file}`, cause, segment.file)
    }
    // Header and first commit in one write: a torn creation leaves one torn tail, nothing else.
    const bytes = new Uint8Array(CAR_HEADER.length + length)
    bytes.set(CAR_HEADER, 0)
    bytes.set(encoded.buffer, CAR_HEADER.length)
    return { segment: await segments.create(segment.number + 1, bytes, onUndoFailed), base: CAR_HEADER.length, encoded }
  }
  const base = segment.size
  const end = base + length
  if (end <= segment.allocated || length > SMALL_COMMIT) {
    await writeAt(segments, segment, encoded.buffer, base, onUndoFailed)
    segment.allocated = Math.max(end, segment.allocated)
    return { segment, base, encoded }
  }
  const allocated = Math.max(end, Math.min(end + WRITE_AHEAD, segmentLimit))
  const bytes = new Uint8Array(allocated - base)
  bytes.set(encoded.buffer, 0)
  let undone = true
  try {
    await writeAt(segments, segment, bytes, base, (undo) => {
      undone = false
      onUndoFailed(undo)
    })
    segment.allocated = allocated
  } catch (err) {
    if (!undone) throw err
    await writeAt(segments, segment, encoded.buffer, base, onUndoFailed)
    segment.allocated = end
  }
  return { segment, base, encoded }
}

/**
 * Writes `bytes` at `base` of the last segment durably. On failure cuts the segment back to
 * its size (what a partial write added goes; `onUndoFailed` is told when that fails too) and
 * throws CAIRN_STORAGE.
 */
async function writeAt(segments: SegmentFiles, segment: Segment, bytes: Uint8Array, base: number, onUndoFailed: (undo: unknown) => void): Promise<void> {
  try {
    await writeFully(segment.fh, bytes, base)
    if (!segment.dsync) await datasync(segment.fh)
  } catch (cause) {
    // Cut the partial write off so the next commit does not append after garbage.
    try {
      await segments.truncate(segment, segment.size)
    } catch (undo) {
      onUndoFailed(undo)
    }
    throw storageError(`cannot write ${segment.file}`, cause, segment.file)
  }
}
