import type { CID } from 'multiformats/cid'
import { LogViews } from './views.ts'

/** The name of the index snapshot among the engine's derived values. */
export const INDEX_SNAPSHOT = 'index'

/** The snapshot's byte format (snapshot-codec.ts). */
export type SnapshotCodec = typeof import('./snapshot-codec.ts')

let codec: Promise<SnapshotCodec> | undefined

/**
 * Loads the snapshot's byte format on first use: a first visit, whose store has no snapshot
 * yet, does not ship it until a snapshot is written (on close, or after many events). A failed
 * load is retried by the next call.
 */
export function loadSnapshotCodec(): Promise<SnapshotCodec> {
  codec ??= import('./snapshot-codec.ts').catch((err: unknown) => {
    codec = undefined
    throw err
  })
  return codec
}

/**
 * Encodes the views and the heads they cover, once the codec is loaded. The snapshot schedule
 * (log/snapshots.ts) encodes through the loaded codec instead, synchronously, since the columns
 * are live.
 */
export async function encodeSnapshot(views: LogViews, heads: readonly CID[]): Promise<Uint8Array> {
  return (await loadSnapshotCodec()).encodeColumns(views.columns(), heads)
}

/** Decodes a snapshot into views; undefined when it is damaged, of another format, or from a big-endian host. */
export async function decodeSnapshot(bytes: Uint8Array): Promise<{ views: LogViews; heads: CID[] } | undefined> {
  const decoded = (await loadSnapshotCodec()).decodeColumns(bytes)
  if (decoded === undefined) return undefined
  try {
    return { views: LogViews.fromColumns(decoded.columns), heads: decoded.heads }
  } catch {
    return undefined
  }
}
