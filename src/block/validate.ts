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

/** Why a value is not IPLD, and where: the keys and indexes down to it, innermost first. */
interface Fault {
  readonly at: (string | number)[]
  /** What is there (a `… is not an IPLD value` error), or the nesting limit's message. */
  readonly what: string
  readonly deep?: boolean
}

const fault = (what: string): Fault => ({ at: [], what })

/**
 * Throws CAIRN_INVALID_VALUE, naming the path, unless `value` is in the IPLD data model:
 * null, booleans, finite numbers, integers within 64 bits, strings (not starting with U+FEFF),
 * bytes, CIDs, arrays and plain objects with string keys (the same). dag-cbor would refuse most of these too, but
 * without saying where, and it encodes bigints it cannot decode again.
 */
export function assertIpld(value: unknown, path = 'value'): void {
  // Walked first without a set of the maps and lists on the way (nor paths: a fault builds its
  // own); a cycle then shows as nesting too deep, and the walk is made again with the set.
  let found = faultIn(value, undefined, 0)
  if (found?.deep) found = faultIn(value, new Set(), 0)
  if (found === undefined) return
  const where =
    path +
    found.at
      .reverse()
      .map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`))
      .join('')
  throw new CairnError('CAIRN_INVALID_VALUE', found.deep ? `${where}: ${found.what}` : `${where}: ${found.what} is not an IPLD value`, { path: where })
}

/** The first fault in `value` (depth first, in key order), or undefined. `seen`: the maps and lists above, when cycles are looked for. */
function faultIn(value: unknown, seen: Set<object> | undefined, depth: number): Fault | undefined {
  switch (typeof value) {
    case 'string':
      return value.charCodeAt(0) === BOM ? fault(BOM_STRING) : undefined
    case 'boolean':
      return undefined
    case 'number':
      return Number.isFinite(value) ? undefined : fault(String(value))
    case 'bigint':
      return value > MAX_INT || value < MIN_INT ? fault('an integer beyond 64 bits') : undefined
    case 'object': {
      if (value === null || value instanceof Uint8Array || CID.asCID(value) !== null) return undefined
      if (seen?.has(value)) return fault('a circular reference')
      if (depth >= MAX_DEPTH) return { at: [], what: `maps and lists nest deeper than ${MAX_DEPTH} levels`, deep: true }
      seen?.add(value)
      let found: Fault | undefined
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length && found === undefined; i++) {
          found = i in value ? faultIn(value[i], seen, depth + 1) : fault('a hole in an array')
          found?.at.push(i)
        }
      } else {
        const proto = Object.getPrototypeOf(value)
        if (proto !== Object.prototype && proto !== null) return fault(`a ${(value as object).constructor?.name ?? 'non-plain'} object`)
        for (const key in value) {
          if (!Object.hasOwn(value, key)) continue
          found = key.charCodeAt(0) === BOM ? fault(`a key: ${BOM_STRING}`) : faultIn((value as Record<string, unknown>)[key], seen, depth + 1)
          if (found !== undefined) {
            found.at.push(key)
            break
          }
        }
      }
      seen?.delete(value)
      return found
    }
    default:
      return fault(typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`)
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
