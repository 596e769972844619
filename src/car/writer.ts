import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import { varint } from 'multiformats'

/** Frames leave in chunks of at least this size (a larger block makes a larger chunk). */
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
 * varint(length of CID and bytes) ‖ CID bytes ‖ block bytes — in chunks of about 64 KiB (the
 * last may be smaller; a larger block makes a larger one). The same bytes as @ipld/car's
 * CarWriter (a test compares them), written here because handing each block to CarWriter
 * cost an await and two small copies per block, most of an export's time. Pull-based: blocks
 * are read from `blocks` only as the consumer takes chunks, so memory does not grow with the
 * archive. An error from `blocks` ends the stream with it.
 */
export async function* writeCar(roots: readonly CID[], blocks: AsyncIterable<BlockRecord>): AsyncGenerator<Uint8Array> {
  let chunk = new Uint8Array(CHUNK_BYTES * 2)
  const header = carHeader(roots)
  chunk.set(header)
  let at = header.length
  for await (const block of blocks) {
    const frame = frameLength(block)
    if (at + frame > chunk.length) {
      const bigger = new Uint8Array(Math.max(chunk.length * 2, at + frame))
      bigger.set(chunk.subarray(0, at))
      chunk = bigger
    }
    at = writeFrame(chunk, at, block) + block.bytes.length
    if (at >= CHUNK_BYTES) {
      yield chunk.subarray(0, at)
      chunk = new Uint8Array(CHUNK_BYTES * 2)
      at = 0
    }
  }
  if (at > 0) yield chunk.subarray(0, at)
}
