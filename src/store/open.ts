import type { Blockstore } from 'interface-blockstore'
import { expectObject, type KnownKeys } from '../errors/arguments.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { IDB_KEYS, openIndexedDbStorage, type IndexedDbStorageOptions } from '../storage/indexeddb.ts'
import type { StorageEngine } from '../storage/interface.ts'
import { MemoryStorage } from '../storage/memory.ts'
import { STORE_KEYS, type StoreOptions } from './options.ts'
import { CairnStore } from './store.ts'

/**
 * Where a store keeps its blocks: exactly one of these. `{ name }` (IndexedDB) takes the
 * engine's options too (`durability`, `blockedTimeoutMs`, `pageSize`: see
 * `IndexedDbStorageOptions`); `{ path }` (the files engine) works only in Node and Deno.
 *
 * @example
 * await openStore({ memory: true })
 * await openStore({ name: 'notes', durability: 'relaxed', pageSize: 1000 })   // or { path }, { blockstore }, { storage }
 */
export type StoreLocation = { memory: true } | { path: string } | ({ name: string } & IndexedDbStorageOptions) | { blockstore: Blockstore } | { storage: StorageEngine }

/**
 * The locations the browser entry's `openStore` takes: every `StoreLocation` but `{ path }`,
 * which needs a file system (Node and Deno).
 *
 * @example
 * const where: BrowserStoreLocation = { name: 'notes', durability: 'relaxed' }
 * const store = await openStore(where)
 */
export type BrowserStoreLocation = Exclude<StoreLocation, { path: string }>

/**
 * What `openStore` takes: where the store lives (one of `L`), and the store's options.
 *
 * @example
 * const options: OpenStoreOptions = { path: './data', signer: me, requireSignatures: true }
 */
export type OpenStoreOptions<L extends StoreLocation = StoreLocation> = L & StoreOptions

/**
 * Opens a store. Which locations work depends on the entry point: `OpenStore<StoreLocation>`
 * in Node and Deno, `OpenStore<BrowserStoreLocation>` (no `{ path }`) in the browser entry.
 *
 * @example
 * const open: OpenStore = openStore
 * const store = await open({ memory: true })
 */
export type OpenStore<L extends StoreLocation = StoreLocation> = (options: OpenStoreOptions<L>) => Promise<CairnStore>

/** Opens the file engine; only the Node/Deno entry provides one. */
export type PathOpener = (path: string) => Promise<StorageEngine>

/** Every key of every member of a union (`keyof` of a union is only the keys they share). */
type KeysOfUnion<T> = T extends unknown ? keyof T : never
/** The locations: a location added to `StoreLocation` and not here does not compile. */
const LOCATION_KEYS: { readonly [K in Exclude<KeysOfUnion<StoreLocation>, keyof IndexedDbStorageOptions>]-?: 1 } = { memory: 1, path: 1, name: 1, blockstore: 1, storage: 1 }
const LOCATIONS = Object.keys(LOCATION_KEYS)
/**
 * Every key `openStore` takes, for `expectObject`: a location, the IndexedDB engine's options
 * (taken, and unused, with another location: code shared by a browser and a server may pass
 * them), the store's options. Any other key is a TypeError, before any storage is opened.
 * Each part is a `KnownKeys` object: an option added to one of these types and not to its
 * keys does not compile.
 */
const OPEN_KEYS: Readonly<Record<string, 1>> = { ...LOCATION_KEYS, ...IDB_KEYS, ...STORE_KEYS }

/** The keys of `keys` that `o` has (undefined where it has none: the same to the checks that get them). */
function pick<T>(o: Record<string, unknown>, keys: KnownKeys<T>): T {
  return Object.fromEntries(Object.keys(keys).map((k) => [k, o[k]])) as T
}

/** Builds `openStore` for an entry point; `openPath` is the file engine where one exists. */
export function createOpenStore<L extends StoreLocation = StoreLocation>(openPath: PathOpener | undefined): OpenStore<L> {
  return async function openStore(options: OpenStoreOptions<L>): Promise<CairnStore> {
    expectObject('options', options, OPEN_KEYS)
    const given = LOCATIONS.filter((k) => (options as unknown as Record<string, unknown>)[k] !== undefined)
    if (given.length !== 1) {
      throw new TypeError(`"options" expected exactly one of ${LOCATIONS.join(', ')}, got ${given.length === 0 ? 'none' : given.join(' and ')}`)
    }
    const o = options as unknown as Record<string, unknown>
    let storage: StorageEngine
    switch (given[0]) {
      case 'memory':
        if (o['memory'] !== true) throw new TypeError('"memory" expected true')
        storage = new MemoryStorage()
        break
      case 'path':
        if (typeof o['path'] !== 'string' || o['path'] === '') throw new TypeError('"path" expected a non-empty string')
        if (openPath === undefined) {
          throw new CairnError('CAIRN_UNSUPPORTED', 'openStore({ path }) needs a file system: it works in Node and Deno; in a browser use openStore({ name })')
        }
        storage = await openPath(o['path'])
        break
      case 'name': {
        // The name and the engine's own options, passed on as given (the engine checks them and applies their defaults).
        storage = await openIndexedDbStorage(o['name'] as string, pick(o, IDB_KEYS))
        break
      }
      case 'blockstore': {
        const bs = o['blockstore'] as Blockstore
        if (typeof bs !== 'object' || typeof bs.get !== 'function' || typeof bs.put !== 'function' || typeof bs.getAll !== 'function') {
          throw new TypeError('"blockstore" expected an interface-blockstore (get, put, has, getAll)')
        }
        // Loaded on use, with the adapter it opens: an app on IndexedDB or files does not ship it.
        const { openBlockstoreStorage } = await import('../storage/blockstore.ts')
        storage = await openBlockstoreStorage(bs)
        break
      }
      default: {
        const s = o['storage'] as StorageEngine
        if (typeof s !== 'object' || typeof s.commit !== 'function') throw new TypeError('"storage" expected a StorageEngine')
        storage = s
      }
    }
    return CairnStore.open(storage, pick(o, STORE_KEYS))
  }
}
