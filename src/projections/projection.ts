import { CairnError } from '../errors/cairn-error.ts'
import type { Projection, ProjectionHost, ProjectionSpec } from './interface.ts'

/** Opens (loading its snapshot, catching up) a projection over a host. */
export async function openProjection<S, D>(host: ProjectionHost, name: string, spec: ProjectionSpec<S, D>): Promise<Projection<S>> {
  void host; void name; void spec
  throw new CairnError('CAIRN_UNSUPPORTED', 'projections are not built yet')
}
