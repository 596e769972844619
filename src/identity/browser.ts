import { equalBytes } from '../block/codec.ts'
import { expectObject, expectString, type KnownKeys } from '../errors/arguments.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { didKeyOf } from './did-key.ts'
import { type Ed25519Key, ed25519Backend, webCryptoKey } from './ed25519.ts'
import type { Identity } from './interface.ts'
import { identityOf } from './key-identity.ts'

/** The IndexedDB database holding the keys of `loadIdentity`, one record per name. */
export const IDENTITY_DATABASE = 'cairn-identities'
const STORE = 'keys'

/**
 * What is kept under a name: a WebCrypto key pair (the private key a non-extractable CryptoKey,
 * structured-cloned by the browser), or, where WebCrypto lacks Ed25519, the seed itself.
 */
interface StoredKey {
  v: 1
  did: string
  publicKey: Uint8Array
  privateKey?: CryptoKey
  seed?: Uint8Array
}

/**
 * Options of `loadIdentity`.
 *
 * @example
 * const me = await loadIdentity({ name: 'work' })
 */
export interface LoadIdentityOptions {
  /** Which identity of this origin: a new key is made the first time a name is asked for. */
  name: string
}

/** The keys of `LoadIdentityOptions`: any other is a TypeError. */
const LOAD_IDENTITY_KEYS: KnownKeys<LoadIdentityOptions> = { name: 1 }

function storageError(what: string, cause: unknown): CairnError {
  const quota = (cause as { name?: unknown } | null)?.name === 'QuotaExceededError'
  return new CairnError(quota ? 'CAIRN_QUOTA' : 'CAIRN_STORAGE', `IndexedDB ${what} of ${IDENTITY_DATABASE} failed: ${(cause as Error | null)?.message ?? String(cause)}`, { cause })
}

function openDatabase(): Promise<IDBDatabase> {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB
  if (factory === undefined) return Promise.reject(new CairnError('CAIRN_UNSUPPORTED', 'loadIdentity needs IndexedDB (a browser or worker); in Node or Deno use createIdentity and exportIdentity/importIdentity'))
  return new Promise((resolve, reject) => {
    const request = factory.open(IDENTITY_DATABASE, 1)
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE)
    }
    request.onsuccess = () => {
      const db = request.result
      db.onversionchange = () => db.close()
      resolve(db)
    }
    request.onerror = () => reject(storageError('open', request.error))
    request.onblocked = () => reject(new CairnError('CAIRN_STORAGE', `IndexedDB open of ${IDENTITY_DATABASE} is blocked by another connection on an older version`))
  })
}

/** One transaction on the keys store; `body` issues its requests synchronously and sets what it resolves with. */
function transact<T>(db: IDBDatabase, mode: IDBTransactionMode, what: string, body: (store: IDBObjectStore, done: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let result: { value: T } | undefined
    const tx = db.transaction(STORE, mode)
    tx.oncomplete = () => (result === undefined ? reject(new CairnError('CAIRN_STORAGE', `IndexedDB ${what} ended without a result`)) : resolve(result.value))
    tx.onerror = () => reject(storageError(what, tx.error))
    tx.onabort = () => reject(storageError(what, tx.error))
    body(tx.objectStore(STORE), (value) => {
      result = { value }
    })
  })
}

/** Reads a stored record, checking its shape; undefined when the name has none. */
function readStored(name: string, value: unknown): StoredKey | undefined {
  if (value === undefined) return undefined
  const r = value as Partial<StoredKey> | null
  const ok =
    r !== null &&
    typeof r === 'object' &&
    r.v === 1 &&
    typeof r.did === 'string' &&
    r.publicKey instanceof Uint8Array &&
    r.publicKey.length === 32 &&
    didKeyOf(r.publicKey) === r.did &&
    ((typeof CryptoKey !== 'undefined' && r.privateKey instanceof CryptoKey) || (r.seed instanceof Uint8Array && r.seed.length === 32))
  if (!ok) throw new CairnError('CAIRN_CORRUPT', `the identity ${JSON.stringify(name)} in IndexedDB ${IDENTITY_DATABASE} is not a key record Cairn wrote`)
  return r as StoredKey
}

async function keyOfStored(name: string, stored: StoredKey): Promise<Ed25519Key> {
  if (stored.privateKey !== undefined) return webCryptoKey(stored.privateKey, stored.publicKey)
  const key = await (await ed25519Backend()).fromSeed(stored.seed as Uint8Array, true)
  if (!equalBytes(key.publicKey, stored.publicKey)) throw new CairnError('CAIRN_CORRUPT', `the identity ${JSON.stringify(name)} in IndexedDB ${IDENTITY_DATABASE}: its seed does not give its public key`)
  return key
}

/** A new record: a non-extractable WebCrypto key pair, or a seed where WebCrypto lacks Ed25519. */
async function newStored(): Promise<StoredKey> {
  const backend = await ed25519Backend()
  if (backend.name === 'webcrypto') {
    const key = await backend.generate(false)
    return { v: 1, did: didKeyOf(key.publicKey), publicKey: key.publicKey, privateKey: key.privateKey as CryptoKey }
  }
  const key = await backend.generate(true)
  return { v: 1, did: didKeyOf(key.publicKey), publicKey: key.publicKey, seed: await key.seed() }
}

/**
 * The browser identity called `name`, kept in IndexedDB (database `cairn-identities`): made on
 * the first call, the same `did` on every later call, in every tab and after a reload. The key is
 * a non-extractable WebCrypto CryptoKey, so script can sign with it but never read it, and
 * `exportIdentity` refuses it (`extractable: false`). Where WebCrypto lacks Ed25519 (older
 * browsers) the key is an @noble/curves seed stored as bytes in IndexedDB instead: it is then
 * readable by script of this origin and the identity says `extractable: true` — honestly. Two
 * first calls at once (two tabs) end with one key: both return the one stored first.
 * Rejects with CAIRN_UNSUPPORTED where there is no IndexedDB (Node, Deno), CAIRN_STORAGE (or
 * CAIRN_QUOTA) when IndexedDB fails, CAIRN_CORRUPT for a record Cairn did not write.
 *
 * @example
 * const me = await loadIdentity({ name: 'default' })
 * me.did                                    // the same 'did:key:z6Mk…' after a reload
 */
export async function loadIdentity(options: LoadIdentityOptions): Promise<Identity> {
  const name = expectString('options.name', expectObject('options', options, LOAD_IDENTITY_KEYS)['name'])
  const db = await openDatabase()
  try {
    const found = readStored(
      name,
      await transact<unknown>(db, 'readonly', 'read', (store, done) => {
        const get = store.get(name)
        get.onsuccess = () => done(get.result)
      }),
    )
    if (found !== undefined) return identityOf(await keyOfStored(name, found))
    // Make a key outside the transaction (key generation is not an IndexedDB request, and
    // awaiting it would let the transaction commit), then check again and put in one
    // readwrite transaction: another caller that got there first wins, and both use its key.
    const fresh = await newStored()
    const stored = await transact<unknown>(db, 'readwrite', 'write', (store, done) => {
      const get = store.get(name)
      get.onsuccess = () => {
        if (get.result !== undefined) return done(get.result)
        store.put(fresh, name).onsuccess = () => done(fresh)
      }
    })
    return identityOf(await keyOfStored(name, readStored(name, stored) as StoredKey))
  } finally {
    db.close()
  }
}
