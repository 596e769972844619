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
import type { BlockRecord } from '../block/interface.ts'
import { writeCarBatches } from '../car/writer.ts'
import type { ProgressPlan } from '../errors/progress.ts'
import { type ProgressReporter, reporterOf } from '../errors/progress-reporter.ts'
import type { StorageEngine } from '../storage/interface.ts'
import { dagBlocks, diffBlocks } from './export.ts'
import type { LogViews } from './views/views.ts'

export { reporterOf } from '../errors/progress-reporter.ts'
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
export async function* exportCar(views: LogViews, storage: StorageEngine, heads: readonly CID[], since: readonly CID[], horizon: number, unindexed: (cid: CID) => boolean, plan?: ProgressPlan): AsyncGenerator<Uint8Array> {
  const progress = reporterOf(plan)
  progress?.check()
  await loadDagPb()
  yield* carWithProgress(heads, diffBlocks(views, storage, heads, since, horizon, unindexed), progress)
}

/** The CARv1 of the DAGs under `roots` (see dagBlocks), rooted at them. */
export async function* exportDagCar(storage: StorageEngine, roots: readonly CID[], plan?: ProgressPlan): AsyncGenerator<Uint8Array> {
  const progress = reporterOf(plan)
  progress?.check()
  await loadDagPb()
  yield* carWithProgress(roots, dagBlocks(storage, roots), progress)
}

/**
 * writeCarBatches, counting blocks a batch at a time and CAR bytes a chunk at a time (nothing
 * per block), checking the abort signal after each batch is read and each time the consumer
 * asks for the next chunk, and reporting once more when the CAR is whole.
 */
async function* carWithProgress(roots: readonly CID[], batches: AsyncGenerator<BlockRecord[]>, progress: ProgressReporter | undefined): AsyncGenerator<Uint8Array> {
  if (progress === undefined) {
    yield* writeCarBatches(roots, batches)
    return
  }
  async function* counted(): AsyncGenerator<BlockRecord[]> {
    for await (const batch of batches) {
      progress!.add(batch.length, 0)
      yield batch
    }
  }
  for await (const chunk of writeCarBatches(roots, counted())) {
    progress.add(0, chunk.length)
    yield chunk
    progress.check()
  }
  progress.done()
}
