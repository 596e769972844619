/**
 * The reader of the event envelope: decodes bytes only when it can tell they are canonical
 * (exactly what `@ipld/dag-cbor`'s `encode` writes for the value they hold) and nest no deeper
 * than an event may, and answers `undefined` otherwise, so that the full strict path (scan,
 * cborg, re-encoding) decides, with its errors. Apart from the writer (envelope.ts) so that the
 * first load of an app, which appends but never imports, does not carry it.
 * test/shared/envelope.spec.ts holds its values and errors to the full path's.
 */
import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'
import { cidFromBytes, MAX_BLOCK_DEPTH } from '../../block/codec.ts'
import { FALSE, FLOAT64, HAND_COPY, NULL, TRUE, TWO_32 } from './envelope.ts'

/** Thrown (and caught in readEnvelope) when the bytes are not plainly canonical: the full path decides. */
const UNSURE: unique symbol = Symbol('unsure')

/** CIDs a decoder may reuse: the one whose bytes are exactly `bytes[start, end)`, if known. */
export interface KnownCids {
  keyAt(bytes: Uint8Array, start: number, end: number): CID | undefined
}

let src: Uint8Array = new Uint8Array(0)
let pos = 0
let known: KnownCids | undefined
let srcView: DataView = new DataView(new ArrayBuffer(0))
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Reads the argument of a head whose low five bits are `info`: shortest form only, at most 2^53 − 1. */
function argument(info: number): number {
  if (info < 24) return info
  if (info === 24) {
    if (pos + 1 > src.length) throw UNSURE
    const n = src[pos++]!
    if (n < 24) throw UNSURE
    return n
  }
  if (info === 25) {
    if (pos + 2 > src.length) throw UNSURE
    const n = (src[pos]! << 8) | src[pos + 1]!
    pos += 2
    if (n < 0x100) throw UNSURE
    return n
  }
  if (info === 26) {
    if (pos + 4 > src.length) throw UNSURE
    const n = srcView.getUint32(pos)
    pos += 4
    if (n < 0x10000) throw UNSURE
    return n
  }
  if (info === 27) {
    if (pos + 8 > src.length) throw UNSURE
    const hi = srcView.getUint32(pos)
    // Below 2^32: not the shortest form. From 2^53 on: cborg reads a BigInt; the full path judges.
    if (hi === 0 || hi >= 0x200000) throw UNSURE
    const n = hi * TWO_32 + srcView.getUint32(pos + 4)
    pos += 8
    return n
  }
  throw UNSURE // indefinite lengths, reserved values
}

/**
 * Text at [pos, pos + n): ASCII by hand, the rest through a fatal UTF-8 decoder. A leading
 * U+FEFF is left to the full path: cborg's TextDecoder drops it, so such bytes are not what
 * re-encoding the decoded value gives.
 */
function readText(n: number): string {
  const start = pos
  const end = pos + n
  if (end > src.length) throw UNSURE
  pos = end
  if (n <= HAND_COPY) {
    let s = ''
    let i = start
    for (; i < end; i++) {
      const c = src[i]!
      if (c >= 0x80) break
      s += String.fromCharCode(c)
    }
    if (i === end) return s
  }
  if (n >= 3 && src[start] === 0xef && src[start + 1] === 0xbb && src[start + 2] === 0xbf) throw UNSURE
  try {
    return strictUtf8.decode(src.subarray(start, end))
  } catch {
    throw UNSURE
  }
}

/** Map keys and texts of up to this many bytes are looked up in the key cache. */
const KEY_MAX = 32
/** Slots of the key cache (a power of two). */
const KEY_SLOTS = 512
/**
 * The short ASCII map keys and texts read last, by a hash of their bytes: events repeat a few keys
 * (`stream`, `parents`, their data's field names) and values (stream names, types), so most are
 * found here and no string is made.
 */
const keyCache: (string | undefined)[] = new Array(KEY_SLOTS).fill(undefined)

/** A map key or short text of `n` bytes at `pos`: as readText reads it, the same string again for ASCII ones read before. */
function readKey(n: number): string {
  const start = pos
  const end = pos + n
  if (n > KEY_MAX || end > src.length) return readText(n)
  let h = n
  for (let i = start; i < end; i++) h = (Math.imul(h, 31) + src[i]!) | 0
  const slot = (h ^ (h >>> 9)) & (KEY_SLOTS - 1)
  const hit = keyCache[slot]
  if (hit !== undefined && hit.length === n) {
    // The cache holds ASCII only: equal char codes mean equal bytes.
    let i = 0
    while (i < n && hit.charCodeAt(i) === src[start + i]) i++
    if (i === n) {
      pos = end
      return hit
    }
  }
  const key = readText(n)
  if (key.length === n) keyCache[slot] = key // n bytes gave n characters: ASCII
  return key
}

/** Reads an unsigned LEB128 varint in shortest form below `end`; -1 when absent, too long or not shortest. */
function varint(end: number, at: { at: number }): number {
  let n = 0
  let shift = 1
  for (let i = 0; i < 8; i++) {
    const p = at.at + i
    if (p >= end) return -1
    const b = src[p]!
    n += (b & 0x7f) * shift
    if (b < 0x80) {
      if (b === 0 && i > 0) return -1
      at.at = p + 1
      return n
    }
    shift *= 128
  }
  return -1
}

/** Varints of a CID read by hand (three bytes each, up to 2^21 − 1); larger ones go through multiformats. */
const SMALL_VARINT = 0x200000

/**
 * The CID at [start, end) when those bytes are exactly what its `CID.bytes` would be (a v0
 * multihash, or v1 with shortest varints), as `CID.decode` makes it, but built directly on a
 * copy of them (`CID.decode` parses them with a subarray per varint, then encodes them again).
 */
function readCid(start: number, end: number): CID {
  const n = end - start
  const v0 = n === 34 && src[start] === 0x12 && src[start + 1] === 0x20
  const at = { at: start }
  let codec = 0x70
  let hashAt = start
  if (!v0) {
    if (varint(end, at) !== 1) throw UNSURE
    codec = varint(end, at)
    hashAt = at.at
  }
  const code = varint(end, at)
  const size = varint(end, at)
  if (codec < 0 || code < 0 || size < 0 || at.at + size !== end) throw UNSURE
  // A link to a block the caller holds (an import's parent event): that CID, with the same bytes.
  const held = known?.keyAt(src, start, end)
  if (held !== undefined) return held
  if (codec >= SMALL_VARINT || code >= SMALL_VARINT || size >= SMALL_VARINT) return cidFromBytes(src, start, end)
  const bytes = src.slice(start, end)
  const multihash = bytes.subarray(hashAt - start)
  const digest = new Digest(code, size, bytes.subarray(at.at - start), multihash)
  return v0 ? new CID(0, 0x70, digest, multihash) : new CID(1, codec, digest, bytes)
}

/** Whether the map key at [a0, a1) sorts strictly before the one at [b0, b1): length first, then bytes. */
function keyBefore(a0: number, a1: number, b0: number, b1: number): boolean {
  const la = a1 - a0
  const lb = b1 - b0
  if (la !== lb) return la < lb
  for (let i = 0; i < la; i++) {
    const d = src[a0 + i]! - src[b0 + i]!
    if (d !== 0) return d < 0
  }
  return false
}

/** One item at `depth` levels of maps and lists (the envelope is level 0), as @ipld/dag-cbor decodes it. */
function item(depth: number): unknown {
  if (pos >= src.length) throw UNSURE
  const first = src[pos++]!
  const info = first & 31
  switch (first >> 5) {
    case 0:
      return argument(info)
    case 1: {
      const n = argument(info)
      if (n === Number.MAX_SAFE_INTEGER) throw UNSURE // -2^53: cborg reads a BigInt
      return -1 - n
    }
    case 2: {
      const n = argument(info)
      if (pos + n > src.length) throw UNSURE
      const b = src.slice(pos, pos + n)
      pos += n
      return b
    }
    case 3:
      // Short texts repeat too (stream names, types, enum-like data): through the cache.
      return readKey(argument(info))
    case 4: {
      const n = argument(info)
      if (depth >= MAX_BLOCK_DEPTH) throw UNSURE
      const list: unknown[] = []
      for (let i = 0; i < n; i++) list.push(item(depth + 1))
      return list
    }
    case 5: {
      const n = argument(info)
      if (depth >= MAX_BLOCK_DEPTH) throw UNSURE
      const map: Record<string, unknown> = {}
      let prev0 = -1
      let prev1 = -1
      for (let i = 0; i < n; i++) {
        const k0 = pos
        if (k0 >= src.length || src[k0]! >> 5 !== 3) throw UNSURE
        pos++
        const key = readKey(argument(src[k0]! & 31))
        if (prev0 >= 0 && !keyBefore(prev0, prev1, k0, pos)) throw UNSURE
        if (key === '__proto__') throw UNSURE
        prev0 = k0
        prev1 = pos
        map[key] = item(depth + 1)
      }
      return map
    }
    case 6: {
      // Only tag 42 (0xd8 0x2a) over a byte string 0x00 ‖ CID bytes.
      if (info !== 24 || src[pos] !== 42) throw UNSURE
      pos++
      const h = src[pos++]
      if (h === undefined || h >> 5 !== 2) throw UNSURE
      const n = argument(h & 31)
      const end = pos + n
      if (n < 2 || end > src.length || src[pos] !== 0) throw UNSURE
      const cid = readCid(pos + 1, end)
      pos = end
      return cid
    }
    default: {
      if (first === TRUE) return true
      if (first === FALSE) return false
      if (first === NULL) return null
      if (first !== FLOAT64 || pos + 8 > src.length) throw UNSURE // undefined, half and single floats, simple values
      const x = srcView.getFloat64(pos)
      pos += 8
      // dag-cbor writes integers within the safe range (-0 too) as integers, and never NaN or ±Infinity.
      if (!Number.isFinite(x) || Number.isSafeInteger(x)) throw UNSURE
      return x
    }
  }
}

/**
 * The value of dag-cbor bytes when they are plainly canonical — exactly what `@ipld/dag-cbor`
 * writes for the value they decode to, read as it reads them — and nest maps and lists no deeper
 * than an event block may (MAX_BLOCK_DEPTH levels, the envelope's one included). `undefined` when
 * that is not certain: floats written for integers, unsorted or duplicate keys, non-shortest
 * heads, undefined, tags other than 42, integers beyond the safe range, a leading U+FEFF,
 * malformed bytes, deeper nesting — and anything else the full decoding path must judge.
 * `knownCids`: a link whose bytes are those of a CID found there decodes to that CID object
 * (equal bytes, so an equal CID), not a new one.
 */
export function readEnvelope(bytes: Uint8Array, knownCids?: KnownCids): unknown {
  src = bytes
  known = knownCids
  pos = 0
  srcView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  try {
    const value = item(0)
    return pos === bytes.length ? value : undefined
  } catch {
    return undefined // UNSURE, or multiformats refusing a CID: the full path says why
  } finally {
    src = EMPTY
    srcView = EMPTY_VIEW
    known = undefined
  }
}

const EMPTY = new Uint8Array(0)
const EMPTY_VIEW = new DataView(EMPTY.buffer)
