import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { rawSha256Cid, sha256Stream } from '../block/hash.ts'

/**
 * A projection's state hash:
 *
 *   CIDv1(raw, sha2-256(dag-cbor([[key, state], …])))
 *
 * with one `[key, state]` pair per key holding at least one event, sorted by key (JavaScript's
 * default string order: UTF-16 code units). States are IPLD values and dag-cbor is
 * deterministic, so replicas folding the same events agree whatever order they received them
 * in. Streamed: the array header, then each pair's encoding, so no list of all states is built.
 */
export function projectionStateHash(sortedKeys: readonly string[], stateOf: (key: string) => unknown): CID {
  const h = sha256Stream()
  h.update(arrayHeader(sortedKeys.length))
  for (const key of sortedKeys) h.update(dagCbor.encode([key, stateOf(key)]))
  return rawSha256Cid(h.digest())
}

/** The CBOR head of a definite-length array (major type 4), as dag-cbor writes it. */
function arrayHeader(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(0x80 | n)
  if (n < 0x100) return Uint8Array.of(0x98, n)
  if (n < 0x10000) return Uint8Array.of(0x99, n >>> 8, n & 0xff)
  if (n < 0x100000000) return Uint8Array.of(0x9a, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)
  throw new RangeError('too many keys to hash')
}
