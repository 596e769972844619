import type { CID } from 'multiformats/cid'
import { CairnError } from '../errors/cairn-error.ts'
import { decodeTrusted, isCanonicalDagCbor } from './codec.ts'
import { DAG_CBOR } from './interface.ts'
/**
 * A one-pass check that dag-cbor bytes are canonical, without decoding them into values or
 * encoding anything: what `@ipld/dag-cbor` would write for the value they hold (section 2 of
 * format-v1.md). It decides the constructs whose canonical form is plain — integers and lengths
 * in their shortest form, definite lengths, map keys that are ASCII strings in length-then-bytes
 * order without duplicates, ASCII text, byte strings, `true`/`false`/`null`, float64s that are
 * not integers, tag 42 over `0x00` ‖ a CID in its own canonical bytes — and answers `unsure` for
 * the rest (non-ASCII text, whose decoding has corner cases, and anything it does not know), so
 * the caller falls back to the re-encoding check there. It also bounds nesting, so deep input is
 * refused before a recursive decoder sees it.
 */
export type CanonicalVerdict = 'canonical' | 'not-canonical' | 'unsure' | 'too-deep'

const MAJOR_UINT = 0
const MAJOR_NEGINT = 1
const MAJOR_BYTES = 2
const MAJOR_TEXT = 3
const MAJOR_ARRAY = 4
const MAJOR_MAP = 5
const MAJOR_TAG = 6
const MAJOR_SIMPLE = 7
const CID_TAG = 42

/**
 * Reads the argument of the head at `at` (its first byte already read as `info`): returns the
 * value and moves `state.at`, or -1 when it is not in shortest form or malformed, -2 when it
 * needs more than 2^53 (only integers may: the caller handles them).
 */
function argument(bytes: Uint8Array, state: { at: number }, info: number): number {
  const at = state.at
  if (info < 24) return info
  if (info === 24) {
    if (at + 1 > bytes.length) return -1
    state.at = at + 1
    const n = bytes[at]!
    return n < 24 ? -1 : n
  }
  if (info === 25) {
    if (at + 2 > bytes.length) return -1
    state.at = at + 2
    const n = (bytes[at]! << 8) | bytes[at + 1]!
    return n < 0x100 ? -1 : n
  }
  if (info === 26) {
    if (at + 4 > bytes.length) return -1
    state.at = at + 4
    const n = bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!)
    return n < 0x10000 ? -1 : n
  }
  if (info === 27) {
    if (at + 8 > bytes.length) return -1
    state.at = at + 8
    const hi = bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!)
    if (hi === 0) return -1
    if (hi >= 0x200000) return -2
    const lo = bytes[at + 4]! * 0x1000000 + ((bytes[at + 5]! << 16) | (bytes[at + 6]! << 8) | bytes[at + 7]!)
    return hi * 0x100000000 + lo
  }
  return -1
}

/** Reads an unsigned LEB128 varint in shortest form at `state.at`; -1 when absent, too long or not shortest. */
function varint(bytes: Uint8Array, state: { at: number }, end: number): number {
  let n = 0
  let shift = 1
  for (let i = 0; i < 8; i++) {
    const at = state.at + i
    if (at >= end) return -1
    const b = bytes[at]!
    n += (b & 0x7f) * shift
    if (b < 0x80) {
      if (b === 0 && i > 0) return -1
      state.at = at + 1
      return n
    }
    shift *= 128
  }
  return -1
}

/** Whether `bytes[start, end)` are a CID exactly as `CID.bytes` would be: a v0 multihash, or v1 with shortest varints. */
function canonicalCid(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start === 34 && bytes[start] === 0x12 && bytes[start + 1] === 0x20) return true
  const s = { at: start }
  if (varint(bytes, s, end) !== 1) return false
  if (varint(bytes, s, end) < 0) return false
  if (varint(bytes, s, end) < 0) return false
  const length = varint(bytes, s, end)
  return length >= 0 && s.at + length === end
}

/**
 * Compares two map keys (ASCII text) by encoded length, then bytes: the order `@ipld/dag-cbor`
 * writes. Both ranges include their heads, so comparing lengths first is comparing encodings.
 */
function compareKeys(bytes: Uint8Array, a0: number, a1: number, b0: number, b1: number): number {
  const la = a1 - a0
  const lb = b1 - b0
  if (la !== lb) return la - lb
  for (let i = 0; i < la; i++) {
    const d = bytes[a0 + i]! - bytes[b0 + i]!
    if (d !== 0) return d
  }
  return 0
}

/** Whether `bytes[start, end)` are ASCII. */
function ascii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false
  return true
}

/** A float64 that dag-cbor writes as such: finite, not an integer within the safe range (those are written as integers), not -0. */
function canonicalFloat(bytes: Uint8Array, at: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 8)
  const x = view.getFloat64(0)
  if (!Number.isFinite(x)) return false
  if (Number.isSafeInteger(x)) return false
  return !(x === 0 && 1 / x < 0)
}

interface Level {
  /** Items left at this level (a map counts keys and values). */
  left: number
  /** For a map: where the previous key started and ended (-1 before the first). */
  keyStart: number
  keyEnd: number
  isMap: boolean
}

/**
 * Scans `bytes` as one dag-cbor item (see the module comment). `maxDepth` bounds the nesting of
 * maps and lists.
 */
export function scanCanonical(bytes: Uint8Array, maxDepth: number): CanonicalVerdict {
  const state = { at: 0 }
  const stack: Level[] = []
  let unsure = false
  let top: Level | undefined
  for (;;) {
    if (state.at >= bytes.length) return 'not-canonical'
    const itemStart = state.at
    // Is this item a map key?
    const isKey = top?.isMap === true && top.left % 2 === 0
    const first = bytes[state.at++]!
    const major = first >> 5
    const info = first & 31
    if (major === MAJOR_SIMPLE) {
      if (info === 20 || info === 21 || info === 22) {
        // false, true, null
      } else if (info === 27) {
        if (state.at + 8 > bytes.length) return 'not-canonical'
        if (!canonicalFloat(bytes, state.at)) return 'not-canonical'
        state.at += 8
      } else return 'not-canonical' // undefined (read as null), half and single floats, other simple values, breaks
      if (isKey) return 'not-canonical'
    } else {
      const n = argument(bytes, state, info)
      if (n === -1) return 'not-canonical'
      if (n === -2) {
        if (major !== MAJOR_UINT && major !== MAJOR_NEGINT) return 'not-canonical'
        unsure = true // a 64-bit integer beyond 2^53: decoded as a BigInt, let the encoder judge
      }
      switch (major) {
        case MAJOR_UINT:
        case MAJOR_NEGINT:
          if (isKey) return 'not-canonical'
          break
        case MAJOR_BYTES:
          if (isKey) return 'not-canonical'
          if (state.at + n > bytes.length) return 'not-canonical'
          state.at += n
          break
        case MAJOR_TEXT: {
          if (state.at + n > bytes.length) return 'not-canonical'
          if (!ascii(bytes, state.at, state.at + n)) unsure = true
          state.at += n
          if (isKey) {
            const t = top!
            if (t.keyStart >= 0 && compareKeys(bytes, t.keyStart, t.keyEnd, itemStart, state.at) >= 0) return 'not-canonical'
            t.keyStart = itemStart
            t.keyEnd = state.at
          }
          break
        }
        case MAJOR_TAG: {
          if (isKey || n !== CID_TAG) return 'not-canonical'
          // 42 wraps a byte string: 0x00 then the CID bytes.
          const head = bytes[state.at++]
          if (head === undefined || head >> 5 !== MAJOR_BYTES) return 'not-canonical'
          const len = argument(bytes, state, head & 31)
          if (len < 1 || state.at + len > bytes.length || bytes[state.at] !== 0) return 'not-canonical'
          if (!canonicalCid(bytes, state.at + 1, state.at + len)) return 'not-canonical'
          state.at += len
          break
        }
        case MAJOR_ARRAY:
        case MAJOR_MAP: {
          if (isKey) return 'not-canonical'
          const count = major === MAJOR_MAP ? n * 2 : n
          if (count > 0) {
            if (stack.length + 1 > maxDepth) return 'too-deep'
            if (top !== undefined) top.left--
            top = { left: count, keyStart: -1, keyEnd: -1, isMap: major === MAJOR_MAP }
            stack.push(top)
            continue
          }
          break
        }
        default:
          return 'not-canonical'
      }
    }
    // One item done at this level; close the levels it completes.
    if (top === undefined) break
    top.left--
    while (top !== undefined && top.left === 0) {
      stack.pop()
      top = stack.at(-1)
    }
    if (top === undefined) break
  }
  if (state.at !== bytes.length) return 'not-canonical'
  return unsure ? 'unsure' : 'canonical'
}

/**
 * Decodes a dag-cbor block from elsewhere (an import), bytes already verified: they must be
 * the canonical encoding of what they decode to (see isCanonicalDagCbor). CAIRN_INVALID_BLOCK
 * otherwise. Other codecs decode as with decodeTrusted (dag-pb's decoder is strict already).
 */
export function decodeCanonical<T = unknown>(cid: CID, bytes: Uint8Array): T {
  const verdict = cid.code === DAG_CBOR ? scanCanonical(bytes, Number.POSITIVE_INFINITY) : 'canonical'
  const value = decodeTrusted<T>(cid, bytes)
  if (verdict === 'not-canonical' || (verdict === 'unsure' && !isCanonicalDagCbor(bytes, value))) {
    throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} is not canonical dag-cbor (re-encoding what it decodes to gives other bytes)`, { cid })
  }
  return value
}
