import { CID } from 'multiformats/cid'

/** Argument checks that throw TypeError/RangeError naming the argument, as noble-hashes does. */

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

export function expectString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`"${name}" expected a non-empty string, got ${show(value)}`)
  }
  return value
}

/**
 * `expectString` for a name that goes into a block (a stream, an event or object type): it may
 * not start with U+FEFF, which dag-cbor decoders drop (TextDecoder takes it for a byte order
 * mark), so the block would read back as another value and no peer could import it. RangeError.
 */
export function expectStoredString(name: string, value: unknown): string {
  const s = expectString(name, value)
  if (s.charCodeAt(0) === 0xfeff) throw new RangeError(`"${name}" must not start with U+FEFF (a byte order mark, which dag-cbor decoders drop)`)
  return s
}

export function expectNonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`"${name}" expected a non-negative integer, got ${show(value)}`)
  }
  if (value < 0) throw new RangeError(`"${name}" expected a non-negative integer, got ${value}`)
  return value
}

export function expectPositiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`"${name}" expected a positive integer, got ${show(value)}`)
  }
  if (value < 1) throw new RangeError(`"${name}" expected a positive integer, got ${value}`)
  return value
}

export function expectFunction<F extends (...args: never[]) => unknown>(name: string, value: unknown): F {
  if (typeof value !== 'function') throw new TypeError(`"${name}" expected a function, got ${value === null ? 'null' : typeof value}`)
  return value as F
}

/**
 * Every key of an options type `T`, as an object for `expectObject` (`{ limit: 1, reverse: 1 }`):
 * a list that misses a key of `T`, or names another, does not compile.
 */
export type KnownKeys<T> = { readonly [K in keyof T]-?: 1 }

/**
 * TypeError unless `value` is an object (not an array). With `keys` (see `KnownKeys`), also a
 * TypeError naming the first other own key whose value is not undefined, and listing the known
 * ones: a misspelt `tpye` is refused, where ignoring it would read or change more than was asked.
 * Callers check before reading or changing anything.
 */
export function expectObject(name: string, value: unknown, keys?: Readonly<Record<string, 1>>): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`"${name}" expected an object, got ${show(value)}`)
  }
  const o = value as Record<string, unknown>
  if (keys !== undefined) {
    for (const key of Object.keys(o)) {
      if (o[key] !== undefined && !Object.hasOwn(keys, key)) throw new TypeError(`"${name}.${key}" is an unknown key; the known keys are ${Object.keys(keys).join(', ')}`)
    }
  }
  return o
}

export function expectCid(name: string, value: unknown): CID {
  const cid = CID.asCID(value)
  if (cid === null) throw new TypeError(`"${name}" expected a CID, got ${value === null ? 'null' : typeof value}`)
  return cid
}

export function expectOptionalBoolean(name: string, value: unknown): boolean {
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw new TypeError(`"${name}" expected a boolean, got ${typeof value}`)
  return value
}

/** A time in ms (a finite number) or a valid Date, as ms. */
export function expectTime(name: string, value: unknown): number {
  if (value instanceof Date) {
    const ms = value.getTime()
    if (Number.isNaN(ms)) throw new RangeError(`"${name}" expected a valid Date, got an invalid one`)
    return ms
  }
  if (typeof value !== 'number') throw new TypeError(`"${name}" expected a time in ms or a Date, got ${value === null ? 'null' : typeof value}`)
  if (!Number.isFinite(value)) throw new RangeError(`"${name}" expected a finite time in ms, got ${value}`)
  return value
}

export function expectCids(name: string, value: unknown): CID[] {
  if (!Array.isArray(value)) throw new TypeError(`"${name}" expected an array of CIDs`)
  return value.map((v, i) => expectCid(`${name}[${i}]`, v))
}

/** `asOf`: a time (returned as ms) or an event CID. */
export function expectAsOf(name: string, value: unknown): number | CID {
  const cid = CID.asCID(value)
  if (cid !== null) return cid
  if (typeof value === 'number' || value instanceof Date) return expectTime(name, value)
  throw new TypeError(`"${name}" expected a time in ms, a Date or an event CID, got ${value === null ? 'null' : typeof value}`)
}
