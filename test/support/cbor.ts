// Hand-made CBOR: writers that can produce what dag-cbor's encoder never would (floats for
// integers, unsorted keys, undefined, invalid UTF-8, -0, non-minimal heads, indefinite
// lengths), a small encoder of IPLD values with those knobs, and a structural reader that
// measures nesting without decoding or recursing. Runtime-neutral: used by Node, Chromium and
// Deno specs alike. Nothing here calls Cairn.
import { CID } from 'multiformats/cid'
import { concatBytes } from '../../src/block/codec.ts'

/** Encoded CBOR bytes of one item. */
export type Item = Uint8Array

export const cat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts)

/**
 * The head of an item: major type and argument, in the shortest form, or in `width` bytes
 * (1, 2, 4 or 8) when given, which may be longer than needed (a non-minimal head).
 */
export function head(major: number, n: number | bigint, width?: 0 | 1 | 2 | 4 | 8): Uint8Array {
  const v = BigInt(n)
  const w = width ?? (v < 24n ? 0 : v < 256n ? 1 : v < 65536n ? 2 : v < 2n ** 32n ? 4 : 8)
  if (w === 0) return Uint8Array.of((major << 5) | Number(v))
  const info = w === 1 ? 24 : w === 2 ? 25 : w === 4 ? 26 : 27
  const b = new Uint8Array(1 + w)
  b[0] = (major << 5) | info
  for (let i = 0; i < w; i++) b[w - i] = Number((v >> BigInt(8 * i)) & 255n)
  return b
}
export const uint = (n: number | bigint): Item => head(0, n)
/** A negative integer `n` (< 0). */
export const nint = (n: number | bigint): Item => head(1, -BigInt(n) - 1n)
export const text = (s: string): Item => {
  const b = new TextEncoder().encode(s)
  return cat(head(3, b.length), b)
}
/** A text string holding exactly these bytes (which need not be UTF-8). */
export const rawText = (b: Uint8Array): Item => cat(head(3, b.length), b)
export const bytes = (b: Uint8Array): Item => cat(head(2, b.length), b)
export const float64 = (n: number): Item => {
  const b = new Uint8Array(9)
  b[0] = 0xfb
  new DataView(b.buffer).setFloat64(1, n)
  return b
}
export const negZero16: Item = Uint8Array.of(0xf9, 0x80, 0x00)
export const nul: Item = Uint8Array.of(0xf6)
export const undef: Item = Uint8Array.of(0xf7)
export const tru: Item = Uint8Array.of(0xf5)
export const fals: Item = Uint8Array.of(0xf4)
export const arr = (items: Item[]): Item => cat(head(4, items.length), ...items)
export const map = (entries: [string | Item, Item][]): Item => cat(head(5, entries.length), ...entries.map(([k, v]) => cat(typeof k === 'string' ? text(k) : k, v)))
/** Indefinite-length forms (refused by dag-cbor). */
export const indefArr = (items: Item[]): Item => cat(Uint8Array.of(0x9f), ...items, Uint8Array.of(0xff))
export const indefMap = (entries: [string | Item, Item][]): Item => cat(Uint8Array.of(0xbf), ...entries.map(([k, v]) => cat(typeof k === 'string' ? text(k) : k, v)), Uint8Array.of(0xff))
/** A link: tag 42 over 0x00 ‖ the CID's bytes. */
export const link = (cid: CID | Uint8Array): Item => cat(head(6, 42), bytes(cat(Uint8Array.of(0), cid instanceof Uint8Array ? cid : cid.bytes)))
/** `depth` nested one-element lists around `inner` ([[[…inner…]]]). */
export const nested = (depth: number, inner: Item = nul): Item => cat(new Uint8Array(depth).fill(0x81), inner)

/**
 * Constructs that are never canonical dag-cbor, whatever surrounds them (each spec that decides
 * canonical form — the one-pass scan, the envelope reader — refuses or leaves every one). `cid`
 * is any dag-cbor CID, for the malformed links.
 */
export function nonCanonicalCases(cid: CID): [string, Item][] {
  return [
    [
      'unsorted keys',
      map([
        ['b', uint(1)],
        ['a', uint(2)],
      ]),
    ],
    [
      'keys not length-first',
      map([
        ['bb', uint(1)],
        ['c', uint(2)],
      ]),
    ],
    [
      'duplicate keys',
      map([
        ['a', uint(1)],
        ['a', uint(2)],
      ]),
    ],
    ['a non-minimal integer', head(0, 5, 1)],
    ['a non-minimal length', cat(head(3, 1, 1), Uint8Array.of(0x61))],
    ['undefined', undef],
    ['-0.0 as a half float', negZero16],
    ['an integer as a float', float64(3)],
    ['-0 as a float64', float64(-0)],
    ['a single-precision float', Uint8Array.of(0xfa, 0x3f, 0xc0, 0x00, 0x00)],
    ['an indefinite array', indefArr([uint(1)])],
    ['a tag other than 42', cat(head(6, 1), uint(5))],
    ['a CID without the 0x00 prefix', cat(head(6, 42), bytes(cid.bytes))],
    ['a CID with a non-minimal varint', cat(head(6, 42), bytes(cat(Uint8Array.of(0, 0x81, 0x00), cid.bytes.subarray(1))))],
    ['a key that is not text', cat(head(5, 1), uint(1), uint(2))],
    ['invalid UTF-8', rawText(Uint8Array.of(0xc3))],
  ]
}

/** Bytes spliced into an encoding as they are (any CBOR, valid or not). */
export class RawCbor {
  constructor(readonly bytes: Uint8Array) {}
}

/** How `encodeCbor` writes a value; the default is dag-cbor's canonical form. */
export interface CborStyle {
  /** Map key order: canonical (length first, then bytewise), reversed canonical, or as the object lists them. */
  keys?: 'canonical' | 'reverse' | 'insertion'
  /** Write integers with a head wider than needed. */
  wideInts?: boolean
  /** Write integers as 64-bit floats. */
  intsAsFloats?: boolean
  /** Write maps and lists with indefinite lengths. */
  indefinite?: boolean
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)

function compareKeys(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length - b.length
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

/**
 * Encodes an IPLD value (null, booleans, numbers, bigints, strings, bytes, CIDs, lists, plain
 * maps, `RawCbor` and `undefined`) as CBOR in the given style. With the default style the
 * bytes are exactly what @ipld/dag-cbor writes. Recursive: not for deeply nested values (splice
 * those in with `RawCbor`).
 */
export function encodeCbor(value: unknown, style: CborStyle = {}): Uint8Array {
  const intHead = (major: number, n: bigint): Uint8Array => head(major, n, style.wideInts === true ? 8 : undefined)
  const enc = (v: unknown): Uint8Array => {
    if (v instanceof RawCbor) return v.bytes
    if (v === null) return nul
    if (v === undefined) return undef
    if (v === true) return tru
    if (v === false) return fals
    if (typeof v === 'bigint') return v >= 0n ? intHead(0, v) : intHead(1, -v - 1n)
    if (typeof v === 'number') {
      if (Number.isInteger(v) && style.intsAsFloats !== true) return v >= 0 ? intHead(0, BigInt(v)) : intHead(1, BigInt(-v - 1))
      return float64(v)
    }
    if (typeof v === 'string') return text(v)
    if (v instanceof Uint8Array) return bytes(v)
    const cid = CID.asCID(v)
    if (cid !== null) return link(cid)
    if (Array.isArray(v)) return style.indefinite === true ? indefArr(v.map(enc)) : arr(v.map(enc))
    if (typeof v === 'object') {
      let keys = Object.keys(v)
      if (style.keys !== 'insertion') {
        keys = keys.sort((a, b) => compareKeys(utf8(a), utf8(b)))
        if (style.keys === 'reverse') keys.reverse()
      }
      const entries = keys.map((k): [string, Item] => [k, enc((v as Record<string, unknown>)[k])])
      return style.indefinite === true ? indefMap(entries) : map(entries)
    }
    throw new TypeError(`encodeCbor: cannot encode a ${typeof v}`)
  }
  return enc(value)
}

/** What a structural read of CBOR bytes found. */
export interface CborShape {
  /** Deepest level of maps and lists, empty ones included (a top-level map is level 1). */
  depth: number
  /** Deepest level of maps and lists that hold something (an empty one at the bottom is not counted). */
  filled: number
  /** The bytes are one well-formed item, with no trailing bytes (dag-cbor's other rules not checked). */
  wellFormed: boolean
}

/**
 * Reads CBOR bytes structurally, without decoding values and without recursion, so any depth
 * is safe. Stops early once `stopAbove` levels (of either measure) are exceeded.
 */
export function cborShape(b: Uint8Array, stopAbove: number = Infinity): CborShape {
  // Items left to read at each open level; a map counts keys and values.
  const open: number[] = []
  let remaining = 1
  let depth = 0
  let filled = 0
  let at = 0
  const bad = (): CborShape => ({ depth, filled, wellFormed: false })
  while (remaining > 0 || open.length > 0) {
    if (remaining === 0) {
      remaining = open.pop()!
      continue
    }
    if (at >= b.length) return bad()
    const first = b[at++]!
    const major = first >> 5
    const info = first & 31
    let n = 0
    if (info < 24) n = info
    else if (info <= 27) {
      const w = 1 << (info - 24)
      if (at + w > b.length) return bad()
      for (let i = 0; i < w; i++) n = n * 256 + b[at + i]!
      at += w
    } else return bad() // reserved values, indefinite lengths and breaks: not dag-cbor, not followed further
    remaining--
    if (major === 2 || major === 3) {
      if (at + n > b.length) return bad()
      at += n
    } else if (major === 4 || major === 5) {
      const level = open.length + 1
      if (level > depth) depth = level
      if (n > 0 && level > filled) filled = level
      if (depth > stopAbove) return bad()
      open.push(remaining)
      remaining = major === 5 ? n * 2 : n
    } else if (major === 6) {
      remaining++ // a tag wraps the next item, at the same level
    }
  }
  return { depth, filled, wellFormed: at === b.length }
}
