import { base58btc } from 'multiformats/bases/base58'

/** Multicodec `ed25519-pub`: its unsigned varint is the two bytes 0xed 0x01. */
const ED25519_PUB = 0xed
const PREFIX = 'did:key:'
const KEY_BYTES = 32

/** An unsigned varint at the start of `bytes`: [value, its length]. Throws RangeError when there is none. */
function readVarint(bytes: Uint8Array): [number, number] {
  let value = 0
  for (let i = 0; i < bytes.length && i < 8; i++) {
    value += (bytes[i]! & 0x7f) * 2 ** (7 * i)
    if (bytes[i]! < 0x80) return [value, i + 1]
  }
  throw new RangeError('no varint')
}

/**
 * The `did:key` of a raw 32-byte Ed25519 public key: `did:key:` + base58btc multibase (`z…`) of
 * the varint multicodec `ed25519-pub` (0xed 0x01) followed by the key, so always `did:key:z6Mk…`.
 * Throws TypeError for anything but a 32-byte Uint8Array.
 *
 * @example
 * const did = didKeyOf(identity.publicKey)   // 'did:key:z6Mk…'
 */
export function didKeyOf(publicKey: Uint8Array): string {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== KEY_BYTES) {
    const got = publicKey instanceof Uint8Array ? `${publicKey.length} bytes` : publicKey === null ? 'null' : typeof publicKey
    throw new TypeError(`"publicKey" expected the 32 bytes of an Ed25519 public key, got ${got}`)
  }
  const bytes = new Uint8Array(2 + KEY_BYTES)
  bytes.set([0xed, 0x01]) // the varint of ED25519_PUB
  bytes.set(publicKey, 2)
  return PREFIX + base58btc.encode(bytes)
}

/**
 * The raw 32-byte Ed25519 public key a `did:key` names. Throws a TypeError naming the did when
 * it is not an Ed25519 did:key: another method, not base58btc (`z…`), another multicodec, a
 * key that is not 32 bytes, or any encoding that `didKeyOf` would not write back the same.
 *
 * @example
 * const key = publicKeyOf('did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp')   // 32 bytes
 */
export function publicKeyOf(did: string): Uint8Array {
  if (typeof did !== 'string') throw new TypeError(`"did" expected a did:key string, got ${did === null ? 'null' : typeof did}`)
  const shown = JSON.stringify(did.length > 120 ? `${did.slice(0, 120)}…` : did)
  if (!did.startsWith(PREFIX)) throw new TypeError(`${shown} is not a did:key (it does not start with "did:key:")`)
  const multibase = did.slice(PREFIX.length)
  if (!multibase.startsWith('z')) throw new TypeError(`${shown} is not a base58btc did:key (its key does not start with "z")`)
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(multibase)
  } catch {
    throw new TypeError(`${shown} is not a did:key: its key is not valid base58btc`)
  }
  let code: number
  let size: number
  try {
    ;[code, size] = readVarint(bytes)
  } catch {
    throw new TypeError(`${shown} is not a did:key: its key does not start with a multicodec varint`)
  }
  if (code !== ED25519_PUB) throw new TypeError(`${shown} is not an Ed25519 did:key (multicodec 0x${code.toString(16)}, not ed25519-pub 0xed)`)
  if (bytes.length - size !== KEY_BYTES) throw new TypeError(`${shown} is not an Ed25519 did:key: its key is ${bytes.length - size} bytes, not 32`)
  const publicKey = bytes.slice(size)
  // One key has one did: refuse a non-minimal varint or any other spelling of the same bytes.
  if (didKeyOf(publicKey) !== did) throw new TypeError(`${shown} is not a canonical Ed25519 did:key`)
  return publicKey
}

/**
 * Whether `did` is an Ed25519 `did:key` that `publicKeyOf` reads.
 *
 * @example
 * if (!isDidKey(event.author)) throw new Error('unsigned, or not signed by a did:key')
 */
export function isDidKey(did: unknown): did is string {
  if (typeof did !== 'string') return false
  try {
    publicKeyOf(did)
    return true
  } catch {
    return false
  }
}
