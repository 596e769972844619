import { assertIpld } from '../block/validate.ts'
import { expectNonNegativeInteger, expectObject, expectStoredString, expectString } from '../errors/arguments.ts'
import { checkInputMeta } from '../log/event/format.ts'
import type { StoredEvent } from '../log/event/interface.ts'
import type { Draft } from '../log/plan.ts'
import type { OrderKey } from '../log/views/views.ts'

// The checks of the store's public arguments that are particular to it (generic ones are in
// errors/arguments.ts). They throw TypeError/RangeError naming the argument.

/** An app's append input, checked: its data and meta are IPLD values, its stream is not a system stream. */
export function checkAppendInput(input: unknown, name: string, expectedVersion: unknown): Draft {
  const o = expectObject(name, input)
  const stream = expectStoredString(`${name}.stream`, o['stream'])
  if (stream.startsWith('$')) throw new RangeError(`"${name}.stream" must not start with "$" (reserved for system streams), got ${JSON.stringify(stream)}`)
  const type = expectStoredString(`${name}.type`, o['type'])
  const data = o['data'] === undefined ? null : o['data']
  assertIpld(data, 'data')
  const meta = checkInputMeta(o['meta'], `${name}.meta`)
  if (meta !== undefined) assertIpld(meta, 'meta')
  const expected = expectedVersion === undefined ? undefined : expectNonNegativeInteger('expectedVersion', expectedVersion)
  return { stream, type, data, meta, expectedVersion: expected }
}

/** Scan bounds for a cursor: strictly after it, or strictly before it when reading newest first. */
export function cursorBounds(after: OrderKey | undefined, reverse: boolean): { lower?: { key: OrderKey; inclusive: boolean }; upper?: { key: OrderKey; inclusive: boolean } } {
  if (after === undefined) return {}
  return reverse ? { upper: { key: after, inclusive: false } } : { lower: { key: after, inclusive: false } }
}

/** `replay`'s filter: a predicate, or `{ type }` with one type or a list. */
export function replayFilter(filter: unknown): (e: StoredEvent) => boolean {
  if (filter === undefined) return () => true
  if (typeof filter === 'function') return filter as (e: StoredEvent) => boolean
  const o = expectObject('filter', filter)
  if (o['type'] === undefined) return () => true
  if (typeof o['type'] === 'string') {
    const type = expectString('filter.type', o['type'])
    return (e) => e.type === type
  }
  if (!Array.isArray(o['type'])) throw new TypeError('"filter.type" expected a string or an array of strings')
  const types = new Set(o['type'].map((t, i) => expectString(`filter.type[${i}]`, t)))
  return (e) => types.has(e.type)
}
