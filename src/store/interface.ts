import type { CID } from 'multiformats/cid'

export interface StoreOptions {
  /** Wall clock in ms for HLC stamps. Default `Date.now`. */
  clock?: () => number
}

/** What `verify()` walked. */
export interface VerifyReport {
  /** Blocks read and re-hashed. */
  blocks: number
  bytes: number
  /** CIDs linked from event data or object values that the store does not hold. */
  dangling: CID[]
}

export type Reducer<S, D = unknown> = (state: S, event: import('../log/interface.ts').StoredEvent<D>) => S
