/**
 * Who signs: an Ed25519 key named by its `did:key` (multicodec ed25519-pub, base58btc,
 * `did:key:z6Mk…`). Cairn asks nothing else of a signer, so a key in a hardware token or a
 * remote signer works as well as one made by `createIdentity`.
 *
 * @example
 * // A key held elsewhere (a hardware token, a remote signer):
 * const signer: Signer = { did: didKeyOf(token.publicKey), sign: (bytes) => token.sign(bytes) }
 * const store = await openStore({ path: './data', signer })
 */
export interface Signer {
  /** The `did:key` of the public key. */
  readonly did: string
  /** An Ed25519 signature (64 bytes) over `bytes`. */
  sign(bytes: Uint8Array): Promise<Uint8Array>
}

/**
 * A key pair made or loaded by Cairn.
 *
 * @example
 * const me: Identity = await createIdentity()
 * const store = await openStore({ path: './data', signer: me })
 */
export interface Identity extends Signer {
  /** The raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array
  /** Whether `exportIdentity` can write its secret key (browser keys from `loadIdentity` cannot). */
  readonly extractable: boolean
}
