// The check of an append's input (src/store/arguments.ts checkAppendInput) builds argument names
// only for an error, and the check of IPLD values (src/block/validate.ts assertIpld) walks a
// value without a path string per key or a set per call (a fault builds its path; a cycle is
// looked for only when the value nests too deep). Against both as they were before (kept below,
// `checkBefore` and `assertIpldBefore`), on random inputs valid and not: the same draft, or the
// same error (class, message, code, path).
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { describe, expect, test } from 'vitest'
import { assertIpld, MAX_DEPTH } from '../../src/block/validate.ts'
import { CairnError } from '../../src/errors/cairn-error.ts'
import { expectNonNegativeInteger, expectObject, expectStoredString } from '../../src/errors/arguments.ts'
import { checkInputMeta } from '../../src/log/event/format.ts'
import type { AppendOptions } from '../../src/log/event/interface.ts'
import type { Draft } from '../../src/log/plan.ts'
import { checkAppendInput } from '../../src/store/arguments.ts'

const MAX_INT = 2n ** 64n - 1n
const MIN_INT = -(2n ** 64n)
const BOM_STRING = 'a string starting with U+FEFF (a byte order mark, which dag-cbor decoders drop)'

function failBefore(path: string, what: string): never {
  throw new CairnError('CAIRN_INVALID_VALUE', `${path}: ${what} is not an IPLD value`, { path })
}

/** assertIpld as it was before. */
function assertIpldBefore(value: unknown, path = 'value', seen: Set<object> = new Set(), depth = 0): void {
  switch (typeof value) {
    case 'string':
      if (value.charCodeAt(0) === 0xfeff) failBefore(path, BOM_STRING)
      return
    case 'boolean':
      return
    case 'number':
      if (!Number.isFinite(value)) failBefore(path, String(value))
      return
    case 'bigint':
      if (value > MAX_INT || value < MIN_INT) failBefore(path, 'an integer beyond 64 bits')
      return
    case 'undefined':
      failBefore(path, 'undefined')
      break
    case 'object': {
      if (value === null || value instanceof Uint8Array) return
      if (CID.asCID(value) !== null) return
      if (seen.has(value)) failBefore(path, 'a circular reference')
      if (depth >= MAX_DEPTH) throw new CairnError('CAIRN_INVALID_VALUE', `${path}: maps and lists nest deeper than ${MAX_DEPTH} levels`, { path })
      seen.add(value)
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) failBefore(`${path}[${i}]`, 'a hole in an array')
          assertIpldBefore(value[i], `${path}[${i}]`, seen, depth + 1)
        }
      } else {
        const proto = Object.getPrototypeOf(value)
        if (proto !== Object.prototype && proto !== null) failBefore(path, `a ${(value as object).constructor?.name ?? 'non-plain'} object`)
        for (const key of Object.keys(value)) {
          if (key.charCodeAt(0) === 0xfeff) failBefore(`${path}.${key}`, `a key: ${BOM_STRING}`)
          assertIpldBefore((value as Record<string, unknown>)[key], `${path}.${key}`, seen, depth + 1)
        }
      }
      seen.delete(value)
      return
    }
    default:
      failBefore(path, `a ${typeof value}`)
  }
}

const INPUT_KEYS = { stream: 1, type: 1, data: 1, meta: 1 } as const
const BATCH_INPUT_KEYS = { ...INPUT_KEYS, expectedVersion: 1 } as const

/** checkAppendInput as it was before its quick path. */
function checkBefore(input: unknown, name: string, options?: AppendOptions): Draft {
  const o = expectObject(name, input, options === undefined ? BATCH_INPUT_KEYS : INPUT_KEYS)
  const expectedVersion = (options ?? o).expectedVersion
  const stream = expectStoredString(`${name}.stream`, o['stream'])
  if (stream.startsWith('$')) throw new RangeError(`"${name}.stream" must not start with "$" (reserved for system streams), got ${JSON.stringify(stream)}`)
  const type = expectStoredString(`${name}.type`, o['type'])
  const data = o['data'] === undefined ? null : o['data']
  assertIpldBefore(data, 'data')
  const meta = checkInputMeta(o['meta'], `${name}.meta`)
  if (meta !== undefined) assertIpldBefore(meta, 'meta')
  const expected = expectedVersion === undefined ? undefined : expectNonNegativeInteger('expectedVersion', expectedVersion)
  return { stream, type, data, meta, expectedVersion: expected }
}

type Outcome = { draft: Draft } | { error: [string, string, string | undefined, string | undefined] }

function outcome(run: () => Draft): Outcome {
  try {
    return { draft: run() }
  } catch (err) {
    const e = err as Error
    return { error: [e.constructor.name, e.message, err instanceof CairnError ? err.code : undefined, (err as { path?: string }).path] }
  }
}

const cid = CID.createV1(0x71, Digest.create(0x12, new Uint8Array(32).fill(7)))
const bom = '\uFEFFx'

/** Values assertIpld accepts and refuses: every kind, BOM strings and keys, holes, cycles, deep nesting, class instances. */
const leaf = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, undefined, 2n ** 64n, -(2n ** 64n), -(2n ** 64n) - 1n, 5n, cid, bom, '', 'ok', new Uint8Array([1, 2]), new Date(0), () => 1, Symbol('s')),
  fc.string(),
  fc.integer(),
  fc.double(),
)
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.oneof(fc.string(), fc.constant(bom)), tie('v'), { maxKeys: 3 })),
})).v

function deep(levels: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { a: v }
  return v
}

function oddValues(): unknown[] {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic['self'] = cyclic
  const cyclicList: unknown[] = [1]
  cyclicList.push([cyclicList])
  const shared = { x: 1 }
  const holes: unknown[] = [1]
  holes[2] = 3
  const nullProto = Object.assign(Object.create(null) as object, { a: 1 })
  const getter = Object.defineProperty({}, 'a', { enumerable: true, get: () => 2 })
  const inherited = Object.create({ extra: 1 }) as object
  return [cyclic, cyclicList, { a: shared, b: shared }, holes, nullProto, getter, inherited, deep(MAX_DEPTH - 1), deep(MAX_DEPTH), deep(MAX_DEPTH + 1), new Map(), [undefined], { a: undefined }]
}

describe('append input checks', () => {
  test('assertIpld throws the errors it threw before, at the same paths', () => {
    const check = (v: unknown): void => {
      const before = outcome(() => {
        assertIpldBefore(v, 'data')
        return undefined as unknown as Draft
      })
      const now = outcome(() => {
        assertIpld(v, 'data')
        return undefined as unknown as Draft
      })
      expect(now).toEqual(before)
    }
    fc.assert(fc.property(value, check), { numRuns: 1000 })
    for (const v of oddValues()) check(v)
    // Paths through lists, maps, empty and odd keys.
    for (const v of [{ '': [1, { 'a.b': undefined }] }, [[[Number.NaN]]], { x: { y: [1, 2, { z: Symbol('s') }] } }, { [bom]: 1 }, [1, [2, bom]]]) check(v)
  })

  test('checkAppendInput gives the draft, or the error, the checks one by one gave', () => {
    const name = fc.oneof(fc.constantFrom('acct-1', '$objects', '$x', '', bom, 'a'), fc.string())
    const field = <T>(arb: fc.Arbitrary<T>) => fc.oneof(arb, fc.constant(undefined))
    const meta = fc.oneof(fc.constant(undefined), fc.record({ id: field(fc.constantFrom<unknown>('id-1', '', 3)), correlation: field(fc.string()), note: field(value) }, { requiredKeys: [] }), leaf)
    const input = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({ stream: field(name), type: field(name), data: field(value), meta, expectedVersion: field(fc.constantFrom<unknown>(0, 3, -1, 1.5, '2')), extra: field(fc.constant(1)) }, { requiredKeys: ['stream', 'type'] }),
      },
      { weight: 1, arbitrary: leaf },
      { weight: 1, arbitrary: fc.array(leaf, { maxLength: 2 }) },
    )
    const options = fc.oneof(fc.constant(undefined), fc.record({ expectedVersion: field(fc.constantFrom<unknown>(0, 2, -1, 'x')) }, { requiredKeys: [] }))
    fc.assert(
      fc.property(input, options, fc.nat(5), (i, opts, at) => {
        const o = opts as AppendOptions | undefined
        expect(outcome(() => checkAppendInput(i, at, o))).toEqual(outcome(() => checkBefore(i, `inputs[${at}]`, o)))
        expect(outcome(() => checkAppendInput(i, 'input', o))).toEqual(outcome(() => checkBefore(i, 'input', o)))
      }),
      { numRuns: 1000 },
    )
    for (const data of oddValues()) {
      const i = { stream: 's', type: 't', data }
      expect(outcome(() => checkAppendInput(i, 2))).toEqual(outcome(() => checkBefore(i, 'inputs[2]')))
      const m = { stream: 's', type: 't', meta: { id: 'x', data } }
      expect(outcome(() => checkAppendInput(m, 2))).toEqual(outcome(() => checkBefore(m, 'inputs[2]')))
    }
    // An inherited key is not the input's: both ignore it.
    const inheriting = Object.assign(Object.create({ extra: 1 }) as object, { stream: 's', type: 't' })
    expect(outcome(() => checkAppendInput(inheriting, 0))).toEqual(outcome(() => checkBefore(inheriting, 'inputs[0]')))
  })
})
