/**
 * Cairn for Node and Deno: everything in the browser entry, plus `openStore({ path })`
 * on the log-structured file engine.
 *
 * @example
 * import { openStore } from 'cairndb'
 * const store = await openStore({ path: './data' })
 */
import * as crypto from 'node:crypto'
import { useSyncSha256 } from './block/hash.ts'
import { openFileStorage } from './storage/files/engine.ts'
import { createOpenStore, type OpenStore } from './store/open.ts'

export * from './exports.ts'
export { openFileStorage, FileStorage, type FileStorageOptions, type FileStorageStats } from './storage/files/engine.ts'
export { toNodeListener, type NodeListener } from './transports/node-http.ts'
export { exportToFile, importFromFile } from './transports/car-file.ts'

// Small blocks (events) are hashed synchronously with node:crypto's sha2-256: its one-shot
// `crypto.hash` (Node ≥ 20.12) takes ~1.5 µs for a 300-byte event, half of createHash's
// object-per-call ~3 µs. Its Buffer is handed on as a plain Uint8Array over the same 32 bytes
// (off-heap already, in Node's buffer pool; no other holder writes them).
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Uint8Array }).hash
useSyncSha256(
  typeof oneShot === 'function'
    ? (bytes) => {
        const digest = oneShot('sha256', bytes, 'buffer')
        return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
      }
    : (bytes) => new Uint8Array(crypto.createHash('sha256').update(bytes).digest()),
)

/**
 * Opens a store: `{ path }` (files), `{ memory: true }`, `{ blockstore }`, `{ storage }`, or `{ name }` where IndexedDB exists.
 *
 * @example
 * const store = await openStore({ path: './data' })   // the files engine
 * const scratch = await openStore({ memory: true })
 */
export const openStore: OpenStore = createOpenStore((path) => openFileStorage(path))
