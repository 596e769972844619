import { assertIpld } from '../block/validate.ts'
import { expectNonNegativeInteger, expectObject, expectStoredString } from '../errors/arguments.ts'
import { checkInputMeta } from '../log/event/format.ts'
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
