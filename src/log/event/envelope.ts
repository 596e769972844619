/**
 * A dedicated writer and reader for the event envelope (format v1, sections 2–3).
 *
 * The writer gives the bytes
 * `@ipld/dag-cbor`'s `encode` gives for an event, written straight into one growable buffer —
 * the envelope's keys as precomputed heads in their canonical order, CBOR heads in shortest
 * form, CIDs copied from `cid.bytes` — without cborg's per-value type dispatch, tokens and
 * sorting callbacks. `data` and `meta` go through the same writer's generic part, which knows
 * the plain IPLD values (null, booleans, numbers, bigints, strings, bytes, CIDs of this
 * `multiformats`, arrays and plain objects) and answers `undefined` for anything else or
 * anything doubtful, so that the caller encodes with `@ipld/dag-cbor` itself and its result
 * (and its errors) stay the reference. test/shared/envelope.spec.ts holds the two to the
 * same bytes on random events.
 *
 * The reader decodes bytes only when it can tell they are canonical (exactly what `encode`
 * writes for the value they hold) and nest no deeper than an event may, and answers `undefined`
 * otherwise, so that the full strict path (scan, cborg, re-encoding) decides, with its errors.
 */
import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'
import { cidFromBytes, MAX_BLOCK_DEPTH } from '../../block/codec.ts'
import { MAX_DEPTH } from '../../block/validate.ts'
import type { EventBlock } from './interface.ts'

const MAJOR_UINT = 0x00
const MAJOR_NEGINT = 0x20
const MAJOR_BYTES = 0x40
const MAJOR_TEXT = 0x60
const MAJOR_ARRAY = 0x80
const MAJOR_MAP = 0xa0
const FALSE = 0xf4
const TRUE = 0xf5
const NULL = 0xf6
const FLOAT64 = 0xfb
/** Tag 42 (a CID): `0xd8 0x2a`. */
const TAG_CID_0 = 0xd8
const TAG_CID_1 = 0x2a

const TWO_32 = 0x1_0000_0000
const BIG_TWO_64 = 2n ** 64n
const BIG_TWO_32 = 2n ** 32n
const BIG_MASK_32 = 0xffff_ffffn
/** The symbol by which `CID.asCID` recognises a legacy js-cid object (which dag-cbor writes as a CID). */
const LEGACY_CID = Symbol.for('@ipld/js-cid/CID')
/** Nesting the writer follows before it leaves a value to dag-cbor (which refuses cycles). */
const MAX_LEVELS = MAX_DEPTH + 8

let buf = new Uint8Array(4096)
let view = new DataView(buf.buffer)
let at = 0
let busy = false
const utf8 = new TextEncoder()

/** Makes room for `n` more bytes. */
function reserve(n: number): void {
  if (at + n <= buf.length) return
  let size = buf.length * 2
  while (size < at + n) size *= 2
  const next = new Uint8Array(size)
  next.set(buf) // all of it: a string's bytes may sit beyond `at`, waiting for their head
  buf = next
  view = new DataView(buf.buffer)
}

/** A head (major type ‖ shortest argument) for 0 ≤ n ≤ 2^53 − 1. */
function head(major: number, n: number): void {
  reserve(9)
  if (n < 24) buf[at++] = major | n
  else if (n < 0x100) {
    buf[at++] = major | 24
    buf[at++] = n
  } else if (n < 0x10000) {
    buf[at++] = major | 25
    buf[at++] = n >>> 8
    buf[at++] = n & 0xff
  } else if (n < TWO_32) {
    buf[at++] = major | 26
    view.setUint32(at, n)
    at += 4
  } else {
    buf[at++] = major | 27
    view.setUint32(at, Math.floor(n / TWO_32))
    view.setUint32(at + 4, n >>> 0)
    at += 8
  }
}

/** Bytes of a head whose argument is `n`. */
const headSize = (n: number): number => (n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < TWO_32 ? 5 : 9)

/** A head for a bigint argument 0 ≤ n < 2^64 (cborg writes it in the same shortest form as a number). */
function bigHead(major: number, n: bigint): void {
  if (n < BIG_TWO_32) {
    head(major, Number(n))
    return
  }
  reserve(9)
  buf[at++] = major | 27
  view.setUint32(at, Number(n >> 32n))
  view.setUint32(at + 4, Number(n & BIG_MASK_32))
  at += 8
}

/** Strings up to this many code units are copied by hand when ASCII; longer ones go through encodeInto (measured: faster from about 30). */
const HAND_COPY = 32

/**
 * A text string as UTF-8, unpaired surrogates as U+FFFD (as cborg's own UTF-8 writer, Buffer
 * and TextEncoder all write them). Short ASCII is copied by hand; the rest goes through
 * encodeInto after a head sized for as many bytes as code units, and moves up when the bytes
 * turn out to need a longer head.
 */
function text(s: string): void {
  const n = s.length
  const h = headSize(n)
  reserve(h + n * 3 + 9)
  const start = at + h
  if (n <= HAND_COPY) {
    let i = 0
    for (; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) break
      buf[start + i] = c
    }
    if (i === n) {
      head(MAJOR_TEXT, n)
      at += n
      return
    }
  }
  const written = utf8.encodeInto(s, buf.subarray(start, start + n * 3)).written
  const h2 = headSize(written)
  if (h2 !== h) buf.copyWithin(at + h2, start, start + written)
  head(MAJOR_TEXT, written)
  at += written
}

/** Bytes as a byte string. */
function bytes(b: Uint8Array): void {
  head(MAJOR_BYTES, b.length)
  reserve(b.length)
  buf.set(b, at)
  at += b.length
}

/** A CID as tag 42 over `0x00` ‖ its bytes. */
function link(cid: CID): void {
  const b = cid.bytes
  const n = b.length
  reserve(n + 13)
  buf[at++] = TAG_CID_0
  buf[at++] = TAG_CID_1
  head(MAJOR_BYTES, n + 1)
  buf[at++] = 0
  if (n <= 64) for (let i = 0; i < n; i++) buf[at + i] = b[i]!
  else buf.set(b, at)
  at += n
}

/** Length-first, then bytewise order of ASCII keys (for ASCII, code units order as bytes do). */
const byAsciiKey = (a: string, b: string): number => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)

function byKeyBytes(a: [Uint8Array, string], b: [Uint8Array, string]): number {
  const x = a[0]
  const y = b[0]
  if (x.length !== y.length) return x.length - y.length
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return 0
}

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false
  return true
}

/** A plain object as a map, keys in dag-cbor's order; false to leave it to dag-cbor. */
function map(obj: Record<string, unknown>, depth: number): boolean {
  const keys = Object.keys(obj)
  const n = keys.length
  let ascii = true
  for (let i = 0; i < n; i++) if (!isAscii(keys[i]!)) ascii = false
  if (!ascii) {
    const encoded = keys.map((k): [Uint8Array, string] => [utf8.encode(k), k]).sort(byKeyBytes)
    // Two keys with the same UTF-8 (unpaired surrogates both written as U+FFFD): dag-cbor's business.
    for (let i = 1; i < n; i++) if (byKeyBytes(encoded[i - 1]!, encoded[i]!) === 0) return false
    head(MAJOR_MAP, n)
    for (const [, key] of encoded) {
      text(key)
      if (!value(obj[key], depth)) return false
    }
    return true
  }
  if (n > 1) {
    // Insertion sort: the maps of events are small, often sorted already.
    for (let i = 1; i < n; i++) {
      const k = keys[i]!
      let j = i - 1
      while (j >= 0 && byAsciiKey(keys[j]!, k) > 0) {
        keys[j + 1] = keys[j]!
        j--
      }
      keys[j + 1] = k
    }
  }
  head(MAJOR_MAP, n)
  for (let i = 0; i < n; i++) {
    const key = keys[i]!
    text(key)
    if (!value(obj[key], depth)) return false
  }
  return true
}

/**
 * Writes an IPLD value as dag-cbor, or answers false (part of it written) for anything this
 * writer leaves to @ipld/dag-cbor: undefined, NaN, ±Infinity, bigints beyond 64 bits, objects
 * that are not plain (dag-cbor's own rules for those apply), CID-like objects that are not a
 * CID of this multiformats, arrays that are not plain, holes, and nesting beyond MAX_LEVELS.
 */
function value(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
      text(v)
      return true
    case 'number':
      if (Number.isSafeInteger(v)) {
        // -0 is an integer too: written as 0, as cborg does.
        if (v >= 0) head(MAJOR_UINT, v)
        else head(MAJOR_NEGINT, -v - 1)
        return true
      }
      if (!Number.isFinite(v)) return false
      reserve(9)
      buf[at++] = FLOAT64
      view.setFloat64(at, v)
      at += 8
      return true
    case 'boolean':
      reserve(1)
      buf[at++] = v ? TRUE : FALSE
      return true
    case 'bigint':
      if (v >= 0n) {
        if (v >= BIG_TWO_64) return false
        bigHead(MAJOR_UINT, v)
      } else {
        const n = -v - 1n
        if (n >= BIG_TWO_64) return false
        bigHead(MAJOR_NEGINT, n)
      }
      return true
    case 'object': {
      if (v === null) {
        reserve(1)
        buf[at++] = NULL
        return true
      }
      if (depth >= MAX_LEVELS) return false
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return false
        const n = v.length
        head(MAJOR_ARRAY, n)
        for (let i = 0; i < n; i++) if (!value(v[i], depth + 1)) return false
        return true
      }
      if (v instanceof Uint8Array) {
        bytes(v)
        return true
      }
      if (v instanceof CID) {
        link(v)
        return true
      }
      const o = v as Record<string | symbol, unknown>
      // A plain object (cborg's type 'Object', which its own type tag could not rename), that
      // no rule of dag-cbor's CID encoder or of CID.asCID could take for a CID.
      const proto = Object.getPrototypeOf(o)
      if (proto !== Object.prototype && proto !== null) return false
      if (o[Symbol.toStringTag] !== undefined || o['asCID'] !== undefined || o[LEGACY_CID] !== undefined) return false
      const slash = o['/']
      if (slash !== undefined && slash === o['bytes']) return false
      return map(o as Record<string, unknown>, depth + 1)
    }
    default:
      return false
  }
}

/** A map key's encoded form, copied as it is. */
function key(b: Uint8Array): void {
  reserve(b.length)
  for (let i = 0; i < b.length; i++) buf[at + i] = b[i]!
  at += b.length
}

const keyBytes = (k: string): Uint8Array => Uint8Array.of(MAJOR_TEXT | k.length, ...utf8.encode(k))
// The envelope's keys in canonical order (length first, then bytes): v, tc, ts, sig, data, meta,
// prev, type, author, stream, parents.
const K_V = keyBytes('v')
const K_TC = keyBytes('tc')
const K_TS = keyBytes('ts')
const K_SIG = keyBytes('sig')
const K_DATA = keyBytes('data')
const K_META = keyBytes('meta')
const K_PREV = keyBytes('prev')
const K_TYPE = keyBytes('type')
const K_AUTHOR = keyBytes('author')
const K_STREAM = keyBytes('stream')
const K_PARENTS = keyBytes('parents')

/**
 * The dag-cbor bytes of an event: exactly `@ipld/dag-cbor`'s `encode` of the map of its eleven
 * fields (`v`, `stream`, `type`, `ts`, `tc`, `prev`, `parents`, `data`, and `meta`, `author`,
 * `sig` when not undefined; other keys of `event` are not read). `undefined` when a field holds
 * something this writer leaves to `@ipld/dag-cbor` (see `value`): the caller encodes with it.
 *
 * @example
 * const bytes = writeEnvelope(event) ?? dagCbor.encode(envelopeOf(event))
 */
export function writeEnvelope(event: EventBlock): Uint8Array | undefined {
  if (busy) return undefined // a getter in `data` that encodes an event: leave it to dag-cbor
  busy = true
  at = 0
  try {
    const { meta, author, sig } = event
    reserve(1)
    buf[at++] = MAJOR_MAP | (8 + (meta !== undefined ? 1 : 0) + (author !== undefined ? 1 : 0) + (sig !== undefined ? 1 : 0))
    key(K_V)
    if (!value(event.v, 0)) return undefined
    key(K_TC)
    if (!value(event.tc, 0)) return undefined
    key(K_TS)
    if (!value(event.ts, 0)) return undefined
    if (sig !== undefined) {
      key(K_SIG)
      if (!value(sig, 0)) return undefined
    }
    key(K_DATA)
    if (!value(event.data, 0)) return undefined
    if (meta !== undefined) {
      key(K_META)
      if (!value(meta, 0)) return undefined
    }
    key(K_PREV)
    if (!value(event.prev, 0)) return undefined
    key(K_TYPE)
    if (!value(event.type, 0)) return undefined
    if (author !== undefined) {
      key(K_AUTHOR)
      if (!value(author, 0)) return undefined
    }
    key(K_STREAM)
    if (!value(event.stream, 0)) return undefined
    key(K_PARENTS)
    if (!value(event.parents, 0)) return undefined
    return buf.slice(0, at)
  } catch {
    return undefined // a throwing getter: dag-cbor throws it again, and the caller reports it
  } finally {
    busy = false
  }
}

// --- Reading ------------------------------------------------------------------------------------

/** Thrown (and caught in readEnvelope) when the bytes are not plainly canonical: the full path decides. */
const UNSURE: unique symbol = Symbol('unsure')

let src: Uint8Array = new Uint8Array(0)
let pos = 0
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
      return readText(argument(info))
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
        const key = readText(argument(src[k0]! & 31))
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
 */
export function readEnvelope(bytes: Uint8Array): unknown {
  src = bytes
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
  }
}

const EMPTY = new Uint8Array(0)
const EMPTY_VIEW = new DataView(EMPTY.buffer)
