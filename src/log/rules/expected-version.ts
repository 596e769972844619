import { CairnError } from '../../errors/cairn-error.ts'

/**
 * Optimistic concurrency: an append with `expectedVersion` goes through only when the stream
 * holds exactly that many events in this replica's view (counting earlier events of the same
 * batch). Otherwise CAIRN_VERSION_CONFLICT, and nothing of the batch is written.
 */
export function assertExpectedVersion(stream: string, expectedVersion: number | undefined, current: number): void {
  if (expectedVersion === undefined || expectedVersion === current) return
  throw new CairnError('CAIRN_VERSION_CONFLICT', `stream "${stream}" is at version ${current}, expected ${expectedVersion}`, {
    stream,
    expectedVersion,
    actualVersion: current,
  })
}
