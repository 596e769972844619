import type { CID } from 'multiformats/cid'
import { expectCids, expectFunction, expectNonNegativeInteger, expectObject, expectOptionalBoolean, expectString } from '../errors/arguments.ts'
import type { ImportRules, LogOpenOptions } from '../log/log.ts'

// Each options type of the store sits here with its defaults and the one function that
// checks it and applies them.

export interface StoreOptions {
  /** Wall clock in ms for HLC stamps. Default `Date.now`. */
  clock?: () => number
  /**
   * Ignore the persisted index snapshot and rebuild the indexes from the blocks alone
   * (the snapshot is then rewritten). Default false: open loads the snapshot and indexes only
   * the events committed after it.
   */
  rebuildIndex?: boolean
}

/** Defaults of `StoreOptions`. */
export const STORE_DEFAULTS: Readonly<Required<StoreOptions>> = Object.freeze({
  clock: () => Date.now(),
  rebuildIndex: false,
})

/** Checks `StoreOptions` and applies the defaults. */
export function normalizeStoreOptions(options: StoreOptions): LogOpenOptions {
  return {
    clock: options.clock === undefined ? STORE_DEFAULTS.clock : expectFunction<() => number>('clock', options.clock),
    rebuildIndex: options.rebuildIndex === undefined ? STORE_DEFAULTS.rebuildIndex : expectOptionalBoolean('rebuildIndex', options.rebuildIndex),
  }
}

export interface ExportOptions {
  /**
   * Heads (or any events) the receiver is known to hold. The CAR then carries exactly the
   * blocks reachable from our heads and not from these. CIDs this store does not know are
   * ignored. Omit for a full export.
   */
  since?: readonly CID[]
}

/** Checks `ExportOptions`; returns the `since` set (empty for a full export). */
export function normalizeExportOptions(options: ExportOptions): CID[] {
  expectObject('options', options)
  return options.since === undefined ? [] : expectCids('since', options.since)
}

export interface ImportOptions {
  /** Largest block accepted, in bytes; a longer frame is refused before it is buffered. Default 4 MiB. */
  maxBlockBytes?: number
  /** Largest CAR accepted, in bytes (an import is staged in memory to commit atomically). Default 1 GiB. */
  maxBytes?: number
  /**
   * The memory an import may stage, counted as each block's bytes plus 2 KiB of bookkeeping
   * (CIDs, maps, decoded events), so that a CAR of millions of tiny blocks cannot take gigabytes:
   * past it the import fails with CAIRN_TOO_LARGE and changes nothing. Default 1 GiB.
   */
  maxStagedBytes?: number
  /** Events stamped more than this many ms ahead of the local clock are refused. Default one day. */
  maxClockDrift?: number
  /** `$objects` type recorded for the roots of a CAR that holds no Cairn events. Default 'car'. */
  foreignType?: string
}

/** Defaults of `ImportOptions`. */
export const IMPORT_DEFAULTS: Readonly<Required<ImportOptions>> = Object.freeze({
  maxBlockBytes: 4 * 1024 * 1024,
  maxBytes: 1024 * 1024 * 1024,
  maxStagedBytes: 1024 * 1024 * 1024,
  maxClockDrift: 24 * 60 * 60 * 1000,
  foreignType: 'car',
})

/** Checks `ImportOptions` and applies the defaults. */
export function normalizeImportOptions(options: ImportOptions): ImportRules {
  expectObject('options', options)
  return {
    maxBlockBytes: options.maxBlockBytes === undefined ? IMPORT_DEFAULTS.maxBlockBytes : expectNonNegativeInteger('maxBlockBytes', options.maxBlockBytes),
    maxBytes: options.maxBytes === undefined ? IMPORT_DEFAULTS.maxBytes : expectNonNegativeInteger('maxBytes', options.maxBytes),
    maxStagedBytes: options.maxStagedBytes === undefined ? IMPORT_DEFAULTS.maxStagedBytes : expectNonNegativeInteger('maxStagedBytes', options.maxStagedBytes),
    maxClockDrift: options.maxClockDrift === undefined ? IMPORT_DEFAULTS.maxClockDrift : expectNonNegativeInteger('maxClockDrift', options.maxClockDrift),
    foreignType: options.foreignType === undefined ? IMPORT_DEFAULTS.foreignType : expectString('foreignType', options.foreignType),
  }
}

/** What an import added. Importing the same CAR again reports zeros and the same heads. */
export interface ImportReport {
  /** Blocks newly stored (events, objects, file blocks, and any local `$objects` events). */
  blocks: number
  /** Events from the CAR newly added to the log. */
  events: number
  /** The log's heads after the import. */
  heads: CID[]
  /** The CAR's roots. */
  roots: CID[]
  /** Roots of foreign DAGs (no Cairn events) kept as objects. */
  foreign: CID[]
}
