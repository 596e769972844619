// Compaction of the files engine: a segment whose dead share passes a threshold is rewritten
// with only its live frames, into a new file that is then renamed over it. The order of the
// steps is what makes a crash at any moment harmless:
//
//   1. survey      read every segment's frames, ask `live` about each block, decide which
//                  segments to rewrite. Nothing is written.
//   2. write       for each of them, `seg-<n>.car.<random>.tmp`: the CAR header, the live frames
//                  in their order, one commit record `{ heads, blocks, bytes }` for all of them
//                  (and, in the last segment, a second record with no blocks, so that the
//                  re-hash on open of the last commit checks nothing); fsync.
//   3. table       if the block table on disk may cover a segment being replaced, delete it and
//                  fsync the folder: its positions are about to go stale.
//   4. rename      each temporary file over its segment; fsync the folder.
//   5. swap        in memory, in one synchronous step: the new files' handles and the new index.
//   6. fold        write a new block table (in the background of the store, awaited here).
//
// A crash before 4 leaves the segments as they were and temporary files, which open removes. A
// crash during 4 leaves each segment either old or new, both complete, holding every live
// block; no table names a replaced segment's positions; the heads are those of the last record
// in the last segment holding one, which is the same commit in both versions (a rewritten
// segment's record carries the current heads, which no commit changed meanwhile: the caller
// holds the write lock, and compaction runs in the commit queue). Segment numbers stay as they
// are, so frames keep their order across segments and the first copy of a block stays first.
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import { sha256Sync } from '../../block/hash.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import { datasync, syncDir, tempName, writeFully } from '../../fs/durable.ts'
import type { CompactReport } from '../interface.ts'
import { storageError, type Gate } from './errors.ts'
import { CAR_HEADER, encodeRecordFrame, keyOfBytes, type WindowReader } from './format.ts'
import type { BlockLocator, Cover } from './locator.ts'
import type { Segment, SegmentFiles } from './segments.ts'
import { EntryColumns, keyHi, keyLo, TailIndex } from './tail-index.ts'
import { framePosition } from './table/format.ts'
import { removeTable } from './table/writer.ts'

/** Seams for specs (not part of the public API): told each step of a compaction as it completes, awaited. */
export interface CompactHooks {
  /** `surveyed`, `written <n>`, `table removed`, `renamed <n>`, `renames synced`, `swapped`, `done`. */
  readonly onStep?: ((step: string) => void | Promise<void>) | undefined
}

/** What compaction needs of the engine. */
export interface CompactTarget {
  readonly segments: SegmentFiles
  readonly locator: BlockLocator
  readonly gate: Gate
  /** The current heads: the record of every rewritten segment carries them. */
  readonly heads: readonly CID[]
  readonly hooks: CompactHooks
  /** Told when renames began and a later step failed: the files no longer match what this process appends to. */
  readonly onBroken: (cause: unknown) => void
}

/** What the survey found in one segment. */
interface SegmentSurvey {
  readonly segment: Segment
  /** Per block frame in file order: 1 to keep it in a rewrite. */
  readonly keep: number[]
  /** Every indexed (not skipped) block frame, live or dead, in file order. */
  readonly entries: EntryColumns
  liveFrames: number
  liveBytes: number
  /** Indexed frames of dead blocks: blocks a rewrite removes. */
  deadBlocks: number
  /** Bytes of dropped frames (dead blocks and skipped copies), length prefixes included. */
  deadBytes: number
  newSize: number
  rewrite: boolean
}

/** A rewritten segment, written and synced under its temporary name. */
interface Rewritten {
  readonly survey: SegmentSurvey
  readonly temp: string
  readonly fh: FileHandle
  readonly size: number
  /** Index entries of its frames at their new offsets. */
  readonly entries: EntryColumns
  /** Its last record: the cover when the newest record was in this segment. */
  readonly lastRecord: Cover
}

/** A dead block's indexed copy and its later (skipped) copies, tracked only while the skip list is not empty. */
interface Copies {
  first: { segment: number; offset: number } | undefined
  readonly later: { segment: number; offset: number; hi: number; lo: number; length: number }[]
}

/** Bytes buffered before a write to the new segment. */
const WRITE_CHUNK = 1024 * 1024

/**
 * Rewrites the segments of `target` whose dead bytes are at least `minDeadRatio` of their
 * bytes (and at least one), dropping frames of blocks `live` rejects and later copies of
 * blocks stored twice. See the top of this file for the order of the steps.
 */
export async function compactSegments(target: CompactTarget, live: (cid: CID) => boolean, minDeadRatio: number): Promise<CompactReport> {
  const { segments, locator, gate, hooks } = target
  await locator.pause()
  let eager = false
  const written: Rewritten[] = []
  try {
    // Every commit before is durable (one an open scanned after a crash may not have been).
    await gate.guard(() => datasync(segments.last.fh), `cannot sync ${segments.last.file}`, segments.last.file)
    const copies = new Map<string, Copies>()
    const surveys: SegmentSurvey[] = []
    for (const segment of [...segments.list]) surveys.push(await survey(target, segment, live, minDeadRatio, copies))
    await hooks.onStep?.('surveyed')
    const chosen = surveys.filter((s) => s.rewrite)
    if (chosen.length === 0) return { blocksRemoved: 0, bytesReclaimed: 0, segmentsRewritten: 0 }

    for (const s of chosen) {
      written.push(await rewrite(target, s))
      await hooks.onStep?.(`written ${s.segment.number}`)
    }

    // The new index, built before anything on disk changes: every indexed frame of the
    // segments kept (after the table's cover, when the table is kept) and the new positions.
    const rewrittenNumbers = new Set(chosen.map((s) => s.segment.number))
    const first = chosen[0]!.segment.number
    const run = locator.run
    const dropTable = run.cover !== undefined && run.cover.segment >= first
    const removeFile = dropTable || locator.tableFileCover >= first
    const keepFrom = dropTable || run.cover === undefined ? 0 : framePosition(run.cover.segment, run.cover.end)
    const unskip = laterCopiesToIndex(copies, rewrittenNumbers)
    const tail = new TailIndex()
    const byNumber = new Map(written.map((w) => [w.survey.segment.number, w]))
    for (const s of surveys) {
      const n = s.segment.number
      const entries = byNumber.get(n)?.entries ?? s.entries
      for (let e = 0; e < entries.count; e++) {
        if (framePosition(n, entries.offset(e)) >= keepFrom) tail.add(entries.hi(e), entries.lo(e), n, entries.offset(e), entries.length(e))
      }
      for (const copy of unskip) if (copy.segment === n) tail.add(copy.hi, copy.lo, n, copy.offset, copy.length)
    }
    let cover = locator.cover
    if (cover !== undefined && rewrittenNumbers.has(cover.segment)) cover = byNumber.get(cover.segment)!.lastRecord

    if (removeFile) {
      gate.check()
      await gate.guard(
        async () => {
          await removeTable(segments.dir)
          await syncDir(segments.dir)
        },
        `cannot remove the block table of ${segments.dir}`,
        segments.dir,
      )
      locator.tableFileCover = 0
      eager = true
      await hooks.onStep?.('table removed')
    }

    // From the first rename on, the files differ from what this process reads and appends to
    // until the swap: a failure in between leaves the engine refusing commits until reopened.
    gate.check()
    let renamed = 0
    try {
      for (const w of written) {
        await rename(w.temp, w.survey.segment.file)
        renamed++
        await hooks.onStep?.(`renamed ${w.survey.segment.number}`)
      }
      await syncDir(segments.dir)
      await hooks.onStep?.('renames synced')
    } catch (cause) {
      if (renamed > 0) target.onBroken(cause)
      written.splice(0, renamed).forEach((w) => void w.fh.close().catch(() => {}))
      throw cause instanceof CairnError ? cause : storageError(`cannot replace segments of ${segments.dir}`, cause, segments.dir)
    }

    // The swap: files and index at once, no await in between.
    for (const w of written) segments.replace(w.survey.segment.number, w.fh, w.size)
    locator.install(tail, dropTable, rewrittenNumbers, new Set(unskip.map((c) => framePosition(c.segment, c.offset))), cover)
    written.length = 0
    eager = true
    await hooks.onStep?.('swapped')
    let blocksRemoved = -unskip.length
    let bytesReclaimed = 0
    for (const s of chosen) {
      blocksRemoved += s.deadBlocks
      bytesReclaimed += s.segment.size - s.newSize
    }
    return { blocksRemoved, bytesReclaimed, segmentsRewritten: chosen.length }
  } finally {
    // Temporary files not renamed: an aborted compaction leaves nothing behind.
    for (const w of written) {
      await w.fh.close().catch(() => {})
      await unlink(w.temp).catch(() => {})
    }
    await locator.resume(eager)
    await hooks.onStep?.('done')
  }
}

/**
 * Walks the block frames of `segment`, asks `live` about each indexed one, and decides whether
 * a rewrite is worth it. Records the dead blocks' copies in `copies` when there are skipped
 * frames at all (almost never).
 */
async function survey(target: CompactTarget, segment: Segment, live: (cid: CID) => boolean, minDeadRatio: number, copies: Map<string, Copies>): Promise<SegmentSurvey> {
  const { segments, locator } = target
  const skip = locator.skip
  const s: SegmentSurvey = { segment, keep: [], entries: new EntryColumns(), liveFrames: 0, liveBytes: 0, deadBlocks: 0, deadBytes: 0, newSize: 0, rewrite: false }
  for await (const { reader, frame } of segments.blockFrames(segment, segment.size)) {
    const w = reader.window
    const o = reader.locate(frame.cidOffset, frame.cidLength)
    const hi = keyHi(w, o, o + frame.cidLength)
    const lo = keyLo(w, o, o + frame.cidLength)
    const frameBytes = frame.end - frame.start
    const length = frame.cidLength + frame.dataLength
    if (skip.size > 0 && skip.has(framePosition(segment.number, frame.start))) {
      // A later copy of a block stored before: never kept by a rewrite.
      s.keep.push(0)
      s.deadBytes += frameBytes
      const key = keyOfBytes(w.subarray(o, o + frame.cidLength))
      let c = copies.get(key)
      if (c === undefined) {
        c = { first: undefined, later: [] }
        copies.set(key, c)
      }
      c.later.push({ segment: segment.number, offset: frame.start, hi, lo, length })
      continue
    }
    s.entries.push(hi, lo, segment.number, frame.start, length)
    if (live(CID.decode(w.slice(o, o + frame.cidLength)))) {
      s.keep.push(1)
      s.liveFrames++
      s.liveBytes += frameBytes
      continue
    }
    s.keep.push(0)
    s.deadBlocks++
    s.deadBytes += frameBytes
    if (skip.size > 0) {
      const key = keyOfBytes(w.subarray(o, o + frame.cidLength))
      const c = copies.get(key)
      if (c === undefined) copies.set(key, { first: { segment: segment.number, offset: frame.start }, later: [] })
      else c.first = { segment: segment.number, offset: frame.start }
    }
  }
  const body = segment.size - CAR_HEADER.length
  const last = segment.number === target.segments.list.length
  s.newSize = CAR_HEADER.length + s.liveBytes + encodeRecordFrame(target.heads, s.liveFrames, s.liveBytes).length + (last ? encodeRecordFrame(target.heads, 0, 0).length : 0)
  s.rewrite = s.deadBytes > 0 && s.deadBytes >= minDeadRatio * body && s.newSize < segment.size
  return s
}

/**
 * Later copies that must become the indexed copy: those of a dead block whose indexed copy a
 * rewrite drops, the first of them in a segment that is kept (later copies in rewritten
 * segments go too). Without this, a reopen that scans would index that copy while the engine
 * that compacted hides it.
 */
function laterCopiesToIndex(copies: ReadonlyMap<string, Copies>, rewritten: ReadonlySet<number>): Copies['later'] {
  const out: Copies['later'] = []
  for (const c of copies.values()) {
    if (c.first === undefined || !rewritten.has(c.first.segment)) continue
    const survivor = c.later.find((copy) => !rewritten.has(copy.segment))
    if (survivor !== undefined) out.push(survivor)
  }
  return out
}

/** Writes the kept frames of `s` and its record(s) to a temporary file beside the segment, synced. */
async function rewrite(target: CompactTarget, s: SegmentSurvey): Promise<Rewritten> {
  const { segments, gate } = target
  const segment = s.segment
  const temp = tempName(segment.file)
  let fh: FileHandle
  try {
    fh = await open(temp, 'wx+')
  } catch (cause) {
    throw storageError(`cannot create ${temp}`, cause, temp)
  }
  try {
    const entries = new EntryColumns()
    const buffer = new Uint8Array(WRITE_CHUNK)
    let used = 0
    let at = 0 // file offset of buffer[0]
    const put = async (bytes: Uint8Array): Promise<void> => {
      if (used + bytes.length > buffer.length) {
        await writeFully(fh, buffer.subarray(0, used), at)
        at += used
        used = 0
      }
      if (bytes.length > buffer.length) {
        await writeFully(fh, bytes, at)
        at += bytes.length
        return
      }
      buffer.set(bytes, used)
      used += bytes.length
    }
    await put(CAR_HEADER)
    let i = 0
    let frames = 0
    let bytes = 0
    for await (const { reader, frame } of segments.blockFrames(segment, segment.size)) {
      if (s.keep[i++] !== 1) continue
      gate.check()
      const w = reader.window
      const o = reader.locate(frame.cidOffset, frame.cidLength)
      entries.push(keyHi(w, o, o + frame.cidLength), keyLo(w, o, o + frame.cidLength), segment.number, at + used, frame.cidLength + frame.dataLength)
      await put(await frameBytes(reader, frame.start, frame.end - frame.start, segment, gate))
      frames++
      bytes += frame.end - frame.start
    }
    if (frames !== s.liveFrames || bytes !== s.liveBytes) {
      throw new CairnError('CAIRN_STORAGE', `${segment.file} changed while it was being compacted`, { file: segment.file })
    }
    const records = [encodeRecordFrame(target.heads, frames, bytes)]
    if (segment.number === segments.list.length) records.push(encodeRecordFrame(target.heads, 0, 0))
    let lastRecord: Cover | undefined
    for (const record of records) {
      lastRecord = { segment: segment.number, recordStart: at + used, end: at + used + record.length, recordDigest: sha256Sync(record).digest }
      await put(record)
    }
    await writeFully(fh, buffer.subarray(0, used), at)
    const size = at + used
    if (size !== s.newSize) throw new CairnError('CAIRN_STORAGE', `compacting ${segment.file} wrote ${size} bytes, expected ${s.newSize}`, { file: segment.file })
    await fh.sync()
    return { survey: s, temp, fh, size, entries, lastRecord: lastRecord! }
  } catch (cause) {
    await fh.close().catch(() => {})
    await unlink(temp).catch(() => {})
    throw cause instanceof CairnError ? cause : storageError(`cannot write ${temp}`, cause, temp)
  }
}

/** The bytes [pos, pos + n) of a segment through its reader (a view: copied by the caller's write buffer or written at once). */
async function frameBytes(reader: WindowReader, pos: number, n: number, segment: Segment, gate: Gate): Promise<Uint8Array> {
  return reader.peek(pos, n) ?? (await gate.guard(async () => (await reader.view(pos, n))!, `cannot read ${segment.file}`, segment.file))
}
