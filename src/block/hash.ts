import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { MultihashDigest } from 'multiformats/hashes/interface'
import { RAW, SHA2_256 } from './interface.ts'

/**
 * Below this size a synchronous hash beats the per-call cost of crypto.subtle
 * (measured: ~10 µs per call); above it WebCrypto's native code wins.
 */
export const SYNC_HASH_LIMIT: number = 32 * 1024

/** A synchronous sha2-256: the 32-byte digest of `bytes`, in a Uint8Array of its own. */
export type SyncSha256 = (bytes: Uint8Array) => Uint8Array

let syncSha256: SyncSha256 = nobleSha256

/**
 * Replaces the synchronous sha2-256 (@noble/hashes) with a native one: the Node/Deno entry
 * installs node:crypto's, about 2.5× faster on event-sized blocks. It must compute sha2-256.
 */
export function useSyncSha256(fn: SyncSha256): void {
  syncSha256 = fn
}

/** sha2-256 multihash of `bytes`, computed synchronously (@noble/hashes, or the native one installed). */
export function sha256Sync(bytes: Uint8Array): MultihashDigest<typeof SHA2_256> {
  return Digest.create(SHA2_256, syncSha256(bytes))
}

/** An incremental sha2-256 (@noble/hashes): `update` as often as needed, `clone` to checkpoint, `digest` once. */
export type Sha256Stream = ReturnType<typeof nobleSha256.create>

export function sha256Stream(): Sha256Stream {
  return nobleSha256.create()
}

/** The CIDv1 (raw codec) naming a sha2-256 digest: the one-value form of a state hash. */
export function rawSha256Cid(digest: Uint8Array): CID {
  return CID.createV1(RAW, Digest.create(SHA2_256, digest))
}

type Subtle = { digest(alg: string, data: Uint8Array): Promise<ArrayBuffer> }

function subtle(): Subtle | undefined {
  const c = (globalThis as { crypto?: { subtle?: Subtle } }).crypto
  return c?.subtle
}

/** sha2-256 multihash of `bytes`: sync for small blocks, WebCrypto for large ones when present. */
export async function sha256(bytes: Uint8Array): Promise<MultihashDigest<typeof SHA2_256>> {
  const s = bytes.length > SYNC_HASH_LIMIT ? subtle() : undefined
  if (s === undefined) return sha256Sync(bytes)
  return Digest.create(SHA2_256, new Uint8Array(await s.digest('SHA-256', bytes)))
}
