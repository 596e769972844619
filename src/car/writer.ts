import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import { varint } from 'multiformats'

/** The CAR leaves in chunks of this size (the last may be smaller, a large block's rest larger). */
const CHUNK_BYTES = 64 * 1024

/** The CARv1 header: varint(length) ‖ dag-cbor `{ roots, version: 1 }`, as @ipld/car writes it. */
export function carHeader(roots: readonly CID[]): Uint8Array {
  const header = dagCbor.encode({ version: 1, roots: [...roots] })
  const out = new Uint8Array(varint.encodingLength(header.length) + header.length)
  varint.encodeTo(header.length, out, 0)
  out.set(header, out.length - header.length)
  return out
}

/** Bytes of a block's CARv1 frame: varint(length of CID and bytes) ‖ CID bytes ‖ block bytes. */
export function frameLength(block: BlockRecord): number {
  const length = block.cid.bytes.length + block.bytes.length
  return varint.encodingLength(length) + length
}

/** Writes a block's frame into `out` at `at`; returns where its bytes start (the frame ends after them). */
export function writeFrame(out: Uint8Array, at: number, block: BlockRecord): number {
  const cidBytes = block.cid.bytes
  const length = cidBytes.length + block.bytes.length
  varint.encodeTo(length, out, at)
  at += varint.encodingLength(length)
  out.set(cidBytes, at)
  at += cidBytes.length
  out.set(block.bytes, at)
  return at
}

/**
 * Streams a CARv1 of `blocks` under `roots`: the header, then one frame per block —
 * varint(length of CID and bytes) ‖ CID bytes ‖ block bytes — as a byte stream cut into
 * chunks of 64 KiB (the last may be smaller; a frame may go on over several). A block of
 * 64 KiB or more fills up the chunk it starts in and its rest leaves as a chunk of its own,
 * a view of the block's bytes (as CarWriter hands out blocks): consumers must not write into
 * chunks. The same bytes as @ipld/car's CarWriter (a test compares them), written here
 * because handing each block to CarWriter cost an await and two small copies per block, most
 * of an export's time. Pull-based: blocks are read from `blocks` only as the consumer takes
 * chunks, so memory does not grow with the archive. An error from `blocks` ends the stream
 * with it.
 */
export async function* writeCar(roots: readonly CID[], blocks: AsyncIterable<BlockRecord>): AsyncGenerator<Uint8Array> {
  const chunks = new CarChunks(roots)
  for await (const block of blocks) {
    chunks.add(block)
    if (chunks.full.length > 0) yield* chunks.take()
  }
  yield* chunks.end()
}

/**
 * {@link writeCar} over blocks that come in batches (the same bytes as writeCar over the
 * batches' blocks in order): one await per batch instead of one per block, which over
 * thousands of small blocks is most of the writer's time.
 */
export async function* writeCarBatches(roots: readonly CID[], batches: AsyncIterable<readonly BlockRecord[]>): AsyncGenerator<Uint8Array> {
  const chunks = new CarChunks(roots)
  for await (const batch of batches) {
    for (const block of batch) chunks.add(block)
    if (chunks.full.length > 0) yield* chunks.take()
  }
  yield* chunks.end()
}

/**
 * A CAR as a byte stream written into 64 KiB chunks: frames are copied straight into the chunk
 * being filled (a frame that does not fit goes on in the next), and a chunk is set aside in
 * `full` the moment it is full; most of a large block is set aside as it is. Chunks of a fixed
 * size allocate no more than the bytes they copy.
 */
class CarChunks {
  /** Chunks filled and not yet taken. */
  full: Uint8Array[] = []
  #chunk = new Uint8Array(CHUNK_BYTES)
  #at = 0

  constructor(roots: readonly CID[]) {
    this.#write(carHeader(roots))
  }

  /** Writes the block's frame. */
  add(block: BlockRecord): void {
    const cid = block.cid.bytes
    const bytes = block.bytes
    const length = cid.length + bytes.length
    const chunk = this.#chunk
    let at = this.#at
    if (at + length + 5 > CHUNK_BYTES) {
      // Near the end of the chunk, or a large block: the frame goes on in the next chunks.
      const head = new Uint8Array(varint.encodingLength(length))
      varint.encodeTo(length, head, 0)
      this.#write(head)
      this.#write(cid)
      const fill = this.#at === 0 ? 0 : CHUNK_BYTES - this.#at
      if (bytes.length - fill < CHUNK_BYTES) {
        this.#write(bytes)
        return
      }
      // A large block fills up this chunk, and the rest of it leaves as it is (no copy).
      if (fill > 0) this.#write(bytes.subarray(0, fill))
      this.full.push(bytes.subarray(fill))
      return
    }
    // The common case, done by hand: a varint of at most 3 bytes here, a CID of a few dozen.
    let v = length
    while (v >= 0x80) {
      chunk[at++] = (v & 0x7f) | 0x80
      v >>>= 7
    }
    chunk[at++] = v
    for (let i = 0; i < cid.length; i++) chunk[at + i] = cid[i]!
    at += cid.length
    chunk.set(bytes, at)
    this.#at = at + bytes.length
  }

  /** The full chunks, handed over. */
  take(): Uint8Array[] {
    const out = this.full
    this.full = []
    return out
  }

  /** The full chunks and what is left of the last one. */
  end(): Uint8Array[] {
    const out = this.take()
    if (this.#at > 0) out.push(this.#chunk.subarray(0, this.#at))
    return out
  }

  #write(src: Uint8Array): void {
    for (let from = 0; from < src.length; ) {
      const n = Math.min(CHUNK_BYTES - this.#at, src.length - from)
      this.#chunk.set(from === 0 && n === src.length ? src : src.subarray(from, from + n), this.#at)
      this.#at += n
      from += n
      if (this.#at === CHUNK_BYTES) {
        this.full.push(this.#chunk)
        this.#chunk = new Uint8Array(CHUNK_BYTES)
        this.#at = 0
      }
    }
  }
}
