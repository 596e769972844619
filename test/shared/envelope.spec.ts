// The event envelope writer and reader (src/log/event/envelope.ts).
//
// The writer against the reference it replaces on
// the append path, @ipld/dag-cbor's `encode`: on random events — every optional field present
// or absent, unicode streams and types (unpaired surrogates too), nested data with floats,
// negative and big integers, bytes, CIDs of several codecs and versions, null, empty maps and
// lists, signed events — the bytes must be identical, the writer must not have left the event
// to dag-cbor, and the strict import decoder must give the event back. Hand-picked edge cases
// pin the shortest-form boundaries of integers and string lengths.
//
// The reader against the strict decoding it shortcuts on import (kept below as it was,
// `decodeStrictBefore`): on random events, their byte-level mutations and hand-made
// non-canonical constructs, decodeStrictEvent must give the same value, or the same error, as
// before; and whatever the reader decodes must be canonical by the oracle (decode, re-encode,
// compare).
import * as dagCbor from '@ipld/dag-cbor'
import * as cborg from 'cborg'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import { ARENA_MAX, ByteArena } from '../../src/block/arena.ts'
import { scanCanonical } from '../../src/block/canonical.ts'
import { CidMap } from '../../src/block/cid-map.ts'
import { cborNestsDeeperThan, decodeTrusted, isCanonicalDagCbor, linksIn, linksInValue, MAX_BLOCK_DEPTH } from '../../src/block/codec.ts'
import { MAX_DEPTH, nestsDeeperThan } from '../../src/block/validate.ts'
import { CairnError } from '../../src/errors/cairn-error.ts'
import { readEnvelope } from '../../src/log/event/envelope-read.ts'
import { writeEnvelope } from '../../src/log/event/envelope.ts'
import { assertEvent, encodeEvent } from '../../src/log/event/format.ts'
import { decodeStrictEvent } from '../../src/log/event/strict.ts'
import type { EventBlock } from '../../src/log/event/interface.ts'
import { arr, bytes, cat, encodeCbor, float64, head, link, map, nested, nint, nonCanonicalCases, RawCbor, rawText, text, uint } from '../support/cbor.ts'
import { rejection } from '../support/stores.ts'

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

/** The map encodeEvent hands to dag-cbor: the fields, `v: 1`, optional ones only when set. */
function envelopeOf(e: EventBlock): Record<string, unknown> {
  const value: Record<string, unknown> = { v: 1, stream: e.stream, type: e.type, ts: e.ts, tc: e.tc, prev: e.prev, parents: e.parents, data: e.data }
  if (e.meta !== undefined) value['meta'] = e.meta
  if (e.author !== undefined) value['author'] = e.author
  if (e.sig !== undefined) value['sig'] = e.sig
  return value
}

/** `a` and `b` as the same bytes; on a difference, the hex from a few bytes before it. */
function expectBytes(a: Uint8Array, b: Uint8Array, what: string): void {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  if (i === a.length && i === b.length) return
  expect(hex(a.subarray(Math.max(0, i - 8), i + 24)), `${what}: bytes differ at ${i} (lengths ${a.length}, ${b.length})`).toBe(hex(b.subarray(Math.max(0, i - 8), i + 24)))
}

/**
 * Whether a map in the value has two keys with the same UTF-8 (unpaired surrogates are written
 * as U+FFFD): dag-cbor writes both, warning; the envelope writer leaves such a value to it.
 */
function collides(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array || CID.asCID(v) !== null) return false
  if (Array.isArray(v)) return v.some(collides)
  const keys = Object.keys(v).map(wellFormed)
  return new Set(keys).size !== keys.length || Object.values(v).some(collides)
}

/**
 * Writes `e` with the envelope writer and checks the bytes against dag-cbor's. The writer must
 * not have left the event to dag-cbor, unless a map in it has keys that collide (see collides).
 */
function sameBytes(e: EventBlock): Uint8Array {
  const value = envelopeOf(e)
  const colliding = collides(value)
  const warn = console.warn
  if (colliding) console.warn = () => undefined
  try {
    const reference = dagCbor.encode(value)
    const mine = writeEnvelope(e)
    if (colliding) expect(mine, 'colliding keys are left to dag-cbor').toBeUndefined()
    else {
      expect(mine, 'the writer left a plain event to dag-cbor').toBeDefined()
      expectBytes(mine!, reference, 'writeEnvelope')
    }
    expectBytes(encodeEvent(e).bytes, reference, 'encodeEvent')
    return reference
  } finally {
    console.warn = warn
  }
}

// --- CIDs of several versions, codecs and hashes ---------------------------------------------

const digest32 = fc.uint8Array({ minLength: 32, maxLength: 32 })
const cidV0 = digest32.map((d) => CID.createV0(Digest.create(0x12, d)))
const cidV1 = fc
  .record({
    codec: fc.constantFrom(0x71, 0x55, 0x70, 0x0129, 0x300001),
    hash: fc.constantFrom(0x12, 0x00, 0xb220, 0x1e),
    digest: fc.uint8Array({ maxLength: 80 }),
  })
  .map(({ codec, hash, digest }) => CID.createV1(codec, Digest.create(hash, digest)))
const anyCid = fc.oneof(cidV0, cidV1)
const eventCid = digest32.map((d) => CID.createV1(0x71, Digest.create(0x12, d)))

// --- Strings: ASCII, any code point, and unpaired surrogates ---------------------------------

const surrogate = fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF')
const unit = fc.oneof({ arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), weight: 4 }, { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 3 }, { arbitrary: surrogate, weight: 1 })
const anyString = fc.oneof(fc.string({ unit, maxLength: 30 }), fc.string({ unit: 'grapheme-ascii', maxLength: 300 }), fc.string({ unit: 'binary', minLength: 20, maxLength: 300 }))
const nonEmpty = anyString.filter((s) => s !== '')

// --- IPLD values --------------------------------------------------------------------------------

const integer = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.maxSafeNat(),
  fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -1, -24, -25, -256, -257, -65536, -65537, -(2 ** 32), -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
)
const bigInteger = fc.oneof(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }), fc.bigInt({ min: -(2n ** 53n), max: 2n ** 53n }), fc.constantFrom(2n ** 64n - 1n, -(2n ** 64n), 2n ** 32n, 2n ** 53n, 0n, -1n))
const leaf = fc.oneof(
  integer,
  bigInteger,
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1.0, -0, 0.5, -1.5, 2 ** 53, -(2 ** 53), 2 ** 64, 1e300, Number.MIN_VALUE, Number.EPSILON),
  fc.boolean(),
  fc.constant(null),
  anyString,
  fc.uint8Array({ maxLength: 40 }),
  anyCid,
  fc.constant({}),
  fc.constant([]),
)
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small', maxDepth: 5 }, leaf, fc.array(tie('v'), { maxLength: 5 }), fc.dictionary(anyString, tie('v'), { maxKeys: 6 })),
})).v

const meta = fc.record({ id: nonEmpty, correlation: nonEmpty, causation: nonEmpty, extra: value, 'x-1': fc.array(integer, { maxLength: 3 }) }, { requiredKeys: [] })
const stamp = fc.oneof(fc.maxSafeNat(), fc.nat(), fc.constantFrom(0, 23, 24, 255, 256, 65535, 65536, 2 ** 32, 1_700_000_000_000))

/** Format-v1 events: what the strict import decoder accepts. */
const validEvent = fc
  .record(
    {
      stream: nonEmpty,
      type: nonEmpty,
      ts: stamp,
      tc: stamp,
      prev: fc.option(eventCid, { nil: null }),
      parents: fc.uniqueArray(eventCid, { maxLength: 4, selector: (c) => c.toString() }),
      data: value,
      meta: fc.option(meta, { nil: undefined }),
      author: fc.option(fc.string({ maxLength: 60 }), { nil: undefined }),
      sig: fc.option(fc.uint8Array({ minLength: 64, maxLength: 64 }), { nil: undefined }),
    },
    { requiredKeys: ['stream', 'type', 'ts', 'tc', 'prev', 'parents', 'data'] },
  )
  .map((e) => {
    const parents = [...e.parents].sort((a, b) => {
      for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return a.bytes[i]! - b.bytes[i]!
      return 0
    })
    const event: EventBlock = { v: 1, stream: e.stream, type: e.type, ts: e.ts, tc: e.tc, prev: e.prev, parents, data: e.data }
    if (e.meta !== undefined) event.meta = e.meta
    if (e.author !== undefined) event.author = e.author
    if (e.sig !== undefined) event.sig = e.sig
    return event
  })

/** Events the writer must encode as dag-cbor does even where they break format v1 (links of any codec, unsorted parents, any numbers as stamps). */
const looseEvent = fc
  .record(
    {
      stream: anyString,
      type: anyString,
      ts: fc.oneof(stamp, integer, fc.double({ noNaN: true, noDefaultInfinity: true })),
      tc: fc.oneof(stamp, bigInteger),
      prev: fc.option(anyCid, { nil: null }),
      parents: fc.array(anyCid, { maxLength: 4 }),
      data: value,
      meta: fc.option(fc.dictionary(anyString, value, { maxKeys: 4 }), { nil: undefined }),
      author: fc.option(anyString, { nil: undefined }),
      sig: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
    },
    { requiredKeys: ['stream', 'type', 'ts', 'tc', 'prev', 'parents', 'data'] },
  )
  .map((e) => {
    const event = { v: 1, ...e } as EventBlock
    for (const k of ['meta', 'author', 'sig'] as const) if (event[k] === undefined) delete event[k]
    return event
  })

/** `s` with each unpaired surrogate replaced by U+FFFD (String.prototype.toWellFormed, ES2024). */
const wellFormed = (s: string): string => s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')

/**
 * What a value becomes through dag-cbor and back: -0 is written as 0, a bigint within the safe
 * range is read as a number, unpaired surrogates are written as U+FFFD.
 */
function roundTripped(v: unknown): unknown {
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : v
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v
  if (typeof v === 'string') return wellFormed(v)
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array || CID.asCID(v) !== null) return v
  if (Array.isArray(v)) return v.map(roundTripped)
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [wellFormed(k), roundTripped(x)]))
}

/**
 * Whether a string in the value starts with U+FEFF: @ipld/dag-cbor's decoder (a TextDecoder that
 * consumes a byte-order mark) drops it, so such a value does not come back as it went in.
 */
const startsWithBom = (v: unknown): boolean =>
  typeof v === 'string' ? v.startsWith('\uFEFF') : v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && CID.asCID(v) === null && Object.entries(v).some(([k, x]) => k.startsWith('\uFEFF') || startsWithBom(x))

/** Whether a map in the value has a `__proto__` key (the reader leaves those to cborg, which sets it as an own property). */
const hasProtoKey = (v: unknown): boolean => v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && CID.asCID(v) === null && Object.entries(v).some(([k, x]) => k === '__proto__' || hasProtoKey(x))

/** Whether the value holds an integer beyond the safe range (which cborg reads as a BigInt: the reader leaves those to it). */
const hasBigInt = (v: unknown): boolean =>
  typeof v === 'bigint' ? v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER) : v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && CID.asCID(v) === null && Object.values(v).some(hasBigInt)

/** Links compared by their bytes (decoded CIDs are views into other buffers). */
const comparable = (v: unknown): unknown => {
  const cid = v !== null && typeof v === 'object' ? CID.asCID(v) : null
  if (cid !== null) return { cid: hex(cid.bytes) }
  if (v instanceof Uint8Array) return { bytes: hex(v) }
  if (v === null || typeof v !== 'object') return v
  if (Array.isArray(v)) return v.map(comparable)
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, comparable(x)]))
}

describe('event envelope writer', () => {
  test('random format-v1 events: the bytes of dag-cbor, and the strict decoder gives the event back', async () => {
    let checked = 0
    const events = fc.sample(validEvent, { numRuns: 1000 })
    for (const e of events) {
      const bytes = sameBytes(e)
      if (startsWithBom(envelopeOf(e)) || collides(envelopeOf(e))) continue
      const cid = CID.createV1(0x71, await sha256.digest(bytes))
      const back = decodeStrictEvent(cid, bytes)
      expect(comparable(back)).toEqual(comparable(roundTripped(envelopeOf(e))))
      checked++
    }
    expect(checked).toBeGreaterThan(700)
  })

  test('random events beyond format v1 (links of any codec and version, odd stamps): the bytes of dag-cbor', () => {
    fc.assert(
      fc.property(looseEvent, (e) => {
        sameBytes(e)
      }),
      { numRuns: 1500 },
    )
  })

  test('boundaries of shortest forms: integers, floats, bigints and string lengths', () => {
    const base: EventBlock = { v: 1, stream: 's', type: 't', ts: 0, tc: 0, prev: null, parents: [], data: null }
    const ints = [0, 1, 23, 24, 25, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, -1, -24, -25, -26, -256, -257, -65536, -65537, -(2 ** 32), -(2 ** 32) - 1, Number.MIN_SAFE_INTEGER]
    const floats = [1.0, -1.0, 0.5, -0, 2 ** 53, -(2 ** 53), 2 ** 64, 1e300, -1e-300, Number.MIN_VALUE, Number.MAX_VALUE]
    const bigs = [0n, 23n, 24n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n, -1n, -25n, -(2n ** 32n), -(2n ** 32n) - 1n, -(2n ** 64n)]
    // Byte lengths around each head boundary, in ASCII and with multi-byte UTF-8 (é: 2 bytes, €: 3, 😀: 4).
    const strings: string[] = []
    for (const n of [0, 1, 22, 23, 24, 25, 254, 255, 256, 257, 65534, 65535, 65536, 65537]) {
      strings.push('a'.repeat(n))
      for (const [c, w] of [
        ['é', 2],
        ['€', 3],
        ['😀', 4],
      ] as const) {
        const k = Math.floor(n / w)
        strings.push(c.repeat(k) + 'a'.repeat(n - k * w))
        if (k > 0) strings.push(c.repeat(k - 1) + 'a'.repeat(n - (k - 1) * w))
      }
      strings.push(`${'\uD800'.repeat(Math.floor(n / 3))}${'a'.repeat(n % 3)}`)
    }
    for (const x of [...ints, ...floats, ...bigs, ...strings]) {
      sameBytes({ ...base, data: x })
      if (typeof x !== 'string' || x.length < 1000) sameBytes({ ...base, data: { [typeof x === 'string' ? x || 'k' : 'k']: [x] } })
    }
    for (const s of strings.filter((x) => x !== '' && x.length < 1000)) sameBytes({ ...base, stream: s, type: s, author: s })
    for (const n of [0, 1, 23, 24, 255, 256, 65536]) sameBytes({ ...base, sig: new Uint8Array(n).fill(7), data: new Uint8Array(n) })
    for (const ts of [0, 23, 24, 255, 256, 65535, 65536, 2 ** 32, 1_700_000_000_000, Number.MAX_SAFE_INTEGER]) sameBytes({ ...base, ts, tc: ts })

    // A few bytes spelled out, so that the reference itself is pinned.
    const one = (data: unknown): string => {
      // Between the keys `data` (0x64 "data") and `prev` (0x64 "prev"), which follows it here.
      const h = hex(writeEnvelope({ ...base, data })!)
      return h.slice(h.indexOf('6464617461') + 10, h.indexOf('6470726576'))
    }
    expect(one(1.0)).toBe('01')
    expect(one(-0)).toBe('00')
    expect(one(24)).toBe('1818')
    expect(one(-25)).toBe('3818')
    expect(one(256)).toBe('190100')
    expect(one(2 ** 32)).toBe('1b0000000100000000')
    expect(one(1.5)).toBe('fb3ff8000000000000')
    expect(one(2 ** 53)).toBe('fb4340000000000000')
    expect(one(5n)).toBe('05')
    expect(one('é'.repeat(12))).toBe(`7818${'c3a9'.repeat(12)}`)
  })

  test('key order: length first, then bytes, also for keys beyond ASCII', () => {
    const base: EventBlock = { v: 1, stream: 's', type: 't', ts: 1, tc: 2, prev: null, parents: [], data: null }
    sameBytes({ ...base, data: { b: 1, a: 2, aa: 3, B: 4, '': 5, é: 6, z: 7, '\u00ff': 8, '\uFFFF': 9, '😀': 10, 'a\u0000': 11 } })
    sameBytes({ ...base, data: { '\uE000': 1, '😀': 2, '\uD7FF': 3 } }) // UTF-16 order and byte order differ here
    sameBytes({ ...base, meta: { id: 'x', zz: { b: [], a: {} } }, author: 'did:key:z6Mk', sig: new Uint8Array(64) })
    sameBytes({ ...base, data: { '/': 'not a link', bytes: 'x', asCid: 1 } })
    sameBytes({ ...base, data: Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: { d: 2, c: 3 } }) })
    // The envelope's own order: v, tc, ts, sig, data, meta, prev, type, author, stream, parents.
    const all = writeEnvelope({ ...base, meta: {}, author: 'a', sig: new Uint8Array(0) })!
    const keys: string[] = []
    for (const [k] of cborg.decode(all, { ...dagCbor.decodeOptions, useMaps: true }) as unknown as Map<string, unknown>) keys.push(k)
    expect(keys).toEqual(['v', 'tc', 'ts', 'sig', 'data', 'meta', 'prev', 'type', 'author', 'stream', 'parents'])
  })

  test('what the writer leaves to dag-cbor gets dag-cbor’s bytes, or its refusal, as before', async () => {
    const base: EventBlock = { v: 1, stream: 's', type: 't', ts: 1, tc: 0, prev: null, parents: [], data: null }
    class Point {
      x = 1
    }
    const cid = CID.createV1(0x71, Digest.create(0x12, new Uint8Array(32).fill(9)))
    // A CID as another copy of multiformats makes it: dag-cbor recognises it by `asCID`.
    const foreign: Record<string, unknown> = { version: 1, code: cid.code, multihash: cid.multihash, bytes: cid.bytes }
    foreign['asCID'] = foreign
    const slashBytes = Uint8Array.of(1)
    const odd = [
      foreign,
      { '/': cid.bytes, bytes: cid.bytes, version: 1, code: cid.code, multihash: cid.multihash },
      { '/': slashBytes, bytes: slashBytes, x: 1 },
      { '\uD800': 1, '\uDBFF': 2 },
      { [Symbol.for('@ipld/js-cid/CID')]: true, version: 1, code: cid.code, multihash: cid.multihash.bytes },
      { asCID: 1 },
      new Point(),
      new Map([['a', 1]]),
      { [Symbol.toStringTag]: 'Tagged', a: 1 },
      Object.setPrototypeOf([1, 2], Object.create(Array.prototype)),
    ]
    const warn = console.warn
    console.warn = () => undefined // dag-cbor warns about the colliding keys
    try {
      for (const data of odd) {
        expect(writeEnvelope({ ...base, data })).toBeUndefined()
        let reference: Uint8Array | undefined
        try {
          reference = dagCbor.encode(envelopeOf({ ...base, data }))
        } catch {
          reference = undefined
        }
        if (reference === undefined) expect(await rejection((async () => encodeEvent({ ...base, data }))())).toMatchObject({ code: 'CAIRN_INVALID_VALUE' })
        else expectBytes(encodeEvent({ ...base, data }).bytes, reference, 'encodeEvent')
      }
    } finally {
      console.warn = warn
    }
    // What dag-cbor refuses is refused as before (assertIpld refuses it first on a real append).
    for (const data of [undefined, [1, undefined], { a: Number.NaN }, Number.POSITIVE_INFINITY, 2n ** 64n, -(2n ** 64n) - 1n, () => 1, Symbol('s')]) {
      expect(writeEnvelope({ ...base, data })).toBeUndefined()
      expect(await rejection((async () => encodeEvent({ ...base, data }))())).toMatchObject({ code: 'CAIRN_INVALID_VALUE' })
    }
    // Nesting past what assertIpld lets through is left to dag-cbor as well.
    let deep: unknown = null
    for (let i = 0; i < MAX_DEPTH + 20; i++) deep = [deep]
    expect(writeEnvelope({ ...base, data: deep })).toBeUndefined()
    expect(hex(encodeEvent({ ...base, data: deep }).bytes)).toBe(hex(dagCbor.encode(envelopeOf({ ...base, data: deep }))))
  })

  test('large values grow the buffer, and each result owns its bytes', () => {
    const base: EventBlock = { v: 1, stream: 's', type: 't', ts: 1, tc: 0, prev: null, parents: [], data: null }
    const bigEvent: EventBlock = { ...base, data: { blob: new Uint8Array(1 << 20).fill(3), text: 'é'.repeat(70_000), list: Array.from({ length: 10_000 }, (_, i) => i * 1000) } }
    sameBytes(bigEvent)
    const big = writeEnvelope(bigEvent)!
    const copy = hex(big)
    const small = writeEnvelope({ ...base, data: 'x' })!
    writeEnvelope({ ...base, data: 'y'.repeat(5000) })
    expect(hex(big)).toBe(copy)
    expect(hex(small)).toBe(hex(dagCbor.encode(envelopeOf({ ...base, data: 'x' }))))
    expect(big.buffer.byteLength).toBe(big.length)
    expect(small.buffer.byteLength).toBe(small.length)
  })

  test('with an arena, the same bytes as views into shared buffers sized for the blocks expected', () => {
    const base: EventBlock = { v: 1, stream: 's', type: 't', ts: 1, tc: 0, prev: null, parents: [], data: null }
    const events = Array.from({ length: 300 }, (_, i): EventBlock => ({ ...base, ts: i, data: { i, memo: 'm'.repeat(i % 7 === 0 ? 3000 : 200) } }))
    const arena = new ByteArena(events.length)
    const written = events.map((e) => writeEnvelope(e, arena)!)
    events.forEach((e, i) => {
      expect(hex(written[i]!)).toBe(hex(dagCbor.encode(envelopeOf(e))))
    })
    // Many blocks per buffer, none larger than ARENA_MAX unless one block is.
    const buffers = new Set(written.map((b) => b.buffer))
    expect(buffers.size).toBeLessThan(events.length / 10)
    for (const b of buffers) expect(b.byteLength).toBeLessThanOrEqual(ARENA_MAX)
    // The last buffer is sized for what was still expected, not a full MAX.
    const last = new ByteArena(2)
    const [x, y] = [writeEnvelope(events[1]!, last)!, writeEnvelope(events[2]!, last)!]
    expect(x.buffer).toBe(y.buffer)
    expect(x.buffer.byteLength).toBe(2 * x.length)
    // A block larger than the rest of a buffer gets a buffer of its own size at least.
    const one = new ByteArena(1)
    const bigger = writeEnvelope({ ...base, data: 'z'.repeat(100_000) }, one)!
    expect(bigger.buffer.byteLength).toBe(bigger.length)
  })
})

// --- The reader --------------------------------------------------------------------------------

/** decodeStrictEvent as it was before the envelope reader: scan, cborg, re-encoding where unsure, the format checks. */
function decodeStrictBefore(cid: CID, bytes: Uint8Array): EventBlock {
  const invalid = (why: string): never => {
    throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} is invalid: ${why}`, { cid })
  }
  const verdict = scanCanonical(bytes, MAX_BLOCK_DEPTH)
  if (verdict === 'too-deep' || (verdict === 'not-canonical' && cborNestsDeeperThan(bytes, MAX_BLOCK_DEPTH))) invalid(`"data" or "meta" nests deeper than ${MAX_DEPTH} levels`)
  const value = decodeTrusted<EventBlock>(cid, bytes, verdict !== 'not-canonical')
  if (verdict === 'not-canonical' || (verdict === 'unsure' && !isCanonicalDagCbor(bytes, value))) invalid('its bytes are not canonical dag-cbor (re-encoding what they decode to gives other bytes)')
  assertEvent(value, cid)
  if (nestsDeeperThan(value.data, MAX_DEPTH) || (value.meta !== undefined && nestsDeeperThan(value.meta, MAX_DEPTH))) invalid(`"data" or "meta" nests deeper than ${MAX_DEPTH} levels`)
  return value
}

/** What a decoder made of bytes: the value (links and bytes as hex, bigints kept apart from numbers), or the error's code and message. */
function outcome(decode: () => unknown): unknown {
  try {
    return { value: comparable(decode()) }
  } catch (err) {
    return { error: `${(err as CairnError).code}: ${(err as Error).message}` }
  }
}

/** The oracle: bytes decode and re-encode to themselves. */
function oracle(b: Uint8Array): boolean {
  try {
    const again = dagCbor.encode(dagCbor.decode(b))
    return again.length === b.length && again.every((x, i) => x === b[i])
  } catch {
    return false
  }
}

const someCid = CID.createV1(0x71, Digest.create(0x12, new Uint8Array(32).fill(1)))

/** decodeStrictEvent decides as before; when the reader decided, the bytes are canonical and it read what cborg reads. */
function decidesAsBefore(b: Uint8Array, name = ''): void {
  const now = outcome(() => decodeStrictEvent(someCid, b))
  expect(now, `${name} ${hex(b)}`).toEqual(outcome(() => decodeStrictBefore(someCid, b)))
  const read = readEnvelope(b)
  if (read !== undefined) {
    expect(oracle(b), `the reader decoded non-canonical bytes ${name} ${hex(b)}`).toBe(true)
    expect(comparable(read)).toEqual(comparable(decodeTrusted(someCid, b)))
  }
}

/** An event's bytes, hand-made in canonical key order, with `data` spliced in as it is. */
const eventWith = (data: Uint8Array, extra: Record<string, unknown> = {}): Uint8Array => encodeCbor({ v: 1, stream: 's', type: 't', ts: 5, tc: 0, prev: null, parents: [], data: new RawCbor(data), ...extra })

describe('event envelope reader', () => {
  test('random format-v1 events: read in one pass, as before', async () => {
    let read = 0
    for (const e of fc.sample(validEvent, { numRuns: 700 })) {
      const value = envelopeOf(e)
      if (collides(value)) continue
      const b = dagCbor.encode(value)
      decidesAsBefore(b)
      if (!startsWithBom(value) && !hasBigInt(value) && !hasProtoKey(value)) {
        expect(readEnvelope(b), `the reader left a plain event to the full path: ${hex(b)}`).toBeDefined()
        read++
      }
    }
    expect(read).toBeGreaterThan(300)
  })

  test('known CIDs: a link to one decodes to that very CID object, and the value is the same as without them', async () => {
    let reused = 0
    for (const e of fc.sample(validEvent, { numRuns: 300 })) {
      const value = envelopeOf(e)
      if (collides(value) || startsWithBom(value)) continue
      const b = dagCbor.encode(value)
      const cid = CID.createV1(0x71, await sha256.digest(b))
      const plain = decodeStrictEvent(cid, b)
      // The links as other objects with the same bytes, as an import holds its blocks' CIDs.
      const known = new CidMap<true>()
      for (const link of linksInValue(value)) known.set(CID.decode(link.bytes.slice()), true)
      const withKnown = decodeStrictEvent(cid, b, known)
      expect(comparable(withKnown)).toEqual(comparable(plain))
      if (readEnvelope(b) === undefined) continue
      for (const link of linksInValue(withKnown)) {
        expect(link).toBe(known.keyAt(link.bytes, 0, link.bytes.length))
        reused++
      }
    }
    expect(reused).toBeGreaterThan(100)
  })

  test('linksIn finds the CIDs linksInValue yields, in the same order', () => {
    let links = 0
    for (const e of fc.sample(fc.oneof(validEvent, looseEvent), { numRuns: 500 })) {
      for (const v of [e.data, e.meta, envelopeOf(e)]) {
        const want = [...linksInValue(v)]
        expect(linksIn(v)).toEqual(want)
        links += want.length
      }
    }
    expect(links).toBeGreaterThan(200)
  })

  test('map keys through the key cache: many keys of each length, ASCII or not, read as dag-cbor reads them', () => {
    const keyOf = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é', '_', '\u0000', 'z'), minLength: 1, maxLength: 40 })
    fc.assert(
      fc.property(fc.uniqueArray(keyOf, { minLength: 1, maxLength: 30 }), (keys) => {
        const value = { m: Object.fromEntries(keys.map((k, i) => [k, i])), n: [Object.fromEntries(keys.map((k) => [k, k]))] }
        const b = dagCbor.encode(value)
        const read = readEnvelope(b)
        if (read !== undefined) expect(comparable(read)).toEqual(comparable(dagCbor.decode(b)))
      }),
      { numRuns: 2000 },
    )
  })

  test('mutated events: the same value or the same error as before', () => {
    fc.assert(
      fc.property(fc.oneof(validEvent, looseEvent), fc.nat(), fc.nat(255), fc.constantFrom('flip', 'insert', 'delete', 'truncate'), (e, where, byte, how) => {
        const value = envelopeOf(e)
        if (collides(value)) return
        const b = dagCbor.encode(value)
        const at = where % (b.length + 1)
        const m =
          how === 'flip' && at < b.length
            ? b.map((x, i) => (i === at ? byte : x))
            : how === 'insert'
              ? cat(b.subarray(0, at), Uint8Array.of(byte), b.subarray(at))
              : how === 'truncate'
                ? b.subarray(0, at)
                : cat(b.subarray(0, at), b.subarray(at + 1))
        decidesAsBefore(m, how)
      }),
      { numRuns: 3000 },
    )
  })

  test('hand-made constructs: canonical ones read, the rest left to the full path, decided as before', () => {
    const cidV0 = CID.createV0(Digest.create(0x12, new Uint8Array(32).fill(2)))
    const bigCodec = CID.createV1(0x300001, Digest.create(0x12, new Uint8Array(32).fill(3)))
    const identity = CID.createV1(0x55, Digest.create(0x00, new Uint8Array(100).fill(4)))
    const plain: [string, Uint8Array][] = [
      [
        'sorted keys',
        map([
          ['a', uint(1)],
          ['b', text('x')],
          ['aa', uint(2)],
        ]),
      ],
      ['keys beyond ASCII', encodeCbor({ é: 1, z: 2, '😀': 3, '\uE000': 4 })],
      ['integers at head boundaries', arr([0, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER].map((n) => uint(n)))],
      ['negative integers at head boundaries', arr([-1, -24, -25, -256, -257, -65536, -65537, -(2 ** 32), -(2 ** 32) - 1, Number.MIN_SAFE_INTEGER].map((n) => nint(n)))],
      ['floats', arr([1.5, -0.25, 2 ** 53, -(2 ** 53), 1e300, Number.MIN_VALUE].map(float64))],
      ['text of every head width', arr([text('a'.repeat(23)), text('é'.repeat(12)), text('x'.repeat(300)), text('€'.repeat(22_000))])],
      ['a CIDv0, a CID with a wide codec, an identity CID', arr([link(cidV0), link(bigCodec), link(identity)])],
      ['empty map and list, bytes', arr([map([]), arr([]), bytes(new Uint8Array(300))])],
      ['nesting at the limit', nested(MAX_DEPTH - 1, arr([]))],
    ]
    for (const [name, data] of plain) {
      const b = eventWith(data)
      expect(oracle(b), name).toBe(true)
      expect(readEnvelope(b), name).toBeDefined()
      decidesAsBefore(b, name)
    }
    const unsure: [string, Uint8Array][] = [
      ...nonCanonicalCases(someCid),
      ['a non-minimal 16-bit integer', head(0, 200, 2)],
      ['a non-minimal 32-bit integer', head(0, 300, 4)],
      ['a non-minimal 64-bit integer', head(0, 70_000, 8)],
      ['a non-minimal negative integer', head(1, 100, 2)],
      ['a non-minimal list length', cat(head(4, 1, 2), uint(1))],
      ['a non-minimal map length', cat(head(5, 1, 4), text('a'), uint(1))],
      ['a non-minimal bytes length', cat(head(2, 1, 8), Uint8Array.of(7))],
      ['NaN', float64(Number.NaN)],
      ['Infinity', float64(Number.POSITIVE_INFINITY)],
      ['tag 42 in a wide head', cat(head(6, 42, 2), bytes(cat(Uint8Array.of(0), someCid.bytes)))],
      ['a CID cut short', cat(head(6, 42), bytes(cat(Uint8Array.of(0), someCid.bytes.subarray(0, 20))))],
      ['tag 42 over text', cat(head(6, 42), text('x'))],
      ['a UTF-8 surrogate', rawText(Uint8Array.of(0xed, 0xa0, 0x80))],
      ['text starting with U+FEFF', text('\uFEFFhello')],
      ['a key starting with U+FEFF', map([['\uFEFFk', uint(1)]])],
      ['a __proto__ key', map([['__proto__', map([['a', uint(1)]])]])],
      ['2^53 as an integer', uint(2n ** 53n)],
      ['2^64 − 1', uint(2n ** 64n - 1n)],
      ['−2^53', nint(-(2n ** 53n))],
      ['−2^64', nint(-(2n ** 64n))],
      ['nesting past the limit', nested(MAX_DEPTH, arr([]))],
      ['nesting far past the limit', nested(MAX_DEPTH + 50)],
    ]
    for (const [name, data] of unsure) {
      const b = eventWith(data)
      expect(readEnvelope(b), name).toBeUndefined()
      decidesAsBefore(b, name)
    }
    // The envelope itself: trailing bytes, an unknown or misplaced key, fields of the wrong type.
    const ok = eventWith(uint(1))
    for (const [name, b] of [
      ['trailing bytes', cat(ok, uint(0))],
      ['an unknown key', encodeCbor({ v: 1, stream: 's', type: 't', ts: 5, tc: 0, prev: null, parents: [], data: 1, zzz: 1 })],
      ['keys out of order', encodeCbor({ v: 1, stream: 's', type: 't', ts: 5, tc: 0, prev: null, parents: [], data: 1 }, { keys: 'reverse' })],
      ['v: 2', encodeCbor({ v: 2, stream: 's', type: 't', ts: 5, tc: 0, prev: null, parents: [], data: 1 })],
      ['a float stamp', encodeCbor({ v: 1, stream: 's', type: 't', ts: 5.5, tc: 0, prev: null, parents: [], data: 1 })],
      ['parents unsorted', encodeCbor({ v: 1, stream: 's', type: 't', ts: 5, tc: 0, prev: null, parents: [someCid, cidV0], data: 1 })],
      ['a raw prev', encodeCbor({ v: 1, stream: 's', type: 't', ts: 5, tc: 0, prev: identity, parents: [], data: 1 })],
      ['meta.id empty', encodeCbor({ v: 1, stream: 's', type: 't', ts: 5, tc: 0, prev: null, parents: [], data: 1, meta: { id: '' } })],
      ['not a map', arr([uint(1)])],
      ['empty', new Uint8Array(0)],
    ] as [string, Uint8Array][]) {
      decidesAsBefore(b, name)
    }
  })
})
