/**
 * Cairn for browsers, workers and edge runtimes: IndexedDB, memory or any blockstore.
 * Node and Deno resolve `cairn` to index.node.ts, which adds the file engine.
 *
 * @example
 * import { openStore } from 'cairndb'
 * const store = await openStore({ name: 'notes' })
 */
import { type BrowserStoreLocation, createOpenStore, type OpenStore } from './store/open.ts'

export * from './exports.ts'
export { loadIdentity, type LoadIdentityOptions } from './identity/browser.ts'

/**
 * Opens a store: `{ name }` (IndexedDB, with its engine options), `{ memory: true }`,
 * `{ blockstore }` or `{ storage }`. `{ path }` is a type error here: the files engine needs
 * Node or Deno (`cairndb/node`); JavaScript that passes one anyway gets CAIRN_UNSUPPORTED.
 *
 * @example
 * const store = await openStore({ name: 'notes' })     // IndexedDB
 * const bulk = await openStore({ name: 'photos', durability: 'relaxed', pageSize: 100 })
 * const scratch = await openStore({ memory: true })
 */
export const openStore: OpenStore<BrowserStoreLocation> = createOpenStore(undefined)
