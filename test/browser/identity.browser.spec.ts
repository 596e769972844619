// Browser only: loadIdentity keeps its key in IndexedDB (database cairn-identities).
import { describe, expect, test } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { IDENTITY_DATABASE, loadIdentity } from '../../src/identity/browser.ts'
import { exportIdentity, importIdentity } from '../../src/identity/create.ts'
import { didKeyOf } from '../../src/identity/did-key.ts'
import { ed25519Backends, setEd25519BackendForTests } from '../../src/identity/ed25519.ts'
import { verifySignature } from '../../src/identity/verify.ts'
import { rejection } from '../support/stores.ts'

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const uniqueName = (what: string): string => `${what}-${crypto.randomUUID()}`

/** Runs one request on the keys store of the identities database, outside Cairn's code. */
async function onStore<T>(mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const open = indexedDB.open(IDENTITY_DATABASE)
    open.onsuccess = () => resolve(open.result)
    open.onerror = () => reject(open.error)
  })
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = fn(db.transaction('keys', mode).objectStore('keys'))
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
  } finally {
    db.close()
  }
}

interface Record {
  v: number
  did: string
  publicKey: Uint8Array
  privateKey?: CryptoKey
  seed?: Uint8Array
}

describe('loadIdentity (IndexedDB)', () => {
  test('creates a key once, then returns the same did, read back from IndexedDB', async () => {
    const name = uniqueName('me')
    const first = await loadIdentity({ name })
    expect(first.did).toBe(didKeyOf(first.publicKey))
    expect(first.did.startsWith('did:key:z6Mk')).toBe(true)
    const second = await loadIdentity({ name })
    expect(second.did).toBe(first.did)

    // What is stored: the did, its public key and a non-extractable CryptoKey, nothing else.
    const stored = (await onStore<Record>('readonly', (s) => s.get(name))) as Record
    expect(stored.did).toBe(first.did)
    expect(stored.privateKey).toBeInstanceOf(CryptoKey)
    expect(stored.privateKey?.extractable).toBe(false)
    expect(stored.seed).toBeUndefined()

    // A reload: a fresh copy of the module, with nothing in memory, finds the same key.
    const reloaded = (await import(/* @vite-ignore */ `../../src/identity/browser.ts?reload=${crypto.randomUUID()}`)) as typeof import('../../src/identity/browser.ts')
    expect(reloaded.loadIdentity).not.toBe(loadIdentity)
    const afterReload = await reloaded.loadIdentity({ name })
    expect(afterReload.did).toBe(first.did)
    const bytes = utf8('signed after a reload')
    expect(await verifySignature(first.did, bytes, await afterReload.sign(bytes))).toBe(true)

    // The record is the identity: without it the name gets a new key.
    await onStore('readwrite', (s) => s.delete(name))
    const replaced = await loadIdentity({ name })
    expect(replaced.did).not.toBe(first.did)
  })

  test('the key is non-extractable: exportIdentity refuses it, and its signatures verify', async () => {
    const me = await loadIdentity({ name: uniqueName('locked') })
    expect(me.extractable).toBe(false)
    expect(isCairnError(await rejection(exportIdentity(me)), 'CAIRN_UNSUPPORTED')).toBe(true)
    const bytes = utf8('an event')
    const sig = await me.sign(bytes)
    expect(sig.length).toBe(64)
    expect(await verifySignature(me.did, bytes, sig)).toBe(true)
    expect(await verifySignature(me.did, utf8('another event'), sig)).toBe(false)
  })

  test('concurrent first calls with one name end with one key', async () => {
    const name = uniqueName('race')
    const all = await Promise.all(Array.from({ length: 6 }, () => loadIdentity({ name })))
    const dids = new Set(all.map((i) => i.did))
    expect(dids.size).toBe(1)
    const stored = (await onStore<Record>('readonly', (s) => s.get(name))) as Record
    expect(stored.did).toBe(all[0]?.did)
    // Each of them signs with that one stored key.
    const bytes = utf8('race')
    for (const identity of all) expect(await verifySignature(stored.did, bytes, await identity.sign(bytes))).toBe(true)
    expect((await loadIdentity({ name })).did).toBe(stored.did)
  })

  test('names are separate identities', async () => {
    const a = await loadIdentity({ name: uniqueName('a') })
    const b = await loadIdentity({ name: uniqueName('b') })
    expect(a.did).not.toBe(b.did)
  })

  test('without WebCrypto Ed25519 the key is a noble seed in IndexedDB, extractable, and the same after a reload', async () => {
    const { noble } = await ed25519Backends()
    const name = uniqueName('noble')
    setEd25519BackendForTests(noble)
    let made: Awaited<ReturnType<typeof loadIdentity>>
    try {
      made = await loadIdentity({ name })
      expect(made.extractable).toBe(true)
      expect((await loadIdentity({ name })).did).toBe(made.did)
    } finally {
      setEd25519BackendForTests(undefined)
    }
    const stored = (await onStore<Record>('readonly', (s) => s.get(name))) as Record
    expect(stored.privateKey).toBeUndefined()
    expect(stored.seed?.length).toBe(32)
    // With WebCrypto back (a browser update), the stored seed is the same identity.
    const later = await loadIdentity({ name })
    expect(later.did).toBe(made.did)
    const bytes = utf8('noble then webcrypto')
    expect(await verifySignature(made.did, bytes, await later.sign(bytes))).toBe(true)
    expect((await importIdentity(await exportIdentity(later))).did).toBe(made.did)
  })

  test('a record Cairn did not write is CAIRN_CORRUPT, and bad options are TypeErrors', async () => {
    const name = uniqueName('corrupt')
    await loadIdentity({ name })
    await onStore('readwrite', (s) => s.put({ v: 1, did: 'did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp', publicKey: new Uint8Array(32) }, name))
    expect(isCairnError(await rejection(loadIdentity({ name })), 'CAIRN_CORRUPT')).toBe(true)
    await onStore('readwrite', (s) => s.put('not a record', name))
    expect(isCairnError(await rejection(loadIdentity({ name })), 'CAIRN_CORRUPT')).toBe(true)
    for (const bad of [undefined, null, {}, { name: '' }, { name: 42 }]) {
      expect(await rejection(loadIdentity(bad as unknown as { name: string }))).toBeInstanceOf(TypeError)
    }
  })
})
