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

export function expectNonNegativeInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`"${name}" expected a non-negative integer, got ${show(value)}`)
  }
  if (value < 0) throw new RangeError(`"${name}" expected a non-negative integer, got ${value}`)
  return value
}

export function expectObject(name: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`"${name}" expected an object, got ${show(value)}`)
  }
  return value as Record<string, unknown>
}
