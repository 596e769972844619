import { assertIpld } from '../block/validate.ts'
import { expectNonNegativeInteger, expectObject, expectStoredString, type KnownKeys } from '../errors/arguments.ts'
import type { ProgressOptions } from '../errors/progress.ts'
import { FILTER_KEYS } from '../log/event/filter.ts'
import { checkInputMeta } from '../log/event/format.ts'
import type { AppendInput, AppendOptions, BatchAppendInput, PageOptions, QueryOptions, ReadOptions, ReplayOptions } from '../log/event/interface.ts'
import type { Draft } from '../log/plan.ts'
import type { OrderKey } from '../log/views/views.ts'
import type { ObjectsQuery, PutFileOptions, PutOptions } from '../objects/interface.ts'
import type { CompactOptions } from '../storage/interface.ts'
import type { ChangesOptions, ReduceOptions, SubscribeOptions } from './interface.ts'

// The checks of the store's public arguments that are particular to it (generic ones are in
// errors/arguments.ts). They throw TypeError/RangeError naming the argument.

// The keys of the store's options objects, for `expectObject`: any other key (with a value
// other than undefined) is a TypeError naming it, so that a misspelt option is not ignored.
export const APPEND_KEYS: KnownKeys<AppendOptions> = { expectedVersion: 1 }
/** An append's input: a misspelt `dat`, or an `expectedVersion` in `append`'s input (it goes in its options), is refused. */
const INPUT_KEYS: KnownKeys<AppendInput> = { stream: 1, type: 1, data: 1, meta: 1 }
/** An `appendMany` input, which may carry its own `expectedVersion`. */
const BATCH_INPUT_KEYS: KnownKeys<BatchAppendInput> = { ...INPUT_KEYS, expectedVersion: 1 }
export const READ_KEYS: KnownKeys<ReadOptions> = { fromVersion: 1, toVersion: 1, limit: 1, reverse: 1, asOf: 1 }
export const QUERY_KEYS: KnownKeys<QueryOptions> = { ...FILTER_KEYS, since: 1, until: 1, after: 1, limit: 1, reverse: 1 }
export const PAGE_KEYS: KnownKeys<PageOptions> = { after: 1, limit: 1, reverse: 1 }
export const REDUCE_KEYS: KnownKeys<ReduceOptions> = { asOf: 1 }
export const REPLAY_KEYS: KnownKeys<ReplayOptions> = { filter: 1 }
export const SUBSCRIBE_KEYS: KnownKeys<SubscribeOptions> = { onError: 1 }
export const CHANGES_KEYS: KnownKeys<ChangesOptions> = { after: 1, filter: 1, signal: 1 }
export const PUT_KEYS: KnownKeys<PutOptions> = { type: 1 }
export const PUT_FILE_KEYS: KnownKeys<PutFileOptions> = { type: 1, onProgress: 1, signal: 1 }
export const OBJECTS_KEYS: KnownKeys<ObjectsQuery> = { type: 1 }
export const COMPACT_KEYS: KnownKeys<CompactOptions> = { minDeadRatio: 1 }
export const PROGRESS_KEYS: KnownKeys<ProgressOptions> = { onProgress: 1, signal: 1 }

const isStoredString = (v: unknown): v is string => typeof v === 'string' && v !== '' && v.charCodeAt(0) !== 0xfeff

const nameOf = (at: string | number): string => (typeof at === 'number' ? `inputs[${at}]` : at)

/** Whether `o` has no key but `keys` (or keys whose value is undefined), found without making its list of keys. */
function knownKeysOnly(o: object, keys: Readonly<Record<string, 1>>): boolean {
  for (const key in o) if (!Object.hasOwn(keys, key) && (o as Record<string, unknown>)[key] !== undefined) return false
  return true
}

/** `appendMany`'s inputs (the store's and a transaction's), each checked by checkAppendInput; a hole in a sparse array is an undefined input. */
export function checkBatchInputs(inputs: unknown): Draft[] {
  if (!Array.isArray(inputs)) throw new TypeError('"inputs" expected an array of events')
  // Array.from, not map: map would skip a hole.
  return Array.from(inputs, (input, i) => checkAppendInput(input, i))
}

/**
 * An app's append input, checked: no key but those of `AppendInput`, its data and meta are IPLD
 * values, its stream is not a system stream. `options` are `append`'s (checked); without them
 * the input is an `appendMany` one, which may carry its own `expectedVersion`. `at` names the
 * input in errors: a name, or the index `i` of `inputs[i]`. Each check is made first without
 * the argument's name, which is built only for the error.
 */
export function checkAppendInput(input: unknown, at: string | number, options?: AppendOptions): Draft {
  const keys = options === undefined ? BATCH_INPUT_KEYS : INPUT_KEYS
  const o = typeof input === 'object' && input !== null && !Array.isArray(input) && knownKeysOnly(input, keys) ? (input as Record<string, unknown>) : expectObject(nameOf(at), input, keys)
  const expectedVersion = (options ?? o).expectedVersion
  const stream = isStoredString(o['stream']) ? o['stream'] : expectStoredString(`${nameOf(at)}.stream`, o['stream'])
  if (stream.startsWith('$')) throw new RangeError(`"${nameOf(at)}.stream" must not start with "$" (reserved for system streams), got ${JSON.stringify(stream)}`)
  const type = isStoredString(o['type']) ? o['type'] : expectStoredString(`${nameOf(at)}.type`, o['type'])
  const data = o['data'] === undefined ? null : o['data']
  assertIpld(data, 'data')
  const meta = o['meta'] === undefined ? undefined : checkInputMeta(o['meta'], `${nameOf(at)}.meta`)
  if (meta !== undefined) assertIpld(meta, 'meta')
  const expected = expectedVersion === undefined ? undefined : expectNonNegativeInteger('expectedVersion', expectedVersion)
  return { stream, type, data, meta, expectedVersion: expected }
}

/** Scan bounds for a cursor: strictly after it, or strictly before it when reading newest first. */
export function cursorBounds(after: OrderKey | undefined, reverse: boolean): { lower?: { key: OrderKey; inclusive: boolean }; upper?: { key: OrderKey; inclusive: boolean } } {
  if (after === undefined) return {}
  return reverse ? { upper: { key: after, inclusive: false } } : { lower: { key: after, inclusive: false } }
}
