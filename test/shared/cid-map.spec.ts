// CidMap/CidSet: keyed by CID bytes, so CIDs that collide in the 32-bit bucket key still differ.
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { describe, expect, test } from 'vitest'
import { CidMap, CidSet } from '../../src/block/cid-map.ts'

/** A CIDv1 dag-cbor whose digest is `first` repeated, ending in the same four bytes for every `first`. */
const cidOf = (first: number): CID => {
  const digest = new Uint8Array(32).fill(first)
  digest.set([9, 9, 9, 9], 28)
  return CID.createV1(0x71, Digest.create(0x12, digest))
}

describe('CidMap', () => {
  test('colliding bucket keys stay apart; equal bytes are one key; delete unlinks within a bucket', () => {
    const [a, b, c] = [cidOf(1), cidOf(2), cidOf(3)]
    const m = new CidMap<string>([
      [a, 'a'],
      [b, 'b'],
    ])
    m.set(c, 'c')
    m.set(CID.parse(a.toString()), 'a2')
    expect([m.size, m.get(a), m.get(b), m.get(c)]).toEqual([3, 'a2', 'b', 'c'])
    expect(m.delete(b)).toBe(true)
    expect(m.delete(b)).toBe(false)
    expect([m.has(a), m.has(b), m.has(c), m.size]).toEqual([true, false, true, 2])
    expect([...m.values()].sort()).toEqual(['a2', 'c'])
    expect(m.delete(c) && m.delete(a)).toBe(true)
    expect([m.size, [...m.keys()].length]).toEqual([0, 0])
    const s = new CidSet([a, a, b])
    expect([s.size, s.has(CID.parse(b.toString())), s.has(c)]).toEqual([2, true, false])
  })
})
