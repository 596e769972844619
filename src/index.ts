/**
 * Cairn for browsers, workers and edge runtimes: IndexedDB, memory or any blockstore.
 * Node and Deno resolve `cairn` to index.node.ts, which adds the file engine.
 *
 * @example
 * import { openStore } from 'cairndb'
 * const store = await openStore({ name: 'notes' })
 */
import { createOpenStore, type OpenStore } from './store/open.ts'

export * from './exports.ts'
export { loadIdentity, type LoadIdentityOptions } from './identity/browser.ts'

/**
 * Opens a store: `{ name }` (IndexedDB), `{ memory: true }`, `{ blockstore }` or `{ storage }`.
 *
 * @example
 * const store = await openStore({ name: 'notes' })     // IndexedDB
 * const scratch = await openStore({ memory: true })
 */
export const openStore: OpenStore = createOpenStore(undefined)
