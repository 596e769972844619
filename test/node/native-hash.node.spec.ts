// The Node/Deno entry installs node:crypto's sha2-256 for small blocks: it must give the same
// digests as @noble/hashes, so CIDs do not depend on the entry a store was opened through.
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { expect, test } from 'vitest'
import { encodeValue } from '../../src/block/codec.ts'
import { sha256DigestSyncInto, sha256Sync } from '../../src/block/hash.ts'
import '../../src/index.node.ts'

test('the native sha2-256 installed by the Node entry gives the digests of @noble/hashes', () => {
  for (const size of [0, 1, 31, 32, 55, 56, 63, 64, 65, 300, 1000, 4096, 40_000]) {
    const bytes = new Uint8Array(size).map((_, i) => (i * 31 + size) & 255)
    const digest = sha256Sync(bytes).digest
    expect(digest.constructor).toBe(Uint8Array)
    expect([...digest]).toEqual([...nobleSha256(bytes)])
    // The digest written into a CID's bytes (as a latin1 string, copied in) is the same.
    const out = new Uint8Array(40).fill(0xee)
    sha256DigestSyncInto(bytes, out, 3)
    expect([...out.subarray(3, 35)]).toEqual([...nobleSha256(bytes)])
    expect([...out.subarray(0, 3), ...out.subarray(35)]).toEqual(new Array(8).fill(0xee))
  }
  const value = { stream: 's', data: { memo: 'x'.repeat(200) } }
  expect(String(encodeValue(value).cid)).toBe(String(CID.createV1(dagCbor.code, Digest.create(0x12, nobleSha256(dagCbor.encode(value))))))
})
