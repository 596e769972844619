/**
 * Cairn for Node and Deno: everything in the browser entry, plus `openStore({ path })`
 * on the log-structured file engine.
 *
 * @example
 * import { openStore } from 'cairn'
 * const store = await openStore({ path: './data' })
 */
import { createHash } from 'node:crypto'
import { useSyncSha256 } from './block/hash.ts'
import { openFileStorage } from './storage/files/engine.ts'
import { createOpenStore, type OpenStore } from './store/open.ts'

export * from './exports.ts'
export { openFileStorage, FileStorage, type FileStorageOptions } from './storage/files/engine.ts'
export { toNodeListener, type NodeListener } from './transports/node-http.ts'
export { exportToFile, importFromFile } from './transports/car-file.ts'

// Small blocks (events) are hashed synchronously: node:crypto's sha2-256 is ~2.5× @noble/hashes'.
useSyncSha256((bytes) => new Uint8Array(createHash('sha256').update(bytes).digest()))

/** Opens a store: `{ path }` (files), `{ memory: true }`, `{ blockstore }`, `{ storage }`, or `{ name }` where IndexedDB exists. */
export const openStore: OpenStore = createOpenStore((path) => openFileStorage(path))
