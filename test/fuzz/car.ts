// CARv1 bytes taken apart into sections and put back together, for the mutators. Written for
// the fuzzer alone: it parses only well-formed CARs (the base corpora) and writes any parts,
// valid or not. It does not use Cairn's reader or writer.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { cat } from '../support/cbor.ts'

/** An unsigned LEB128 varint; `pad` extra continuation bytes make it non-minimal (same value). */
export function varint(n: number, pad = 0): Uint8Array {
  const out: number[] = []
  let v = n
  do {
    let b = v % 128
    v = Math.floor(v / 128)
    if (v > 0 || pad > 0) b |= 0x80
    out.push(b)
  } while (v > 0)
  for (let i = 0; i < pad; i++) out.push(i === pad - 1 ? 0x00 : 0x80)
  return Uint8Array.from(out)
}

/** One block frame: the CID's bytes (any bytes, for a mutated frame) and the block's. */
export interface Frame {
  cid: Uint8Array
  bytes: Uint8Array
  /** Replaces the frame's length prefix (a wrong, giant or non-minimal varint). */
  prefix?: Uint8Array
}

/** A CAR as parts: the header's bytes (any bytes) and the frames. */
export interface CarParts {
  header: Uint8Array
  /** Replaces the header's length prefix. */
  headerPrefix?: Uint8Array
  frames: Frame[]
}

/** Where each section of a well-formed CAR starts and ends (byte offsets). */
export interface CarLayout {
  /** Every offset where one section ends and the next begins, including 0 and the end. */
  boundaries: number[]
  header: { start: number; end: number }
  frames: { start: number; cidStart: number; blockStart: number; end: number }[]
}

export function headerBytes(roots: readonly CID[]): Uint8Array {
  return dagCbor.encode({ roots: [...roots], version: 1 })
}

export function writeParts(parts: CarParts): Uint8Array {
  const out: Uint8Array[] = [parts.headerPrefix ?? varint(parts.header.length), parts.header]
  for (const f of parts.frames) out.push(f.prefix ?? varint(f.cid.length + f.bytes.length), f.cid, f.bytes)
  return cat(...out)
}

function readVarint(b: Uint8Array, at: number): [number, number] {
  let value = 0
  for (let shift = 0; ; shift += 7) {
    const byte = b[at++]
    if (byte === undefined) throw new Error('truncated varint')
    value += (byte & 0x7f) * 2 ** shift
    if ((byte & 0x80) === 0) return [value, at]
  }
}

/** Takes a well-formed CARv1 (as Cairn exports it) apart. */
export function parseCar(car: Uint8Array): { parts: CarParts; layout: CarLayout; roots: CID[] } {
  const boundaries = [0]
  const [hlen, hstart] = readVarint(car, 0)
  boundaries.push(hstart)
  const header = car.subarray(hstart, hstart + hlen)
  const roots = (dagCbor.decode(header) as { roots: CID[] }).roots
  let at = hstart + hlen
  boundaries.push(at)
  const frames: Frame[] = []
  const layout: CarLayout['frames'] = []
  while (at < car.length) {
    const start = at
    const [len, cidStart] = readVarint(car, at)
    const [cid, rest] = CID.decodeFirst(car.subarray(cidStart, cidStart + len))
    const blockStart = cidStart + cid.bytes.length
    const end = cidStart + len
    frames.push({ cid: cid.bytes, bytes: rest })
    layout.push({ start, cidStart, blockStart, end })
    boundaries.push(cidStart, blockStart, end)
    at = end
  }
  return { parts: { header, frames }, layout: { boundaries, header: { start: hstart, end: hstart + hlen }, frames: layout }, roots }
}

/** A CIDv1 (sha2-256) naming `bytes` with `codec`. */
export async function cidOf(bytes: Uint8Array, codec = 0x71): Promise<CID> {
  return CID.createV1(codec, await sha256.digest(bytes))
}
