import { CID } from 'multiformats/cid'
import { CairnError } from '../errors/cairn-error.ts'

const MAX_INT = 2n ** 64n - 1n
const MIN_INT = -(2n ** 64n)

function fail(path: string, what: string): never {
  throw new CairnError('CAIRN_INVALID_VALUE', `${path}: ${what} is not an IPLD value`, { path })
}

/**
 * Throws CAIRN_INVALID_VALUE, naming the path, unless `value` is in the IPLD data model:
 * null, booleans, finite numbers, integers within 64 bits, strings, bytes, CIDs, arrays
 * and plain objects with string keys. dag-cbor would refuse most of these too, but
 * without saying where, and it encodes bigints it cannot decode again.
 */
export function assertIpld(value: unknown, path = 'value', seen: Set<object> = new Set()): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return
    case 'number':
      if (!Number.isFinite(value)) fail(path, String(value))
      return
    case 'bigint':
      if (value > MAX_INT || value < MIN_INT) fail(path, 'an integer beyond 64 bits')
      return
    case 'undefined':
      fail(path, 'undefined')
    case 'object': {
      if (value === null || value instanceof Uint8Array) return
      if (CID.asCID(value) !== null) return
      if (seen.has(value)) fail(path, 'a circular reference')
      seen.add(value)
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) fail(`${path}[${i}]`, 'a hole in an array')
          assertIpld(value[i], `${path}[${i}]`, seen)
        }
      } else {
        const proto = Object.getPrototypeOf(value)
        if (proto !== Object.prototype && proto !== null) {
          fail(path, `a ${(value as object).constructor?.name ?? 'non-plain'} object`)
        }
        for (const key of Object.keys(value)) assertIpld((value as Record<string, unknown>)[key], `${path}.${key}`, seen)
      }
      seen.delete(value)
      return
    }
    default:
      fail(path, `a ${typeof value}`)
  }
}
