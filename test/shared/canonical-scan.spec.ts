// The one-pass canonical scan (src/block/canonical.ts) against the oracle it replaces on the
// hot path: decode with @ipld/dag-cbor, re-encode, compare bytes. On random values, their
// encodings and byte-level mutations of them, a `canonical` verdict must mean the oracle
// agrees and `not-canonical` that the oracle refuses; `unsure` defers to the oracle.
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import { scanCanonical } from '../../src/block/canonical.ts'
import { cborNestsDeeperThan } from '../../src/block/codec.ts'
import { arr, bytes, cat, float64, map, nonCanonicalCases, nul, text, uint } from '../support/cbor.ts'

const cid = CID.createV1(0x71, await sha256.digest(new Uint8Array([1, 2, 3])))

/** The oracle: bytes decode and re-encode to themselves. */
function oracle(b: Uint8Array): boolean {
  try {
    const again = dagCbor.encode(dagCbor.decode(b))
    return again.length === b.length && again.every((x, i) => x === b[i])
  } catch {
    return false
  }
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

function agrees(b: Uint8Array): void {
  const verdict = scanCanonical(b, 600)
  if (verdict === 'canonical') expect(oracle(b), `scan says canonical: ${hex(b)}`).toBe(true)
  if (verdict === 'not-canonical') expect(oracle(b), `scan says not canonical: ${hex(b)}`).toBe(false)
}

const asciiString = fc.string({ unit: fc.constantFrom(...'abcxyz_-. 019AZ'.split('')), maxLength: 12 })
const leaf = fc.oneof(
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  asciiString,
  fc.string({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 16 }),
  fc.constant(cid),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n - 1n }),
)
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.oneof(asciiString, fc.string({ maxLength: 4 })), tie('v'), { maxKeys: 4 })),
})).v

const asciiValue = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), asciiString, fc.uint8Array({ maxLength: 8 }), fc.constant(cid)),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(asciiString, tie('v'), { maxKeys: 4 }),
  ),
})).v

describe('canonical scan', () => {
  test('encodings of random values are never called non-canonical; ASCII-only ones are decided canonical', () => {
    fc.assert(
      fc.property(value, (v) => {
        const b = dagCbor.encode(v)
        expect(scanCanonical(b, 600)).not.toBe('not-canonical')
        agrees(b)
      }),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(asciiValue, (v) => {
        expect(scanCanonical(dagCbor.encode(v), 600)).toBe('canonical')
      }),
      { numRuns: 1000 },
    )
  })

  test('mutated encodings: a decided verdict always matches the oracle', () => {
    fc.assert(
      fc.property(value, fc.nat(), fc.nat(255), fc.constantFrom('flip', 'insert', 'delete'), (v, where, byte, how) => {
        const b = dagCbor.encode(v)
        const at = where % (b.length + 1)
        const m = how === 'flip' && at < b.length ? b.map((x, i) => (i === at ? byte : x)) : how === 'insert' ? cat(b.subarray(0, at), Uint8Array.of(byte), b.subarray(at)) : cat(b.subarray(0, at), b.subarray(at + 1))
        agrees(m)
      }),
      { numRuns: 5000 },
    )
  })

  test('each non-canonical construct is refused by both', () => {
    const cases: [string, Uint8Array][] = [...nonCanonicalCases(cid), ['trailing bytes', cat(uint(1), uint(2))]]
    for (const [name, b] of cases) {
      expect(oracle(b), name).toBe(false)
      expect(scanCanonical(b, 600), name).not.toBe('canonical')
    }
    const fine: [string, Uint8Array][] = [
      [
        'sorted keys',
        map([
          ['a', uint(1)],
          ['b', text('x')],
          ['aa', nul],
        ]),
      ],
      ['a CID', dagCbor.encode({ link: cid })],
      ['a float', float64(1.5)],
      ['a list', arr([uint(1), bytes(Uint8Array.of(1))])],
    ]
    for (const [name, b] of fine) {
      expect(oracle(b), name).toBe(true)
      expect(scanCanonical(b, 600), name).toBe('canonical')
    }
  })

  test('depth: too-deep exactly where cborNestsDeeperThan says so', () => {
    for (const depth of [1, 2, 5, 10]) {
      let b: Uint8Array = uint(1)
      for (let i = 0; i < depth; i++) b = arr([b])
      for (const max of [depth - 1, depth, depth + 1]) {
        expect(scanCanonical(b, max) === 'too-deep').toBe(cborNestsDeeperThan(b, max))
      }
    }
  })
})
