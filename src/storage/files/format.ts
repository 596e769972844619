// On-disk format of the files engine: CARv1 segments whose frames are blocks and commit records.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { varint } from 'multiformats'
import type { FileHandle } from 'node:fs/promises'
import type { BlockRecord } from '../../block/interface.ts'
import { equalBytes } from '../../block/codec.ts'
import { DAG_CBOR } from '../../block/interface.ts'

/** Multihash code of the identity "hash": commit records and only commit records use it. */
export const IDENTITY: 0x00 = 0x00

/** A frame longer than this is never written, and reading one means the bytes are not a frame. */
export const MAX_FRAME: number = 256 * 1024 * 1024

/** Every segment starts with these bytes: a CARv1 header `{ version: 1, roots: [] }`. */
export const CAR_HEADER: Uint8Array = (() => {
  const header = dagCbor.encode({ version: 1, roots: [] })
  const out = new Uint8Array(varint.encodingLength(header.length) + header.length)
  varint.encodeTo(header.length, out, 0)
  out.set(header, out.length - header.length)
  return out
})()

/** What a commit record says: the heads after the commit and the block frames just before it. */
export interface CommitRecord {
  readonly heads: CID[]
  /** Number of block frames between the previous record (or the header) and this one. */
  readonly blocks: number
  /** Byte length of those block frames, varint prefixes included. */
  readonly bytes: number
}

/** Where a committed block's bytes sit, relative to the start of the encoded commit. */
export interface EncodedBlock {
  readonly cid: CID
  readonly offset: number
  readonly length: number
}

export interface EncodedCommit {
  /** Block frames then the record frame. */
  readonly buffer: Uint8Array
  readonly blocks: EncodedBlock[]
}

/** Builds the single buffer of one commit: a frame per block, then the record frame. */
export function encodeCommit(blocks: readonly BlockRecord[], heads: readonly CID[]): EncodedCommit {
  let blockBytes = 0
  for (const b of blocks) {
    const len = b.cid.bytes.length + b.bytes.length
    blockBytes += varint.encodingLength(len) + len
  }
  const payload = dagCbor.encode({ heads: [...heads], blocks: blocks.length, bytes: blockBytes })
  const recordCid = CID.createV1(DAG_CBOR, Digest.create(IDENTITY, payload))
  const recordLen = recordCid.bytes.length + payload.length
  const buffer = new Uint8Array(blockBytes + varint.encodingLength(recordLen) + recordLen)
  let pos = 0
  const placed: EncodedBlock[] = []
  for (const b of blocks) {
    const len = b.cid.bytes.length + b.bytes.length
    varint.encodeTo(len, buffer, pos)
    pos += varint.encodingLength(len)
    buffer.set(b.cid.bytes, pos)
    pos += b.cid.bytes.length
    buffer.set(b.bytes, pos)
    placed.push({ cid: b.cid, offset: pos, length: b.bytes.length })
    pos += b.bytes.length
  }
  varint.encodeTo(recordLen, buffer, pos)
  pos += varint.encodingLength(recordLen)
  buffer.set(recordCid.bytes, pos)
  buffer.set(payload, pos + recordCid.bytes.length)
  return { buffer, blocks: placed }
}

/** Unsigned LEB128 at `offset`: [value, length], or undefined when cut short or beyond 2^53. */
export function readVarint(bytes: Uint8Array, offset: number): [number, number] | undefined {
  let value = 0
  let scale = 1
  for (let i = 0; i < 8; i++) {
    const b = bytes[offset + i]
    if (b === undefined) return undefined
    value += (b & 0x7f) * scale
    if ((b & 0x80) === 0) return [value, i + 1]
    scale *= 128
  }
  return undefined
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

  /** Bytes [pos, pos + n), or undefined when that runs past the end of the file. The view is reused: copy to keep. */
  async view(pos: number, n: number): Promise<Uint8Array | undefined> {
    if (pos < 0 || n < 0 || pos + n > this.size) return undefined
    if (pos >= this.#at && pos + n <= this.#at + this.#buf.length) return this.#buf.subarray(pos - this.#at, pos - this.#at + n)
    const want = Math.min(Math.max(n, WindowReader.CHUNK), this.size - pos)
    const buf = new Uint8Array(want)
    await readFully(this.#fh, buf, pos)
    this.#buf = buf
    this.#at = pos
    return buf.subarray(0, n)
  }
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

/** One parsed frame, or the reason the bytes at `start` are not one. */
export type Frame =
  | { readonly kind: 'block'; readonly start: number; readonly end: number; readonly cid: CID; readonly dataOffset: number; readonly dataLength: number }
  | { readonly kind: 'record'; readonly start: number; readonly end: number; readonly record: CommitRecord }
  | { readonly kind: 'bad'; readonly start: number; readonly reason: string }

interface CidHeader {
  /** Bytes of the CID before its digest. */
  readonly prefixLength: number
  readonly codec: number
  readonly hashCode: number
  readonly digestLength: number
}

function readCidHeader(bytes: Uint8Array): CidHeader | undefined {
  // CIDv0: a bare sha2-256 multihash.
  if (bytes[0] === 0x12 && bytes[1] === 0x20) return { prefixLength: 2, codec: 0x70, hashCode: 0x12, digestLength: 32 }
  let pos = 0
  const fields: number[] = []
  for (let i = 0; i < 4; i++) {
    const v = readVarint(bytes, pos)
    if (v === undefined) return undefined
    fields.push(v[0])
    pos += v[1]
  }
  if (fields[0] !== 1) return undefined
  return { prefixLength: pos, codec: fields[1]!, hashCode: fields[2]!, digestLength: fields[3]! }
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
  const bad = (reason: string): Frame => ({ kind: 'bad', start: pos, reason })
  const head = await reader.view(pos, Math.min(64, reader.size - pos))
  if (head === undefined) return bad('cut short')
  const lenField = readVarint(head, 0)
  if (lenField === undefined) return bad('unreadable frame length')
  const [len, lenBytes] = lenField
  if (len < 2 || len > MAX_FRAME) return bad(`impossible frame length ${len}`)
  const contentStart = pos + lenBytes
  const end = contentStart + len
  if (end > reader.size) return bad(`frame of ${len} bytes runs past the end of the file`)
  const header = readCidHeader(head.subarray(lenBytes))
  if (header === undefined) return bad('unreadable CID')
  const cidLength = header.prefixLength + header.digestLength
  if (cidLength > len) return bad('CID longer than its frame')
  if (header.hashCode === IDENTITY) {
    const content = await reader.view(contentStart, len)
    const record = content === undefined ? undefined : decodeRecord(content, header)
    if (record === undefined) return bad('malformed commit record')
    return { kind: 'record', start: pos, end, record }
  }
  const cidBytes = await reader.view(contentStart, cidLength)
  if (cidBytes === undefined) return bad('cut short')
  let cid: CID
  try {
    cid = CID.decode(cidBytes.slice())
  } catch {
    return bad('unreadable CID')
  }
  return { kind: 'block', start: pos, end, cid, dataOffset: contentStart + cidLength, dataLength: len - cidLength }
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
    const n = readVarint(bytes, q + 3)
    if (n === undefined) continue
    const prefixLength = 3 + n[1]
    const len = prefixLength + 2 * n[0]
    if (q + len > bytes.length) continue
    const lenBytes = varint.encodingLength(len)
    const start = q - lenBytes
    if (start < 0) continue
    const lenField = readVarint(bytes, start)
    if (lenField === undefined || lenField[0] !== len || lenField[1] !== lenBytes) continue
    const record = decodeRecord(bytes.subarray(q, q + len), { prefixLength, codec: DAG_CBOR, hashCode: IDENTITY, digestLength: n[0] })
    if (record === undefined) continue
    found.push({ start: base + start, end: base + q + len, record })
  }
  return found
}
