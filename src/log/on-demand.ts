/**
 * The log's paths that load on first use, as one chunk: an app that opens, appends and reads
 * never ships them. Import (the CAR reader and planner), export (the diff walk and the CAR
 * writer), the signature check of imported events and the access rule (loaded on open by a
 * store with access rules) — the paths of sync, which an app that syncs needs together — and
 * the rare full `verify` with them. One chunk rather than one each: their modules shared with
 * the first load then fall into one chunk too, not one per combination of importers.
 */
import type { CID } from 'multiformats/cid'
import { loadDagPb } from '../block/codec.ts'
import { writeCarBatches } from '../car/writer.ts'
import type { StorageEngine } from '../storage/interface.ts'
import { diffBlocks } from './export.ts'
import type { LogViews } from './views/views.ts'

export { verifySignature } from '../identity/verify.ts'
export { AccessCheck } from './access-check.ts'
export { newEvents } from './new-events.ts'
export { planImport, readVerifiedCar } from './plan-import.ts'
export { assertSignatures } from './rules/signatures.ts'
export { verifyReachable } from './verify.ts'

/**
 * The CARv1 of the blocks `diffBlocks` finds beyond `since`, rooted at `heads`. The walk reads
 * the DAGs of files (dag-pb) synchronously, so their decoder loads first.
 */
export async function* exportCar(views: LogViews, storage: StorageEngine, heads: readonly CID[], since: readonly CID[], horizon: number, unindexed: (cid: CID) => boolean): AsyncGenerator<Uint8Array> {
  await loadDagPb()
  yield* writeCarBatches(heads, diffBlocks(views, storage, heads, since, horizon, unindexed))
}
