import { describe, expect, test } from 'vitest'
import { CID } from 'multiformats/cid'
import { sha256 as mfSha256 } from 'multiformats/hashes/sha2'
import * as dagCbor from '@ipld/dag-cbor'
import * as raw from 'multiformats/codecs/raw'
import fc from 'fast-check'
import * as Digest from 'multiformats/hashes/digest'
import { cidFromBytes, decodeBlock, encodeRaw, encodeValue, hasLinks, linksIn, linksInValue, sha256Cid, verify, verifySync } from '../../src/block/codec.ts'
import { sha256, sha256Sync } from '../../src/block/hash.ts'

describe('block layer', () => {
  test('CIDs built over slab bytes (cidFromBytes, sha256Cid) equal what multiformats decodes and creates', () => {
    const cid = fc.oneof(
      fc
        .tuple(fc.constantFrom(0x55, 0x70, 0x71, 0x0129, 0x300001), fc.constantFrom(0x12, 0x00, 0x1e), fc.uint8Array({ minLength: 0, maxLength: 40 }))
        .map(([code, hash, digest]) => CID.createV1(code, Digest.create(hash, hash === 0x12 ? new Uint8Array(32).map((_, i) => digest[i] ?? i) : digest))),
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((d) => CID.createV0(Digest.create(0x12, d))),
    )
    fc.assert(
      fc.property(cid, fc.uint8Array({ maxLength: 8 }), (expected, junk) => {
        const framed = new Uint8Array([...junk, ...expected.bytes, ...junk])
        const got = cidFromBytes(framed, junk.length, junk.length + expected.bytes.length)
        expect(got.equals(expected)).toBe(true)
        expect(got.toString()).toBe(expected.toString())
        expect([got.version, got.code, got.multihash.code, got.multihash.size]).toEqual([expected.version, expected.code, expected.multihash.code, expected.multihash.size])
        expect([...got.multihash.digest]).toEqual([...expected.multihash.digest])
        expect([...got.multihash.bytes]).toEqual([...expected.multihash.bytes])
        expect(CID.asCID(got)).toBe(got)
        if (expected.version === 1 && expected.multihash.code === 0x12 && expected.code < 128) {
          const made = sha256Cid(expected.code, expected.multihash.digest)
          expect(made.equals(expected)).toBe(true)
          expect([made.version, made.code, made.multihash.code, made.multihash.size, [...made.multihash.bytes]]).toEqual([1, expected.code, 0x12, 32, [...expected.multihash.bytes]])
        }
      }),
      { numRuns: 300 },
    )
    // Cut short or with bytes past its end, it is no CID.
    const one = CID.createV1(0x71, Digest.create(0x12, new Uint8Array(32)))
    expect(() => cidFromBytes(one.bytes, 0, one.bytes.length - 1)).toThrow()
    expect(() => cidFromBytes(new Uint8Array([...one.bytes, 0]))).toThrow()
    // A range past the bytes given (a CID whose digest a CAR frame cuts short) is no CID either.
    expect(() => cidFromBytes(one.bytes.subarray(0, 20), 0, one.bytes.length)).toThrow()
  })

  test('dag-cbor blocks get the CIDv1/sha2-256 that multiformats computes', async () => {
    const value = { b: 2, a: [1, 'x', null, true, new Uint8Array([1, 2])], n: -5, f: 1.5 }
    const block = encodeValue(value)
    const expected = CID.createV1(dagCbor.code, await mfSha256.digest(dagCbor.encode(value)))
    expect(block.cid.equals(expected)).toBe(true)
    expect(block.cid.toString().startsWith('bafyrei')).toBe(true)
    expect((await decodeBlock(block.cid, block.bytes)).value).toEqual(value)
  })

  test('raw blocks, small and large (sync and WebCrypto hash paths agree)', async () => {
    for (const size of [0, 10, 40_000, 1_000_000]) {
      const bytes = new Uint8Array(size).map((_, i) => (i * 31) & 0xff)
      const block = await encodeRaw(bytes)
      const expected = CID.createV1(raw.code, await mfSha256.digest(bytes))
      expect(block.cid.equals(expected)).toBe(true)
      expect((await sha256(bytes)).digest).toEqual(sha256Sync(bytes).digest)
      await verify(block.cid, bytes)
    }
  })

  test('encodeRaw refuses anything but a Uint8Array (in Node a string made a block whose bytes were the string)', async () => {
    for (const bad of ['hi', new ArrayBuffer(2), [1, 2], null, new Uint16Array(2)]) {
      await expect(encodeRaw(bad as never), String(bad)).rejects.toThrow(/^"bytes" expected a Uint8Array, got (string|object|null)$/)
    }
    expect((await encodeRaw(new Uint8Array([1]))).bytes).toEqual(new Uint8Array([1]))
  })

  test('verify refuses bytes that do not match, naming the CID', async () => {
    const block = encodeValue({ hello: 'world' })
    const bad = block.bytes.slice()
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1
    await expect(verify(block.cid, bad)).rejects.toMatchObject({ code: 'CAIRN_INVALID_BLOCK', cid: block.cid })
    expect(() => verifySync(block.cid, bad)).toThrow(expect.objectContaining({ code: 'CAIRN_INVALID_BLOCK' }))
    await expect(decodeBlock(block.cid, bad)).rejects.toMatchObject({ code: 'CAIRN_INVALID_BLOCK' })
  })

  test('verify refuses other hashes and unknown codecs', async () => {
    const bytes = new Uint8Array([1, 2, 3])
    const identity = CID.createV1(raw.code, { code: 0, size: 3, digest: bytes, bytes: new Uint8Array([0, 3, 1, 2, 3]) })
    await expect(verify(identity, bytes)).rejects.toMatchObject({ code: 'CAIRN_INVALID_BLOCK' })
    const json = CID.createV1(0x0200, await mfSha256.digest(bytes))
    await expect(verify(json, bytes)).rejects.toMatchObject({ code: 'CAIRN_INVALID_BLOCK' })
  })

  test('strict values: undefined, NaN, Infinity, non-string keys, holes, classes, huge ints are typed errors with a path', () => {
    const bad: [unknown, string][] = [
      [{ a: undefined }, 'value.a'],
      [{ a: [1, NaN] }, 'value.a[1]'],
      [{ x: { y: Infinity } }, 'value.x.y'],
      [new Map([[1, 2]]), 'value'],
      // biome-ignore lint/suspicious/noSparseArray: a hole in an array is the value under test
      [[1, , 3], 'value[1]'],
      [{ d: new Date(0) }, 'value.d'],
      [{ big: 2n ** 70n }, 'value.big'],
      [{ f: () => 1 }, 'value.f'],
      [{ s: Symbol('x') }, 'value.s'],
    ]
    for (const [value, path] of bad) {
      let caught: unknown
      try {
        encodeValue(value)
      } catch (err) {
        caught = err
      }
      expect(caught, path).toMatchObject({ code: 'CAIRN_INVALID_VALUE', path })
    }
    const loop: Record<string, unknown> = {}
    loop['self'] = loop
    expect(() => encodeValue(loop)).toThrow(expect.objectContaining({ code: 'CAIRN_INVALID_VALUE' }))
  })

  test('links are found anywhere in a value', () => {
    const a = encodeValue({ a: 1 }).cid
    const b = encodeValue({ b: 1 }).cid
    expect([...linksInValue({ x: [a, { y: b }], z: 'c' })].map(String)).toEqual([a.toString(), b.toString()])
  })

  test('hasLinks answers whether linksIn finds a link', () => {
    const a = encodeValue({ a: 1 }).cid
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.constantFrom<unknown>(null, 1, 'x', new Uint8Array(2), a, { '/': a.bytes, bytes: a.bytes }), fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string(), tie('v'), { maxKeys: 3 })),
    })).v
    fc.assert(
      fc.property(value, (v) => {
        expect(hasLinks(v)).toBe(linksIn(v).length > 0)
      }),
      { numRuns: 500 },
    )
    const inherited = Object.create({ link: a }) as object
    expect([hasLinks(inherited), linksIn(inherited).length]).toEqual([false, 0])
  })
})
