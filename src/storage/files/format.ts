// On-disk format of the files engine: CARv1 segments whose frames are blocks and commit records.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { varint } from 'multiformats'
import type { FileHandle } from 'node:fs/promises'
import type { BlockRecord } from '../../block/interface.ts'
import { carHeader, frameLength, writeFrame } from '../../car/writer.ts'
import { readFully } from '../../fs/durable.ts'
import { equalBytes } from '../../block/codec.ts'
import { DAG_CBOR } from '../../block/interface.ts'

/** Multihash code of the identity "hash": commit records and only commit records use it. */
export const IDENTITY: 0x00 = 0x00

/** A frame longer than this is never written, and reading one means the bytes are not a frame. */
export const MAX_FRAME: number = 256 * 1024 * 1024

/** Every segment starts with these bytes: a CARv1 header `{ version: 1, roots: [] }`. */
export const CAR_HEADER: Uint8Array = carHeader([])

/** What a commit record says: the heads after the commit and the block frames just before it. */
export interface CommitRecord {
  readonly heads: CID[]
  /** Number of block frames between the previous record (or the header) and this one. */
  readonly blocks: number
  /** Byte length of those block frames, varint prefixes included. */
  readonly bytes: number
}

/** Where a committed block sits, relative to the start of the encoded commit. */
export interface EncodedBlock {
  readonly cid: CID
  /** Start of the block's frame (its length varint). */
  readonly start: number
  /** The frame's content length (the varint's value): CID bytes plus block bytes. */
  readonly frameLength: number
  /** Start of the block's bytes. */
  readonly offset: number
  readonly length: number
}

export interface EncodedCommit {
  /** Block frames then the record frame. */
  readonly buffer: Uint8Array
  readonly blocks: EncodedBlock[]
  /** Where the record frame starts in `buffer` (it runs to the end). */
  readonly recordOffset: number
}

/** Bytes of a CBOR head (major type and argument) for the argument `n`. */
const cborHeadLength = (n: number): number => (n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9)

/** Writes a CBOR head (major type `major`, argument `n`, a safe integer ≥ 0) at `at`; returns where it ends. */
function writeCborHead(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5
  if (n < 24) {
    out[at] = m | n
    return at + 1
  }
  if (n < 0x100) {
    out[at] = m | 24
    out[at + 1] = n
    return at + 2
  }
  if (n < 0x10000) {
    out[at] = m | 25
    out[at + 1] = n >>> 8
    out[at + 2] = n & 0xff
    return at + 3
  }
  if (n < 0x100000000) {
    out[at] = m | 26
    out[at + 1] = n >>> 24
    out[at + 2] = (n >>> 16) & 0xff
    out[at + 3] = (n >>> 8) & 0xff
    out[at + 4] = n & 0xff
    return at + 5
  }
  out[at] = m | 27
  const hi = Math.floor(n / 0x100000000)
  out[at + 1] = hi >>> 24
  out[at + 2] = (hi >>> 16) & 0xff
  out[at + 3] = (hi >>> 8) & 0xff
  out[at + 4] = hi & 0xff
  const lo = n >>> 0
  out[at + 5] = lo >>> 24
  out[at + 6] = (lo >>> 16) & 0xff
  out[at + 7] = (lo >>> 8) & 0xff
  out[at + 8] = lo & 0xff
  return at + 9
}

// The record's keys as dag-cbor orders them (shorter first, then bytewise), each a CBOR text string.
const KEY_BYTES = Uint8Array.of(0x65, 0x62, 0x79, 0x74, 0x65, 0x73) // "bytes"
const KEY_HEADS = Uint8Array.of(0x65, 0x68, 0x65, 0x61, 0x64, 0x73) // "heads"
const KEY_BLOCKS = Uint8Array.of(0x66, 0x62, 0x6c, 0x6f, 0x63, 0x6b, 0x73) // "blocks"

/** Bytes of the dag-cbor payload `{ heads, blocks, bytes }` of a record. */
function recordPayloadLength(heads: readonly CID[], blocks: number, bytes: number): number {
  let n = 1 + KEY_BYTES.length + cborHeadLength(bytes) + KEY_HEADS.length + cborHeadLength(heads.length) + KEY_BLOCKS.length + cborHeadLength(blocks)
  // Each head: tag 42, then a byte string of 0x00 and the CID's bytes.
  for (const h of heads) n += 2 + cborHeadLength(h.bytes.length + 1) + 1 + h.bytes.length
  return n
}

/** Bytes of the record frame (length varint included) for a payload of `payload` bytes. */
function recordFrameLengthOf(payload: number): number {
  const content = 3 + varint.encodingLength(payload) + 2 * payload
  return varint.encodingLength(content) + content
}

/** Bytes of the record frame {@link encodeRecordFrame} makes. */
export function recordFrameLength(heads: readonly CID[], blocks: number, bytes: number): number {
  return recordFrameLengthOf(recordPayloadLength(heads, blocks, bytes))
}

/**
 * Writes the record frame of a commit of `blocks` block frames, `bytes` long together, leaving
 * `heads`, at `out[at]` (it must have room for {@link recordFrameLength}); returns where it
 * ends. The bytes are those of `varint ‖ CID(dag-cbor, identity of payload) ‖ payload` with the
 * payload `@ipld/dag-cbor.encode({ heads, blocks, bytes })`, encoded here directly (a spec
 * compares them): the generic encoder cost more per commit than the rest of the commit's CPU.
 */
export function writeRecordFrame(out: Uint8Array, at: number, heads: readonly CID[], blocks: number, bytes: number): number {
  const payload = recordPayloadLength(heads, blocks, bytes)
  const content = 3 + varint.encodingLength(payload) + 2 * payload
  varint.encodeTo(content, out, at)
  at += varint.encodingLength(content)
  // The record's CID: v1, dag-cbor, identity multihash of the payload (the digest is the payload).
  out[at++] = 0x01
  out[at++] = DAG_CBOR
  out[at++] = IDENTITY
  varint.encodeTo(payload, out, at)
  at += varint.encodingLength(payload)
  const start = at
  out[at++] = 0xa3 // a map of 3
  out.set(KEY_BYTES, at)
  at = writeCborHead(out, at + KEY_BYTES.length, 0, bytes)
  out.set(KEY_HEADS, at)
  at = writeCborHead(out, at + KEY_HEADS.length, 4, heads.length)
  for (const h of heads) {
    const cid = h.bytes
    out[at++] = 0xd8 // tag 42: a CID
    out[at++] = 42
    at = writeCborHead(out, at, 2, cid.length + 1)
    out[at++] = 0x00
    out.set(cid, at)
    at += cid.length
  }
  out.set(KEY_BLOCKS, at)
  at = writeCborHead(out, at + KEY_BLOCKS.length, 0, blocks)
  // The payload again, as the CID's digest was written before it: frame = CID ‖ payload.
  out.copyWithin(at, start, at)
  return at + (at - start)
}

/** The record frame (length varint included) of a commit of `blocks` block frames, `bytes` long together, leaving `heads`. */
export function encodeRecordFrame(heads: readonly CID[], blocks: number, bytes: number): Uint8Array {
  const frame = new Uint8Array(recordFrameLength(heads, blocks, bytes))
  writeRecordFrame(frame, 0, heads, blocks, bytes)
  return frame
}

/** Builds the single buffer of one commit: a frame per block, then the record frame. */
export function encodeCommit(blocks: readonly BlockRecord[], heads: readonly CID[]): EncodedCommit {
  let blockBytes = 0
  for (const b of blocks) blockBytes += frameLength(b)
  const buffer = new Uint8Array(blockBytes + recordFrameLength(heads, blocks.length, blockBytes))
  let pos = 0
  const placed: EncodedBlock[] = []
  for (const b of blocks) {
    const start = pos
    pos = writeFrame(buffer, pos, b)
    placed.push({ cid: b.cid, start, frameLength: b.cid.bytes.length + b.bytes.length, offset: pos, length: b.bytes.length })
    pos += b.bytes.length
  }
  const recordOffset = pos
  writeRecordFrame(buffer, pos, heads, blocks.length, blockBytes)
  return { buffer, blocks: placed, recordOffset }
}

/** Reads windows of one file, so a scan costs one read per MiB rather than per frame. */
export class WindowReader {
  readonly size: number
  readonly #fh: FileHandle
  #buf: Uint8Array = new Uint8Array(0)
  #at = 0
  static readonly CHUNK: number = 1024 * 1024

  constructor(fh: FileHandle, size: number) {
    this.#fh = fh
    this.size = size
  }

  /** The current window's bytes; index them with {@link locate}. */
  get window(): Uint8Array {
    return this.#buf
  }

  /** Index in {@link window} of file offset `pos` if the window holds [pos, pos + n), else -1. No I/O. */
  locate(pos: number, n: number): number {
    return pos < this.#at || pos + n > this.#at + this.#buf.length ? -1 : pos - this.#at
  }

  /** Bytes [pos, pos + n) if the current window holds them (no I/O), else undefined. */
  peek(pos: number, n: number): Uint8Array | undefined {
    if (pos < this.#at || pos + n > this.#at + this.#buf.length) return undefined
    return this.#buf.subarray(pos - this.#at, pos - this.#at + n)
  }

  /** Bytes [pos, pos + n), or undefined when that runs past the end of the file. Views stay valid; copy to keep small parts of large ones. */
  async view(pos: number, n: number): Promise<Uint8Array | undefined> {
    if (pos < 0 || n < 0 || pos + n > this.size) return undefined
    const hit = this.peek(pos, n)
    if (hit !== undefined) return hit
    const want = Math.min(Math.max(n, WindowReader.CHUNK), this.size - pos)
    const buf = new Uint8Array(want)
    await readFully(this.#fh, buf, pos)
    this.#buf = buf
    this.#at = pos
    return buf.subarray(0, n)
  }
}

/** A parsed block frame. Its CID is given by position, not as a CID: building CIDs (or strings) dominated scans. */
export interface BlockFrame {
  readonly kind: 'block'
  readonly start: number
  readonly end: number
  /** File offset of the CID's bytes; the reader's window holds them right after the parse. */
  readonly cidOffset: number
  readonly cidLength: number
  /** Multihash code and digest length of the CID (the digest is its last `digestLength` bytes). */
  readonly hashCode: number
  readonly digestLength: number
  readonly dataOffset: number
  readonly dataLength: number
}

/** One parsed frame, or the reason the bytes at `start` are not one. */
export type Frame = BlockFrame | { readonly kind: 'record'; readonly start: number; readonly end: number; readonly record: CommitRecord } | { readonly kind: 'bad'; readonly start: number; readonly reason: string }

/** The index key of CID bytes: one char per byte (a compact one-byte string in V8). */
export function keyOfBytes(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[])
}

interface CidHeader {
  /** Bytes of the CID before its digest. */
  readonly prefixLength: number
  readonly codec: number
  readonly hashCode: number
  readonly digestLength: number
}

// Scratch results of the allocation-free readers below (the scan runs once per frame).
let varintLength = 0
let cidPrefix = 0
let cidCodec = 0
let cidHash = 0
let cidDigest = 0

/**
 * Unsigned LEB128 varint at `buf[o]`, not reading at or past `limit`; -1 when cut short or
 * beyond 2^53. Sets `varintLength` (module scratch: no tuple allocated per call, as gets
 * and scans call this for every frame).
 */
export function varintAt(buf: Uint8Array, o: number, limit: number): number {
  let value = 0
  let scale = 1
  for (let i = 0; i < 8 && o + i < limit; i++) {
    const b = buf[o + i]!
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) {
      varintLength = i + 1
      return value
    }
    scale *= 128
  }
  return -1
}

/** Reads a CID's header at `buf[o]` into the cid* scratch variables; false when it is not a CIDv0/v1. */
function cidHeaderAt(buf: Uint8Array, o: number, limit: number): boolean {
  if (o + 1 < limit && buf[o] === 0x12 && buf[o + 1] === 0x20) {
    // CIDv0: a bare sha2-256 multihash.
    cidPrefix = 2
    cidCodec = 0x70
    cidHash = 0x12
    cidDigest = 32
    return true
  }
  let p = o
  if (varintAt(buf, p, limit) !== 1) return false
  p += varintLength
  cidCodec = varintAt(buf, p, limit)
  if (cidCodec < 0) return false
  p += varintLength
  cidHash = varintAt(buf, p, limit)
  if (cidHash < 0) return false
  p += varintLength
  cidDigest = varintAt(buf, p, limit)
  if (cidDigest < 0) return false
  cidPrefix = p + varintLength - o
  return true
}

/** Parses the record inside a frame's content (CID bytes then payload); undefined unless well formed. */
export function decodeRecord(content: Uint8Array, header: CidHeader): CommitRecord | undefined {
  const cidLength = header.prefixLength + header.digestLength
  if (header.codec !== DAG_CBOR || header.hashCode !== IDENTITY || cidLength + header.digestLength !== content.length) return undefined
  const digest = content.subarray(header.prefixLength, cidLength)
  const payload = content.subarray(cidLength)
  if (!equalBytes(digest, payload)) return undefined
  let value: unknown
  try {
    value = dagCbor.decode(payload)
  } catch {
    return undefined
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const { heads, blocks, bytes, ...rest } = value as Record<string, unknown>
  if (Object.keys(rest).length > 0 || !Array.isArray(heads)) return undefined
  if (!isCount(blocks) || !isCount(bytes)) return undefined
  const cids: CID[] = []
  for (const h of heads) {
    const cid = CID.asCID(h)
    if (cid === null) return undefined
    cids.push(cid)
  }
  return { heads: cids, blocks, bytes }
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/** Parses the frame at `pos`. Never throws for bad bytes: it returns `{ kind: 'bad' }`. */
export async function parseFrame(reader: WindowReader, pos: number): Promise<Frame> {
  const first = parseWindowed(reader, pos)
  if (typeof first !== 'number') return first
  // Not all in the current window: load from `pos` and parse again.
  if ((await reader.view(pos, Math.min(first, reader.size - pos))) === undefined) return { kind: 'bad', start: pos, reason: 'cut short' }
  const second = parseWindowed(reader, pos)
  return typeof second === 'number' ? { kind: 'bad', start: pos, reason: 'cut short' } : second
}

/**
 * Parses the frame at `pos` from the reader's current window, without I/O; undefined when the
 * window does not hold enough of it (then use {@link parseFrame}). Scans call this first: an
 * await per frame cost more than the parse.
 */
export function parseFrameInWindow(reader: WindowReader, pos: number): Frame | undefined {
  const frame = parseWindowed(reader, pos)
  return typeof frame === 'number' ? undefined : frame
}

const badFrame = (start: number, reason: string): Frame => ({ kind: 'bad', start, reason })

/** Parses from the reader's current window without I/O; a number means "need this many bytes from pos". */
function parseWindowed(reader: WindowReader, pos: number): Frame | number {
  const headLength = Math.min(64, reader.size - pos)
  const o = reader.locate(pos, headLength)
  if (o < 0) return headLength
  const buf = reader.window
  const limit = o + headLength
  const len = varintAt(buf, o, limit)
  if (len < 0) return badFrame(pos, 'unreadable frame length')
  const lenBytes = varintLength
  if (len < 2 || len > MAX_FRAME) return badFrame(pos, `impossible frame length ${len}`)
  const contentStart = pos + lenBytes
  const end = contentStart + len
  if (end > reader.size) return badFrame(pos, `frame of ${len} bytes runs past the end of the file`)
  if (!cidHeaderAt(buf, o + lenBytes, limit)) return badFrame(pos, 'unreadable CID')
  const cidLength = cidPrefix + cidDigest
  if (cidLength > len) return badFrame(pos, 'CID longer than its frame')
  if (cidHash === IDENTITY) {
    const header: CidHeader = { prefixLength: cidPrefix, codec: cidCodec, hashCode: cidHash, digestLength: cidDigest }
    const content = reader.peek(contentStart, len)
    if (content === undefined) return lenBytes + len
    const record = decodeRecord(content, header)
    if (record === undefined) return badFrame(pos, 'malformed commit record')
    return { kind: 'record', start: pos, end, record }
  }
  if (reader.locate(contentStart, cidLength) < 0) return lenBytes + cidLength
  return {
    kind: 'block',
    start: pos,
    end,
    cidOffset: contentStart,
    cidLength,
    hashCode: cidHash,
    digestLength: cidDigest,
    dataOffset: contentStart + cidLength,
    dataLength: len - cidLength,
  }
}

/** A well-formed commit record frame found by searching bytes rather than by walking frames. */
export interface FoundRecord {
  readonly start: number
  readonly end: number
  readonly record: CommitRecord
}

const RECORD_CID_PREFIX = [0x01, DAG_CBOR, IDENTITY] as const

/**
 * Every well-formed commit record frame inside `bytes` (which start at file offset `base`).
 * A record frame is recognisable anywhere: `varint | 01 71 00 varint(n) | payload(n) | payload(n)`,
 * with the payload a dag-cbor `{ heads, blocks, bytes }`.
 */
export function findRecords(bytes: Uint8Array, base: number): FoundRecord[] {
  const found: FoundRecord[] = []
  let from = 0
  for (;;) {
    const q = bytes.indexOf(RECORD_CID_PREFIX[0], from)
    if (q < 0) break
    from = q + 1
    if (bytes[q + 1] !== RECORD_CID_PREFIX[1] || bytes[q + 2] !== RECORD_CID_PREFIX[2]) continue
    const digestLength = varintAt(bytes, q + 3, bytes.length)
    if (digestLength < 0) continue
    const prefixLength = 3 + varintLength
    const len = prefixLength + 2 * digestLength
    if (q + len > bytes.length) continue
    const lenBytes = varint.encodingLength(len)
    const start = q - lenBytes
    if (start < 0) continue
    if (varintAt(bytes, start, bytes.length) !== len || varintLength !== lenBytes) continue
    const record = decodeRecord(bytes.subarray(q, q + len), { prefixLength, codec: DAG_CBOR, hashCode: IDENTITY, digestLength })
    if (record === undefined) continue
    found.push({ start: base + start, end: base + q + len, record })
  }
  return found
}
