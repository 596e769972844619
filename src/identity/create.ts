import * as dagCbor from '@ipld/dag-cbor'
import { equalBytes } from '../block/codec.ts'
import { expectObject, type KnownKeys } from '../errors/arguments.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { didKeyOf } from './did-key.ts'
import { ed25519Backend } from './ed25519.ts'
import type { Identity } from './interface.ts'
import { identityOf, keyOf } from './key-identity.ts'

/**
 * Options of `createIdentity` and `importIdentity`.
 *
 * @example
 * const me = await createIdentity({ extractable: false })   // exportIdentity refuses it
 */
export interface IdentityOptions {
  /**
   * Whether `exportIdentity` may write the secret key (default true). With WebCrypto the key is
   * then a non-extractable CryptoKey. Where the runtime lacks WebCrypto Ed25519 (the @noble/curves
   * fallback) the secret lives in JavaScript memory and false only makes `exportIdentity` refuse.
   */
  extractable?: boolean
}

/** The version of the identity file `exportIdentity` writes. */
export const IDENTITY_FILE_VERSION = 1

/** The identity file: a dag-cbor map (docs/format-v1.md, "Identity file"). */
interface IdentityFile {
  v: number
  type: string
  did: string
  seed: Uint8Array
}

/** The keys of `IdentityOptions`: any other is a TypeError (a misspelt `extractable` would make an exportable key). */
const IDENTITY_KEYS: KnownKeys<IdentityOptions> = { extractable: 1 }

function readOptions(options: unknown): boolean {
  if (options === undefined) return true
  const extractable = (expectObject('options', options, IDENTITY_KEYS) as IdentityOptions).extractable
  if (extractable === undefined) return true
  if (typeof extractable !== 'boolean') throw new TypeError(`"options.extractable" expected a boolean, got ${typeof extractable}`)
  return extractable
}

/**
 * A new random Ed25519 identity. Extractable by default, so `exportIdentity` can save it (a CLI's
 * `~/.cairn/identity`); pass `{ extractable: false }` for a key that never leaves WebCrypto.
 *
 * @example
 * const me = await createIdentity()
 * me.did                                    // 'did:key:z6Mk…'
 * const sig = await me.sign(bytes)          // 64 bytes
 */
export async function createIdentity(options?: IdentityOptions): Promise<Identity> {
  const extractable = readOptions(options)
  const backend = await ed25519Backend()
  return identityOf(await backend.generate(extractable))
}

/**
 * The identity file of an extractable identity: a small versioned dag-cbor map
 * `{ v: 1, type: 'ed25519', did, seed }` holding the 32-byte secret key — keep it private.
 * Refuses with CAIRN_UNSUPPORTED an identity made non-extractable (every `loadIdentity` key
 * backed by WebCrypto) or a signer Cairn did not make.
 *
 * @example
 * await writeFile(join(homedir(), '.cairn', 'identity'), await exportIdentity(me), { mode: 0o600 })
 */
export async function exportIdentity(identity: Identity): Promise<Uint8Array> {
  if (identity === null || typeof identity !== 'object') throw new TypeError(`"identity" expected an Identity, got ${identity === null ? 'null' : typeof identity}`)
  const key = keyOf(identity)
  if (key === undefined) throw new CairnError('CAIRN_UNSUPPORTED', `identity ${String(identity.did)} was not made by createIdentity, importIdentity or loadIdentity: Cairn cannot read its secret key`)
  if (!key.extractable) throw new CairnError('CAIRN_UNSUPPORTED', `identity ${identity.did} is not extractable: its secret key cannot be exported`)
  const file: IdentityFile = { v: IDENTITY_FILE_VERSION, type: 'ed25519', did: identity.did, seed: await key.seed() }
  return dagCbor.encode(file)
}

function invalid(message: string, cause?: unknown): CairnError {
  return new CairnError('CAIRN_INVALID_VALUE', `not a Cairn identity file: ${message}`, cause === undefined ? {} : { cause })
}

/** Reads an identity file strictly: canonical dag-cbor, exactly the fields of its version. */
function readFile(bytes: Uint8Array): IdentityFile {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (cause) {
    throw invalid('the bytes are not dag-cbor', cause)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) throw invalid('it is not a dag-cbor map')
  const file = value as Record<string, unknown>
  if (typeof file['v'] !== 'number') throw invalid('it has no version "v"')
  if (file['v'] !== IDENTITY_FILE_VERSION) throw new CairnError('CAIRN_UNSUPPORTED', `identity file version ${String(file['v'])} is not one this Cairn reads (it reads version ${IDENTITY_FILE_VERSION})`)
  const keys = Object.keys(file).sort().join(',')
  if (keys !== 'did,seed,type,v') throw invalid(`a version 1 file has exactly the fields did, seed, type and v, not ${keys}`)
  if (file['type'] !== 'ed25519') throw invalid(`key type ${JSON.stringify(file['type'])} is not "ed25519"`)
  if (typeof file['did'] !== 'string') throw invalid('"did" is not a string')
  const seed = file['seed']
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw invalid('"seed" is not 32 bytes')
  if (!equalBytes(dagCbor.encode(value), bytes)) throw invalid('the bytes are not canonical dag-cbor')
  return { v: file['v'], type: file['type'], did: file['did'], seed }
}

/**
 * The identity an identity file holds (what `exportIdentity` wrote). Refuses, changing nothing:
 * bytes that are not a Uint8Array (TypeError); bytes that are not a canonical version 1 file,
 * or whose `did` is not the public key of its seed (CAIRN_INVALID_VALUE); a newer version
 * (CAIRN_UNSUPPORTED). The identity is extractable unless `{ extractable: false }`.
 *
 * @example
 * const me = await importIdentity(await readFile(join(homedir(), '.cairn', 'identity')))
 */
export async function importIdentity(bytes: Uint8Array, options?: IdentityOptions): Promise<Identity> {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`"bytes" expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`)
  const extractable = readOptions(options)
  const file = readFile(bytes)
  const backend = await ed25519Backend()
  const key = await backend.fromSeed(file.seed, extractable)
  const did = didKeyOf(key.publicKey)
  if (did !== file.did) throw invalid(`its did ${file.did} is not the one of its secret key (${did})`)
  return identityOf(key)
}
