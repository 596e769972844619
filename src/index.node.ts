/**
 * Cairn for Node and Deno: everything in the browser entry, plus `openStore({ path })`
 * on the log-structured file engine.
 *
 * @example
 * import { openStore } from 'cairndb'
 * const store = await openStore({ path: './data' })
 */
import * as crypto from 'node:crypto'
import { useByteArenas } from './block/arena.ts'
import { useSyncSha256 } from './block/hash.ts'
import { openFileStorage } from './storage/files/engine.ts'
import { createOpenStore, type OpenStore } from './store/open.ts'

export * from './exports.ts'
export { openFileStorage, FileStorage, type FileStorageOptions, type FileStorageStats } from './storage/files/engine.ts'
export { toNodeListener, type NodeListener } from './transports/node-http.ts'
export { exportToFile, importFromFile } from './transports/car-file.ts'

// Small blocks (events) are hashed synchronously with node:crypto's sha2-256: its one-shot
// `crypto.hash` (Node ≥ 20.12), asked for a 'binary' (latin1) string (one char per byte, copied
// where the digest goes: a CID's bytes), takes ~0.4 µs for a 300-byte event; a Buffer digest ~1.1 µs
// (the Buffer costs more than the hash), createHash's object per call ~1.5 µs.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'binary') => string }).hash
useSyncSha256(
  typeof oneShot === 'function'
    ? (bytes, out, at) => {
        const digest = oneShot('sha256', bytes, 'binary')
        for (let i = 0; i < 32; i++) out[at + i] = digest.charCodeAt(i)
      }
    : (bytes, out, at) => {
        out.set(crypto.createHash('sha256').update(bytes).digest(), at)
      },
)

useByteArenas()

/**
 * Opens a store: `{ path }` (files), `{ memory: true }`, `{ blockstore }`, `{ storage }`, or `{ name }` where IndexedDB exists.
 *
 * @example
 * const store = await openStore({ path: './data' })   // the files engine
 * const scratch = await openStore({ memory: true })
 */
export const openStore: OpenStore = createOpenStore((path) => openFileStorage(path))
