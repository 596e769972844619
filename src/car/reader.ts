import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'
import { cidFromBytes } from '../block/codec.ts'
import { SHA2_256 } from '../block/interface.ts'
import type { BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { ByteSource } from './interface.ts'
import { chunksOf } from './source.ts'

/** Limits a CAR reader enforces before it buffers anything. */
export interface CarReadLimits {
  /** Largest block (CID + bytes) in a frame. */
  maxBlockBytes: number
  /** Largest whole CAR. */
  maxBytes: number
}

/**
 * A block as the reader hands it over: its CID (bytes of its own) and its bytes, which may be a
 * view into a chunk of the source (`owned` false), valid as long as the source leaves that
 * chunk alone: a consumer copies what it keeps.
 */
export interface CarFrame extends BlockRecord {
  /** True when `bytes` were copied out of the source (a frame across chunks): the consumer may keep them as they are. */
  readonly owned: boolean
}

/** A CARv1 as it streams in: the roots, then the blocks. */
export interface CarStream {
  roots: CID[]
  blocks: AsyncGenerator<CarFrame>
  /** Bytes of the CAR read so far (header and frames whole). */
  readonly consumed: number
}

const MAX_HEADER = 64 * 1024
const EMPTY = new Uint8Array(0)

function bad(message: string): CairnError {
  return new CairnError('CAIRN_INVALID_CAR', message)
}

/** Pulls exact byte counts out of a chunk stream, holding no more than the frame it reads. */
class ByteQueue {
  readonly #source: AsyncIterator<Uint8Array>
  /** Buffered chunks; slots before #head are spent and emptied, so a spent chunk is not kept alive. */
  #chunks: Uint8Array[] = []
  /** Index of the first unread chunk: chunks before it are spent (Array.shift would make tiny chunks quadratic). */
  #head = 0
  #buffered = 0
  #done = false
  consumed = 0

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]()
  }

  /** Buffers at least `n` bytes; false if the stream ends first. */
  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n && !this.#done) {
      const next = await this.#source.next()
      if (next.done === true) {
        this.#done = true
        break
      }
      if (next.value.length > 0) {
        if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
          this.#chunks = this.#chunks.slice(this.#head)
          this.#head = 0
        }
        // A Node Buffer's views are Buffers, slower to make than plain ones: one plain view per chunk.
        const chunk = next.value
        this.#chunks.push(chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))
        this.#buffered += next.value.length
      }
    }
    return this.#buffered >= n
  }

  /** True at the clean end of the stream. */
  async atEnd(): Promise<boolean> {
    return !(await this.#fill(1))
  }

  async byte(): Promise<number | undefined> {
    if (!(await this.#fill(1))) return undefined
    return this.#take()
  }

  /** Drops the first chunk, read to its end. */
  #spend(): void {
    this.#chunks[this.#head++] = EMPTY
  }

  /** The next buffered byte (the caller made sure there is one). */
  #take(): number {
    const first = this.#chunks[this.#head]!
    const b = first[0]!
    if (first.length === 1) this.#spend()
    else this.#chunks[this.#head] = first.subarray(1)
    this.#buffered--
    this.consumed++
    return b
  }

  async exactly(n: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill(n))) return undefined
    const out = new Uint8Array(n)
    let at = 0
    while (at < n) {
      const first = this.#chunks[this.#head]!
      const take = Math.min(first.length, n - at)
      out.set(first.subarray(0, take), at)
      at += take
      if (take === first.length) this.#spend()
      else this.#chunks[this.#head] = first.subarray(take)
    }
    this.#buffered -= n
    this.consumed += n
    return out
  }

  /** Whether the bytes `view` returned last are a copy of their own. */
  owned = false

  /**
   * The next `n` bytes: a view into the first buffered chunk when it holds them all (no copy;
   * `owned` false), else a copy as `exactly` makes (`owned` true). Undefined if the stream ends first.
   */
  async view(n: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill(n))) return undefined
    const first = this.#chunks[this.#head]
    // No chunk buffered (a frame of no bytes at the end) or one too short: a copy.
    this.owned = first === undefined || first.length < n
    if (first === undefined || this.owned) return this.exactly(n)
    return this.#takeView(first, n)
  }

  /** Consumes the first `n` bytes of `first`, the first buffered chunk, and returns them as a view. */
  #takeView(first: Uint8Array, n: number): Uint8Array {
    const bytes = first.subarray(0, n)
    if (n === first.length) this.#spend()
    else this.#chunks[this.#head] = first.subarray(n)
    this.#buffered -= n
    this.consumed += n
    return bytes
  }

  /**
   * An unsigned LEB128 varint read synchronously when the first buffered chunk holds all of it
   * (the common case): its value, or -1 when it does not (nothing is consumed; use `varint`).
   */
  varintBuffered(): number {
    const first = this.#chunks[this.#head]
    if (first === undefined) return -1
    let value = 0
    for (let i = 0; i < 8 && i < first.length; i++) {
      const b = first[i]!
      value += (b & 0x7f) * 2 ** (7 * i)
      if ((b & 0x80) === 0) {
        this.#takeView(first, i + 1)
        return value
      }
    }
    return -1
  }

  /** `view` without awaiting when the first buffered chunk holds the `n` bytes; undefined when it does not. */
  viewBuffered(n: number): Uint8Array | undefined {
    const first = this.#chunks[this.#head]
    if (first === undefined || first.length < n) return undefined
    this.owned = false
    return this.#takeView(first, n)
  }

  /** An unsigned LEB128 varint; undefined at a clean end of stream. */
  async varint(): Promise<number | undefined> {
    let value = 0
    for (let shift = 0, i = 0; ; shift += 7, i++) {
      // Length prefixes are read byte by byte: without awaiting while bytes are buffered.
      const b = this.#buffered > 0 ? this.#take() : await this.byte()
      if (b === undefined) {
        if (i === 0) return undefined
        throw bad('the CAR ends inside a length prefix')
      }
      if (i >= 8) throw bad('a CAR length prefix is absurdly long')
      value += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) return value
    }
  }

  async return(): Promise<void> {
    await this.#source.return?.()
  }
}

/** Whether `frame` starts with the usual CID: v1, a one-byte codec, a 32-byte sha2-256 (36 bytes). */
function usualCid(frame: Uint8Array): boolean {
  return frame.length >= 36 && frame[0] === 1 && frame[1]! < 0x80 && frame[2] === SHA2_256 && frame[3] === 32
}

/** CID bytes are copied into slabs of this size (as cidFromBytes does). */
const CID_SLAB = 64 * 1024
let cidSlab = new Uint8Array(CID_SLAB)
let cidSlabAt = CID_SLAB

/**
 * The usual CID at the start of `frame` (see usualCid), on bytes of its own in a slab: what
 * cidFromBytes gives, built from the known layout without inspecting it.
 */
function copyUsualCid(frame: Uint8Array): CID {
  if (cidSlabAt + 36 > CID_SLAB) {
    cidSlab = new Uint8Array(CID_SLAB)
    cidSlabAt = 0
  }
  const view = cidSlab.subarray(cidSlabAt, cidSlabAt + 36)
  cidSlabAt += 36
  view.set(frame.subarray(0, 36))
  return new CID(1, view[1]!, new Digest(SHA2_256, 32, view.subarray(4), view.subarray(2)), view)
}

/** The CAR header's roots, after checking it is a CARv1 header within MAX_HEADER bytes. */
async function readHeader(q: ByteQueue): Promise<CID[]> {
  const headerLength = await q.varint()
  if (headerLength === undefined) throw bad('the CAR is empty')
  if (headerLength === 0 || headerLength > MAX_HEADER) throw bad(`the CAR header claims ${headerLength} bytes`)
  const headerBytes = await q.exactly(headerLength)
  if (headerBytes === undefined) throw bad('the CAR ends inside its header')
  let header: unknown
  try {
    header = dagCbor.decode(headerBytes)
  } catch (cause) {
    throw new CairnError('CAIRN_INVALID_CAR', `the CAR header is not dag-cbor: ${(cause as Error).message}`, { cause })
  }
  const h = header as { version?: unknown; roots?: unknown }
  if (h === null || typeof h !== 'object' || h.version !== 1) throw bad('only CARv1 archives are read')
  if (!Array.isArray(h.roots) || !h.roots.every((r) => CID.asCID(r) !== null)) throw bad('the CAR header roots must be a list of CIDs')
  return (h.roots as unknown[]).map((r) => CID.asCID(r)!)
}

/**
 * Reads a CARv1 as a stream. Unlike @ipld/car's readers, it refuses a frame longer than the
 * limit from its length prefix alone, before buffering it, and it never holds more than one
 * frame. It does not verify blocks: the importer does. A block's bytes may be a view into the
 * source's chunk (see CarFrame): the importer copies what it keeps, after it knows the block is
 * new (a repeated block is not copied at all).
 */
export async function readCar(source: ByteSource, limits: CarReadLimits): Promise<CarStream> {
  const q = new ByteQueue(chunksOf(source))
  let roots: CID[]
  try {
    roots = await readHeader(q)
  } catch (err) {
    await q.return() // a bad header ends the read: let the source go (a stream is cancelled)
    throw err
  }
  async function* blocks(): AsyncGenerator<CarFrame> {
    try {
      for (;;) {
        const start = q.consumed
        // Frames within the buffered chunk are read without awaiting (no promise per step).
        const buffered = q.varintBuffered()
        const length = buffered >= 0 ? buffered : await q.varint()
        if (length === undefined) return
        if (length > limits.maxBlockBytes + 128) {
          throw new CairnError('CAIRN_TOO_LARGE', `a CAR frame at byte ${start} claims ${length} bytes; the limit is ${limits.maxBlockBytes} per block`)
        }
        if (q.consumed + length > limits.maxBytes) {
          throw new CairnError('CAIRN_TOO_LARGE', `the CAR exceeds the ${limits.maxBytes}-byte import limit`)
        }
        const frame = q.viewBuffered(length) ?? (await q.view(length))
        if (frame === undefined) throw bad(`the CAR ends inside the frame at byte ${start}`)
        let cid: CID
        let bytes: Uint8Array
        try {
          // The CID gets bytes of its own (cidFromBytes): one sharing the frame's buffer would keep
          // the whole block alive for as long as the CID lives, long after a staged block's bytes went.
          const usual = usualCid(frame)
          const size = usual ? 36 : CID.inspectBytes(frame).size
          cid = usual ? copyUsualCid(frame) : cidFromBytes(frame, 0, size)
          bytes = frame.subarray(size)
        } catch (cause) {
          throw new CairnError('CAIRN_INVALID_CAR', `the frame at byte ${start} does not start with a CID`, { cause })
        }
        // A CIDv0 is a bare sha2-256 multihash (0x12 0x20 …); `0x00 codec multihash` is no CID at all.
        if (cid.version === 0 && frame[0] !== 0x12) {
          throw new CairnError('CAIRN_INVALID_CAR', `the frame at byte ${start} starts with an explicit version 0, which is not a CID`)
        }
        if (bytes.length > limits.maxBlockBytes) {
          throw new CairnError('CAIRN_TOO_LARGE', `block ${cid} has ${bytes.length} bytes; the limit is ${limits.maxBlockBytes}`, { cid })
        }
        yield { cid, bytes, owned: q.owned }
      }
    } finally {
      await q.return()
    }
  }
  return {
    roots,
    blocks: blocks(),
    get consumed() {
      return q.consumed
    },
  }
}
