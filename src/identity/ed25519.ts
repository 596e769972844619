import { base64url } from 'multiformats/bases/base64'
import { CairnError } from '../errors/cairn-error.ts'

/**
 * Ed25519 (RFC 8032, pure) through one of two backends: WebCrypto (`crypto.subtle`, algorithm
 * `Ed25519`) where the runtime has it — Node 20, Deno, Chromium ≥ 137, Firefox, Safari — else
 * @noble/curves, loaded by a dynamic `import()` only then, so a bundle for a runtime with
 * WebCrypto Ed25519 never loads it. Internal to the identity layer: not part of the public API.
 */

/** A private key with its public key, from one backend. */
export interface Ed25519Key {
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array
  /** Whether `seed()` may read the secret. */
  readonly extractable: boolean
  /** The WebCrypto private key, when the key is one (what `loadIdentity` keeps in IndexedDB). */
  readonly privateKey: CryptoKey | undefined
  /** An Ed25519 signature (64 bytes) over `bytes`. */
  sign(bytes: Uint8Array): Promise<Uint8Array>
  /** The 32-byte RFC 8032 secret key (the seed). CAIRN_UNSUPPORTED when not extractable. */
  seed(): Promise<Uint8Array>
}

/** A public key prepared for verifying: a WebCrypto `CryptoKey`, or noble's raw bytes. */
export type VerifyKey = CryptoKey | Uint8Array

/** One Ed25519 implementation. */
export interface Backend {
  readonly name: 'webcrypto' | 'noble'
  /** A new random key pair. */
  generate(extractable: boolean): Promise<Ed25519Key>
  /** The key pair of a 32-byte seed. */
  fromSeed(seed: Uint8Array, extractable: boolean): Promise<Ed25519Key>
  /** Prepares a raw 32-byte public key for `verify` (the slow part worth caching). */
  importPublicKey(publicKey: Uint8Array): Promise<VerifyKey>
  /** Whether `sig` is a valid signature of `bytes` by `key` (RFC 8032 rules; never throws). */
  verify(key: VerifyKey, bytes: Uint8Array, sig: Uint8Array): Promise<boolean>
}

/** The 16 bytes before the seed in an Ed25519 PKCS#8 private key (RFC 8410: no public key, no attributes). */
const PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const ED25519 = { name: 'Ed25519' } as const

/** The part of `crypto.subtle` used here, typed for Uint8Array inputs. */
interface Subtle {
  importKey(format: 'raw' | 'pkcs8', data: Uint8Array, algorithm: typeof ED25519, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKey>
  exportKey(format: 'jwk', key: CryptoKey): Promise<JsonWebKey>
  exportKey(format: 'raw', key: CryptoKey): Promise<ArrayBuffer>
  generateKey(algorithm: typeof ED25519, extractable: boolean, usages: KeyUsage[]): Promise<CryptoKeyPair>
  sign(algorithm: typeof ED25519, key: CryptoKey, data: Uint8Array): Promise<ArrayBuffer>
  verify(algorithm: typeof ED25519, key: CryptoKey, signature: Uint8Array, data: Uint8Array): Promise<boolean>
}

function subtleCrypto(): Subtle | undefined {
  return (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle
}

/** Checks a seed argument: a Uint8Array of 32 bytes. */
export function expectSeed(seed: unknown): Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new TypeError(`"seed" expected the 32 bytes of an Ed25519 secret key, got ${seed instanceof Uint8Array ? `${seed.length} bytes` : typeof seed}`)
  }
  return seed
}

function notExtractable(): CairnError {
  return new CairnError('CAIRN_UNSUPPORTED', 'this identity was made non-extractable: its secret key cannot be exported')
}

function pkcs8Of(seed: Uint8Array): Uint8Array {
  const out = new Uint8Array(PKCS8_PREFIX.length + 32)
  out.set(PKCS8_PREFIX)
  out.set(seed, PKCS8_PREFIX.length)
  return out
}

function jwkBytes(jwk: JsonWebKey, field: 'd' | 'x'): Uint8Array {
  const text = jwk[field]
  const bytes = typeof text === 'string' ? base64url.baseDecode(text) : undefined
  if (bytes === undefined || bytes.length !== 32) throw new CairnError('CAIRN_UNSUPPORTED', `WebCrypto exported an Ed25519 JWK without a 32-byte "${field}"`)
  return bytes
}

/** An Ed25519 key made of WebCrypto keys: `privateKey` signs, `publicKey` is its raw public key. */
export function webCryptoKey(privateKey: CryptoKey, publicKey: Uint8Array): Ed25519Key {
  const subtle = subtleCrypto()
  if (subtle === undefined) throw new CairnError('CAIRN_UNSUPPORTED', 'this runtime has no WebCrypto (crypto.subtle) to use an Ed25519 CryptoKey')
  return {
    publicKey,
    extractable: privateKey.extractable,
    privateKey,
    async sign(bytes) {
      return new Uint8Array(await subtle.sign(ED25519, privateKey, bytes))
    },
    async seed() {
      if (!privateKey.extractable) throw notExtractable()
      return jwkBytes(await subtle.exportKey('jwk', privateKey), 'd')
    },
  }
}

function webCryptoBackend(subtle: Subtle): Backend {
  return {
    name: 'webcrypto',
    async generate(extractable) {
      const pair = await subtle.generateKey(ED25519, extractable, ['sign', 'verify'])
      return webCryptoKey(pair.privateKey, new Uint8Array(await subtle.exportKey('raw', pair.publicKey)))
    },
    async fromSeed(seed, extractable) {
      const pkcs8 = pkcs8Of(expectSeed(seed))
      // WebCrypto derives no public key from a private one, but an extractable key's JWK carries it in `x`.
      const open = await subtle.importKey('pkcs8', pkcs8, ED25519, true, ['sign'])
      const publicKey = jwkBytes(await subtle.exportKey('jwk', open), 'x')
      const privateKey = extractable ? open : await subtle.importKey('pkcs8', pkcs8, ED25519, false, ['sign'])
      return webCryptoKey(privateKey, publicKey)
    },
    importPublicKey(publicKey) {
      return subtle.importKey('raw', publicKey, ED25519, true, ['verify'])
    },
    async verify(key, bytes, sig) {
      if (key instanceof Uint8Array) return false
      try {
        return await subtle.verify(ED25519, key, sig, bytes)
      } catch {
        return false
      }
    },
  }
}

type NobleEd25519 = typeof import('@noble/curves/ed25519.js')['ed25519']

function nobleBackend(ed25519: NobleEd25519): Backend {
  const fromSeed = (seed: Uint8Array, extractable: boolean): Ed25519Key => {
    const secret = expectSeed(seed).slice()
    return {
      publicKey: ed25519.getPublicKey(secret),
      extractable,
      privateKey: undefined,
      sign: async (bytes) => ed25519.sign(bytes, secret),
      async seed() {
        if (!extractable) throw notExtractable()
        return secret.slice()
      },
    }
  }
  return {
    name: 'noble',
    generate: async (extractable) => fromSeed(crypto.getRandomValues(new Uint8Array(32)), extractable),
    fromSeed: async (seed, extractable) => fromSeed(seed, extractable),
    importPublicKey: async (publicKey) => publicKey.slice(),
    async verify(key, bytes, sig) {
      if (!(key instanceof Uint8Array)) return false
      try {
        // zip215: false is RFC 8032 / FIPS 186-5 (canonical encodings), as WebCrypto verifies.
        return ed25519.verify(sig, bytes, key, { zip215: false })
      } catch {
        return false
      }
    },
  }
}

async function loadNoble(): Promise<Backend> {
  const { ed25519 } = await import('@noble/curves/ed25519.js')
  return nobleBackend(ed25519)
}

/** RFC 8032 section 7.1 TEST 1: seed, and the signature of the empty message. */
const TEST1_SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'
const TEST1_SIG = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'

function hex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

function fromHex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** The WebCrypto backend when this runtime signs RFC 8032's TEST 1 exactly through it (PKCS#8 import, sign). */
async function probeWebCrypto(): Promise<Backend | undefined> {
  const subtle = subtleCrypto()
  if (subtle === undefined) return undefined
  try {
    const key = await subtle.importKey('pkcs8', pkcs8Of(fromHex(TEST1_SEED)), ED25519, false, ['sign'])
    const sig = new Uint8Array(await subtle.sign(ED25519, key, new Uint8Array(0)))
    return hex(sig) === TEST1_SIG ? webCryptoBackend(subtle) : undefined
  } catch {
    return undefined
  }
}

let detected: Promise<Backend> | undefined

/** The backend this runtime uses, detected once: WebCrypto when it has Ed25519, else noble. */
export function ed25519Backend(): Promise<Backend> {
  detected ??= probeWebCrypto()
    .then((web) => web ?? loadNoble())
    .catch((cause: unknown) => {
      detected = undefined // a failed load (noble missing, offline chunk) is tried again next time
      throw new CairnError('CAIRN_UNSUPPORTED', 'no Ed25519 here: WebCrypto lacks it and @noble/curves could not be loaded', { cause })
    })
  return detected
}

/** For tests: make `ed25519Backend()` answer `backend` (undefined: detect again). Prepared verify keys are not reset. */
export function setEd25519BackendForTests(backend: Backend | undefined): void {
  detected = backend === undefined ? undefined : Promise.resolve(backend)
}

/**
 * Both backends, for tests that check they give the same bytes: `webcrypto` when this runtime
 * has WebCrypto Ed25519, and `noble` always (this loads it).
 */
export async function ed25519Backends(): Promise<{ webcrypto?: Backend; noble: Backend }> {
  const [webcrypto, noble] = await Promise.all([probeWebCrypto(), loadNoble()])
  return webcrypto === undefined ? { noble } : { webcrypto, noble }
}
