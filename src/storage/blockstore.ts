// The interface-blockstore adapter's entry: its reserved keys, options and openBlockstoreStorage,
// which loads the engine (blockstore-engine.ts, with the on-storage format of
// docs/storage-formats.md §3) on first use through a dynamic import, so that an app on IndexedDB
// does not download it on first load.
import type { Blockstore } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import { sha256Sync } from '../block/hash.ts'
import { RAW } from '../block/interface.ts'
import type { BlockstoreStorage } from './blockstore-engine.ts'

export type { BlockstoreStorage }
import { expectDerivedName } from './derived.ts'

const slotKey = (label: string): CID => CID.createV1(RAW, sha256Sync(new TextEncoder().encode(label)))
/**
 * The reserved keys of the heads record's slots A and B. Exported for tools that share the
 * blockstore (exclude them from GC, leave them out of exports) and for tests.
 */
export const BLOCKSTORE_HEADS_SLOTS: readonly [CID, CID] = [slotKey('cairn:heads:a'), slotKey('cairn:heads:b')]
/** The reserved key of a compaction's intent (see the layout in blockstore-engine.ts). Exported for tools that share the blockstore. */
export const BLOCKSTORE_COMPACTION_KEY: CID = slotKey('cairn:compaction')
const DERIVED_PREFIX = 'cairn:derived:'
/** The reserved key of derived value `name` (see the layout in blockstore-engine.ts). Exported for tools that share the blockstore. */
export function blockstoreDerivedKey(name: string): CID {
  return slotKey(DERIVED_PREFIX + expectDerivedName(name))
}
/**
 * Options of {@link openBlockstoreStorage}.
 *
 * @example
 * const storage = await openBlockstoreStorage(blockstore, { concurrency: 32, onClose: () => blockstore.close() })
 */
export interface BlockstoreStorageOptions {
  /** Called once by `close()`, after the last commit finished, to close the underlying blockstore. */
  onClose?: () => Promise<void> | void
  /** How many blocks a commit checks and writes at once. Default 16. */
  concurrency?: number
}

/** The heads record as it sits in a slot (without its check). */
export interface BlockstoreHeadsRecord {
  /** Commit number: 1 for the first commit; 0 for a store nothing was committed to. */
  seq: number
  heads: CID[]
  /** Newest block list, or null before the first commit with blocks. */
  log: CID | null
}

/**
 * Opens Cairn storage over any interface-blockstore v7 blockstore (blockstore-fs,
 * blockstore-idb, blockstore-level, Helia's), which must already be open. Reads the heads
 * record; rejects with CAIRN_CORRUPT when both slots are present and neither is valid.
 *
 * @example
 * const bs = new FsBlockstore('./blocks'); await bs.open()
 * const storage = await openBlockstoreStorage(bs, { onClose: () => bs.close() })
 */
export async function openBlockstoreStorage(blockstore: Blockstore, options: BlockstoreStorageOptions = {}): Promise<BlockstoreStorage> {
  if (blockstore === null || typeof blockstore !== 'object' || typeof blockstore.get !== 'function' || typeof blockstore.put !== 'function') {
    throw new TypeError('"blockstore" expected an interface-blockstore Blockstore')
  }
  const { openBlockstoreEngine } = await import('./blockstore-engine.ts')
  return openBlockstoreEngine(blockstore, options)
}
