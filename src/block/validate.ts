import { CID } from 'multiformats/cid'
import { CairnError } from '../errors/cairn-error.ts'

/**
 * How deep maps and lists may nest in a value Cairn stores or accepts in an event. The codecs
 * and walkers of the field recurse per level and overflow the stack a few thousand levels down
 * (a plain RangeError); 512 levels is far beyond any document and leaves room in every runtime.
 */
export const MAX_DEPTH = 512

const MAX_INT = 2n ** 64n - 1n
const MIN_INT = -(2n ** 64n)

/**
 * U+FEFF: a string (or map key) starting with it does not survive dag-cbor: decoders drop it
 * (TextDecoder takes it for a byte order mark), so the block would read back as another value,
 * and a peer's strict import would refuse it as not canonical.
 */
const BOM = 0xfeff
const BOM_STRING = 'a string starting with U+FEFF (a byte order mark, which dag-cbor decoders drop)'

function fail(path: string, what: string): never {
  throw new CairnError('CAIRN_INVALID_VALUE', `${path}: ${what} is not an IPLD value`, { path })
}

/**
 * Throws CAIRN_INVALID_VALUE, naming the path, unless `value` is in the IPLD data model:
 * null, booleans, finite numbers, integers within 64 bits, strings (not starting with U+FEFF),
 * bytes, CIDs, arrays and plain objects with string keys (the same). dag-cbor would refuse most of these too, but
 * without saying where, and it encodes bigints it cannot decode again.
 */
export function assertIpld(value: unknown, path = 'value', seen?: Set<object>, depth = 0): void {
  // Most values pass: checked first without a path string or a set per call; a value that does
  // not pass (or cannot be told apart quickly) is walked again below, for the error.
  if (seen === undefined) {
    if (isIpld(value, depth)) return
    seen = new Set()
  }
  switch (typeof value) {
    case 'string':
      if (value.charCodeAt(0) === BOM) fail(path, BOM_STRING)
      return
    case 'boolean':
      return
    case 'number':
      if (!Number.isFinite(value)) fail(path, String(value))
      return
    case 'bigint':
      if (value > MAX_INT || value < MIN_INT) fail(path, 'an integer beyond 64 bits')
      return
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: fail() returns never
    case 'undefined':
      fail(path, 'undefined')
    case 'object': {
      if (value === null || value instanceof Uint8Array) return
      if (CID.asCID(value) !== null) return
      if (seen.has(value)) fail(path, 'a circular reference')
      if (depth >= MAX_DEPTH) throw new CairnError('CAIRN_INVALID_VALUE', `${path}: maps and lists nest deeper than ${MAX_DEPTH} levels`, { path })
      seen.add(value)
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) fail(`${path}[${i}]`, 'a hole in an array')
          assertIpld(value[i], `${path}[${i}]`, seen, depth + 1)
        }
      } else {
        const proto = Object.getPrototypeOf(value)
        if (proto !== Object.prototype && proto !== null) {
          fail(path, `a ${(value as object).constructor?.name ?? 'non-plain'} object`)
        }
        for (const key of Object.keys(value)) {
          if (key.charCodeAt(0) === BOM) fail(`${path}.${key}`, `a key: ${BOM_STRING}`)
          assertIpld((value as Record<string, unknown>)[key], `${path}.${key}`, seen, depth + 1)
        }
      }
      seen.delete(value)
      return
    }
    default:
      fail(path, `a ${typeof value}`)
  }
}

/**
 * Whether `value` is an IPLD value as assertIpld has it (that one then passes too), checked
 * without allocating: no paths, no set (a cycle runs into the depth limit). False for anything
 * assertIpld refuses, and for what it accepts by other means (CID-like objects of another kind).
 */
export function isIpld(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
      return value.charCodeAt(0) !== BOM
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value)
    case 'bigint':
      return value <= MAX_INT && value >= MIN_INT
    case 'object': {
      if (value === null || value instanceof Uint8Array) return true
      if (depth >= MAX_DEPTH) return false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!(i in value) || !isIpld(value[i], depth + 1)) return false
        return true
      }
      const proto = Object.getPrototypeOf(value)
      if (proto !== Object.prototype && proto !== null) return value instanceof CID
      for (const key in value) {
        if (!Object.hasOwn(value, key) || key.charCodeAt(0) === BOM || !isIpld((value as Record<string, unknown>)[key], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

/** Whether maps and lists in a decoded value nest deeper than `max` levels (checked without recursion). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array || CID.asCID(v) !== null) continue
    if (depth >= max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1])
  }
  return false
}
