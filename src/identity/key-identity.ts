import { didKeyOf } from './did-key.ts'
import type { Ed25519Key } from './ed25519.ts'
import type { Identity } from './interface.ts'

/** The key behind each identity Cairn made, for `exportIdentity`; the key itself stays unreachable from the object. */
const keys = new WeakMap<Identity, Ed25519Key>()

/** An Identity over one Ed25519 key. */
export function identityOf(key: Ed25519Key): Identity {
  const publicKey = key.publicKey.slice()
  const identity: Identity = Object.freeze({
    did: didKeyOf(publicKey),
    get publicKey(): Uint8Array {
      return publicKey.slice()
    },
    extractable: key.extractable,
    sign(bytes: Uint8Array): Promise<Uint8Array> {
      if (!(bytes instanceof Uint8Array)) return Promise.reject(new TypeError(`"bytes" expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`))
      return key.sign(bytes)
    },
  })
  keys.set(identity, key)
  return identity
}

/** The key of an identity made by `identityOf`, or undefined for any other signer. */
export function keyOf(identity: Identity): Ed25519Key | undefined {
  return keys.get(identity)
}
