/**
 * Cairn for Node and Deno: everything in the browser entry, plus `openStore({ path })`
 * on the log-structured file engine.
 *
 * @example
 * import { openStore } from 'cairn'
 * const store = await openStore({ path: './data' })
 */
import { openFileStorage } from './storage/files/engine.ts'
import { createOpenStore, type OpenStore } from './store/open.ts'

export * from './exports.ts'
export { openFileStorage, FileStorage, type FileStorageOptions } from './storage/files/engine.ts'
export { toNodeListener, type NodeListener } from './transports/node-http.ts'
export { exportToFile, importFromFile } from './transports/car-file.ts'

/** Opens a store: `{ path }` (files), `{ memory: true }`, `{ blockstore }`, `{ storage }`, or `{ name }` where IndexedDB exists. */
export const openStore: OpenStore = createOpenStore((path) => openFileStorage(path))
