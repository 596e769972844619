/**
 * A dedicated writer for the event envelope (format v1, sections 2–3).
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
 * Its reader is envelope-read.ts.
 */
import { CID } from 'multiformats/cid'
import type { ByteArena } from '../../block/arena.ts'
import { MAX_DEPTH } from '../../block/validate.ts'
import type { EventBlock } from './interface.ts'

const MAJOR_UINT = 0x00
const MAJOR_NEGINT = 0x20
const MAJOR_BYTES = 0x40
const MAJOR_TEXT = 0x60
const MAJOR_ARRAY = 0x80
const MAJOR_MAP = 0xa0
export const FALSE = 0xf4
export const TRUE = 0xf5
export const NULL = 0xf6
export const FLOAT64 = 0xfb
/** Tag 42 (a CID): `0xd8 0x2a`. */
const TAG_CID_0 = 0xd8
const TAG_CID_1 = 0x2a

export const TWO_32 = 0x1_0000_0000
const BIG_TWO_64 = 2n ** 64n
const BIG_TWO_32 = 2n ** 32n
const BIG_MASK_32 = 0xffff_ffffn
/** The symbol by which `CID.asCID` recognises a legacy js-cid object (which dag-cbor writes as a CID). */
const LEGACY_CID = Symbol.for('@ipld/js-cid/CID')
/** Nesting the writer follows before it leaves a value to dag-cbor (which refuses cycles). */
export const MAX_LEVELS: number = MAX_DEPTH + 8

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
export const HAND_COPY = 32

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
 * The bytes are an array of their own, or a view into `arena`.
 *
 * @example
 * const bytes = writeEnvelope(event) ?? dagCbor.encode(envelopeOf(event))
 */
export function writeEnvelope(event: EventBlock, arena?: ByteArena): Uint8Array | undefined {
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
    return arena === undefined ? buf.slice(0, at) : arena.copy(buf, at)
  } catch {
    return undefined // a throwing getter: dag-cbor throws it again, and the caller reports it
  } finally {
    busy = false
  }
}
