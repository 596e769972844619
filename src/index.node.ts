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
// (off-heap already, in Node's buffer pool; no other holder writes them). Where the digest goes
// into a CID's bytes it is asked for as a latin1 string instead (one char per byte), copied in:
// no Buffer to make, ~0.4 µs in all.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: string) => Uint8Array | string }).hash
if (typeof oneShot === 'function') {
  useSyncSha256(
    (bytes) => {
      const digest = oneShot('sha256', bytes, 'buffer') as Uint8Array
      return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
    },
    (bytes, out, at) => {
      const digest = oneShot('sha256', bytes, 'latin1') as string
      for (let i = 0; i < 32; i++) out[at + i] = digest.charCodeAt(i)
    },
  )
} else useSyncSha256((bytes) => new Uint8Array(crypto.createHash('sha256').update(bytes).digest()))

/**
 * Opens a store: `{ path }` (files), `{ memory: true }`, `{ blockstore }`, `{ storage }`, or `{ name }` where IndexedDB exists.
 *
 * @example
 * const store = await openStore({ path: './data' })   // the files engine
 * const scratch = await openStore({ memory: true })
 */
export const openStore: OpenStore = createOpenStore((path) => openFileStorage(path))
