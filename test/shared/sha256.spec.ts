// The plain-JS sha2-256 (src/block/sha256.ts) that hashes small blocks in browsers: FIPS 180-4's
// known answers, then WebCrypto's digests across the padding boundaries, incremental feeding,
// clones and digests taken midway.
import { describe, expect, test } from 'vitest'
import { Sha256, sha256 } from '../../src/block/sha256.ts'

const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const webcrypto = async (bytes: Uint8Array): Promise<string> => hex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)))
/** Deterministic bytes, different for each length. */
const bytesOf = (n: number): Uint8Array => new Uint8Array(n).map((_, i) => (i * 131 + n * 7 + (i >> 8)) & 255)

describe('sha2-256 in plain JS', () => {
  test('gives the known answers of FIPS 180-4', () => {
    expect(hex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(hex(sha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    expect(hex(sha256(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')))).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1')
    expect(hex(sha256(new Uint8Array(1_000_000).fill(0x61)))).toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0')
  })

  test('gives the digests of WebCrypto for every length around the padding boundaries, and for large inputs', async () => {
    const lengths = [...Array.from({ length: 200 }, (_, n) => n), 255, 256, 257, 1000, 4095, 4096, 4097, 65_536, 100_003]
    for (const n of lengths) {
      const bytes = bytesOf(n)
      const digest = sha256(bytes)
      expect(digest.constructor).toBe(Uint8Array)
      expect(digest.length).toBe(32)
      expect(hex(digest), `length ${n}`).toBe(await webcrypto(bytes))
    }
  })

  test('hashes a view into a larger buffer by its own bytes only', async () => {
    const backing = bytesOf(1000)
    const view = backing.subarray(3, 3 + 130)
    expect(hex(sha256(view))).toBe(await webcrypto(view.slice()))
  })

  test('fed in pieces of any size, gives the digest of the whole', async () => {
    const bytes = bytesOf(1500)
    const whole = await webcrypto(bytes)
    for (const piece of [1, 3, 63, 64, 65, 127, 500]) {
      const stream = new Sha256()
      for (let at = 0; at < bytes.length; at += piece) stream.update(bytes.subarray(at, at + piece))
      expect(hex(stream.digest()), `pieces of ${piece}`).toBe(whole)
    }
    // Uneven pieces, with empty ones between.
    const stream = new Sha256()
    let at = 0
    for (const n of [0, 7, 0, 60, 1, 200, 0, 64, 1168]) {
      stream.update(bytes.subarray(at, at + n))
      at += n
    }
    expect(at).toBe(bytes.length)
    expect(hex(stream.digest())).toBe(whole)
  })

  test('digest does not end the stream, and a clone goes on independently of its original', async () => {
    const a = bytesOf(100)
    const b = bytesOf(77)
    const stream = new Sha256().update(a)
    expect(hex(stream.digest())).toBe(await webcrypto(a))
    const checkpoint = stream.clone()
    stream.update(b)
    expect(hex(stream.digest())).toBe(await webcrypto(new Uint8Array([...a, ...b])))
    // The clone still holds `a` only, and takes other bytes without touching the original.
    expect(hex(checkpoint.digest())).toBe(await webcrypto(a))
    checkpoint.update(a)
    expect(hex(checkpoint.digest())).toBe(await webcrypto(new Uint8Array([...a, ...a])))
    expect(hex(stream.digest())).toBe(await webcrypto(new Uint8Array([...a, ...b])))
  })
})
