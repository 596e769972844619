import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { MultihashDigest } from 'multiformats/hashes/interface'
import { RAW, SHA2_256 } from './interface.ts'
import { Sha256, sha256 as jsSha256 } from './sha256.ts'

/**
 * Below this size a synchronous hash beats the per-call cost of crypto.subtle
 * (measured: ~10 µs per call); above it WebCrypto's native code wins.
 */
export const SYNC_HASH_LIMIT: number = 32 * 1024

/** A synchronous sha2-256: writes the 32-byte digest of `bytes` into `out` at `at`. */
export type SyncSha256 = (bytes: Uint8Array, out: Uint8Array, at: number) => void

let syncSha256: SyncSha256 = (bytes, out, at) => {
  out.set(jsSha256(bytes), at)
}

/**
 * Replaces the synchronous sha2-256 (plain JS, sha256.ts) with a native one: the Node/Deno entry
 * installs node:crypto's, several times faster on event-sized blocks. It must compute sha2-256.
 */
export function useSyncSha256(fn: SyncSha256): void {
  syncSha256 = fn
}

/** The 32-byte sha2-256 digest of `bytes`, computed synchronously (plain JS, or the native one installed). */
export function sha256DigestSync(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(32)
  syncSha256(bytes, out, 0)
  return out
}

/** Writes the 32-byte sha2-256 digest of `bytes` into `out` at `at` (no array of its own: a CID's bytes take it). */
export function sha256DigestSyncInto(bytes: Uint8Array, out: Uint8Array, at: number): void {
  syncSha256(bytes, out, at)
}

/** sha2-256 multihash of `bytes`, computed synchronously (plain JS, or the native one installed). */
export function sha256Sync(bytes: Uint8Array): MultihashDigest<typeof SHA2_256> {
  return Digest.create(SHA2_256, sha256DigestSync(bytes))
}

/** An incremental sha2-256: `update` as often as needed, `clone` to checkpoint, `digest` (see sha256.ts). */
export type Sha256Stream = Sha256

/** A new incremental sha2-256. */
export function sha256Stream(): Sha256Stream {
  return new Sha256()
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

/** The 32-byte sha2-256 digest of `bytes`: sync for small blocks, WebCrypto for large ones when present. */
export async function sha256Digest(bytes: Uint8Array): Promise<Uint8Array> {
  const s = bytes.length > SYNC_HASH_LIMIT ? subtle() : undefined
  if (s === undefined) return sha256DigestSync(bytes)
  return new Uint8Array(await s.digest('SHA-256', bytes))
}

/** sha2-256 multihash of `bytes`: sync for small blocks, WebCrypto for large ones when present. */
export async function sha256(bytes: Uint8Array): Promise<MultihashDigest<typeof SHA2_256>> {
  return Digest.create(SHA2_256, await sha256Digest(bytes))
}
