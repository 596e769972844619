// Projections' entry: the constants and `openProjection`, which loads the machinery
// (live-projection.ts) on first use through a dynamic import, so that an app that never projects
// does not download it on first load.
import type { CairnErrorCode } from '../errors/cairn-error.ts'
import type { Projection, ProjectionHost, ProjectionSpec } from './interface.ts'

/** `snapshotEvery` when the spec leaves it out. */
export const DEFAULT_SNAPSHOT_EVERY = 64
/** Persist after catching up once this many reducer calls happened since the last persist. */
export const PERSIST_EVERY = 4096
/**
 * The code of the error a projection stops with when its reducer throws (the reducer's error
 * is its `cause`; `cid` and `stream` name the event). A reducer returning a non-IPLD state
 * fails with CAIRN_INVALID_VALUE instead.
 */
export const REDUCER_FAILED: CairnErrorCode = 'CAIRN_PROJECTION'

/**
 * Opens a projection over a host (see openLiveProjection in live-projection.ts, which this loads
 * on first use): checks the spec, loads the persisted value, follows the host's commits, and
 * resolves once it has caught up with the log.
 */
export async function openProjection<S, D>(host: ProjectionHost, name: string, spec: ProjectionSpec<S, D>): Promise<Projection<S>> {
  const { openLiveProjection } = await import('./live-projection.ts')
  return openLiveProjection(host, name, spec)
}
