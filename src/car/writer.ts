import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'

/** Frames leave in chunks of at least this size (a larger block makes a larger chunk). */
const CHUNK_BYTES = 64 * 1024

/** Bytes of `n` as an unsigned LEB128 varint. */
function varintLength(n: number): number {
  let bytes = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    bytes++
  }
  return bytes
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  out[at++] = n
  return at
}

/** The CARv1 header: varint(length) ‖ dag-cbor `{ roots, version: 1 }`, as @ipld/car writes it. */
export function carHeader(roots: readonly CID[]): Uint8Array {
  const header = dagCbor.encode({ version: 1, roots: [...roots] })
  const out = new Uint8Array(varintLength(header.length) + header.length)
  out.set(header, writeVarint(out, 0, header.length))
  return out
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
  for await (const { cid, bytes } of blocks) {
    const cidBytes = cid.bytes
    const length = cidBytes.length + bytes.length
    const frame = varintLength(length) + length
    if (at + frame > chunk.length) {
      const bigger = new Uint8Array(Math.max(chunk.length * 2, at + frame))
      bigger.set(chunk.subarray(0, at))
      chunk = bigger
    }
    at = writeVarint(chunk, at, length)
    chunk.set(cidBytes, at)
    at += cidBytes.length
    chunk.set(bytes, at)
    at += bytes.length
    if (at >= CHUNK_BYTES) {
      yield chunk.subarray(0, at)
      chunk = new Uint8Array(CHUNK_BYTES * 2)
      at = 0
    }
  }
  if (at > 0) yield chunk.subarray(0, at)
}
