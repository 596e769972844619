// `ImportOptions` checked, with their defaults: loaded with the store's other cold checks
// (on-demand.ts) on the first `import`, and by the sync client and handler, which check the
// `import` options they are given before any request.
import { expectFunction, expectNonNegativeInteger, expectObject, expectStoredString, type KnownKeys } from '../errors/arguments.ts'
import type { ProgressOptions } from '../errors/progress.ts'
import type { ImportRules } from '../log/log.ts'
import type { ImportOptions } from './options.ts'

/** Defaults of `ImportOptions`. */
export const IMPORT_DEFAULTS: Readonly<Required<Omit<ImportOptions, keyof ProgressOptions>>> = Object.freeze({
  maxBlockBytes: 4 * 1024 * 1024,
  maxBytes: 1024 * 1024 * 1024,
  maxStagedBytes: 1024 * 1024 * 1024,
  maxClockDrift: 24 * 60 * 60 * 1000,
  foreignType: 'car',
})

/** The keys of `ImportOptions`. */
const IMPORT_KEYS: KnownKeys<ImportOptions> = { maxBlockBytes: 1, maxBytes: 1, maxStagedBytes: 1, maxClockDrift: 1, foreignType: 1, onProgress: 1, signal: 1 }

/**
 * Checks `ImportOptions` (TypeError/RangeError naming the bad one; any other key is a
 * TypeError) and applies the defaults. `name` is the options' name in the messages: 'options'
 * for `store.import`, whose keys are then named alone (`"maxBytes"`); another name prefixes
 * them (`"import.maxBytes"`). `signal` is left to the caller (`progressPlan` in store.import):
 * its check lives with the first load, which this module must not import from (an app with
 * top-level await would then load that module as a chunk of its own).
 */
export function normalizeImportOptions(options: ImportOptions, name = 'options'): ImportRules {
  const o = expectObject(name, options, IMPORT_KEYS) as ImportOptions
  const at = (key: string): string => (name === 'options' ? key : `${name}.${key}`)
  const count = (key: 'maxBlockBytes' | 'maxBytes' | 'maxStagedBytes' | 'maxClockDrift'): number => (o[key] === undefined ? IMPORT_DEFAULTS[key] : expectNonNegativeInteger(at(key), o[key]))
  if (o.onProgress !== undefined) expectFunction(at('onProgress'), o.onProgress)
  return {
    maxBlockBytes: count('maxBlockBytes'),
    maxBytes: count('maxBytes'),
    maxStagedBytes: count('maxStagedBytes'),
    maxClockDrift: count('maxClockDrift'),
    foreignType: o.foreignType === undefined ? IMPORT_DEFAULTS.foreignType : expectStoredString(at('foreignType'), o.foreignType),
  }
}
