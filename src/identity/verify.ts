import { publicKeyOf } from './did-key.ts'
import { type Backend, ed25519Backend, type VerifyKey } from './ed25519.ts'

/** How many authors' prepared public keys are kept; past it the least recently used goes. */
export const VERIFY_KEY_CACHE_SIZE = 4096

/** did → its public key, prepared (a WebCrypto import); most recently used last. */
const prepared = new Map<string, Promise<VerifyKey>>()
let backend: Backend | undefined

/** How many prepared keys are kept now (for tests of the bound). */
export function verifyKeyCacheSize(): number {
  return prepared.size
}

function preparedKey(b: Backend, did: string): Promise<VerifyKey> | undefined {
  const hit = prepared.get(did)
  if (hit !== undefined) {
    prepared.delete(did)
    prepared.set(did, hit)
    return hit
  }
  let publicKey: Uint8Array
  try {
    publicKey = publicKeyOf(did)
  } catch {
    return undefined
  }
  const key = b.importPublicKey(publicKey)
  prepared.set(did, key)
  if (prepared.size > VERIFY_KEY_CACHE_SIZE) prepared.delete(prepared.keys().next().value as string)
  // A key the runtime refuses to import is not kept: the next call fails the same way, uncached.
  key.catch(() => {
    if (prepared.get(did) === key) prepared.delete(did)
  })
  return key
}

/**
 * Whether `sig` is a valid Ed25519 signature of `bytes` by the key `did` names (a `did:key`).
 * Resolves false — never rejects — for a malformed or non-Ed25519 did, a signature that is not
 * 64 bytes, or a signature that does not verify; only a `bytes` that is not a Uint8Array is an
 * argument mistake (TypeError). Verification follows RFC 8032 (canonical encodings). The public
 * key of each did is imported once and kept (the last 4096 authors), since an import verifies
 * many events by few authors.
 *
 * @example
 * const ok = await verifySignature(identity.did, bytes, await identity.sign(bytes))   // true
 */
export async function verifySignature(did: string, bytes: Uint8Array, sig: Uint8Array): Promise<boolean> {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`"bytes" expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`)
  if (typeof did !== 'string' || !(sig instanceof Uint8Array) || sig.length !== 64) return false
  backend ??= await ed25519Backend()
  const b = backend
  const key = preparedKey(b, did)
  if (key === undefined) return false
  let ready: VerifyKey
  try {
    ready = await key
  } catch {
    return false
  }
  return b.verify(ready, bytes, sig)
}
