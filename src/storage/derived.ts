// The argument checks of readDerived/writeDerived, shared by every engine.
import { DERIVED_NAME } from './interface.ts'

/** Checks a derived value's name: TypeError when not a string, RangeError when not `[a-z0-9._-]{1,64}`. */
export function expectDerivedName(name: unknown): string {
  if (typeof name !== 'string') throw new TypeError(`"name" expected a string, got ${name === null ? 'null' : typeof name}`)
  if (!DERIVED_NAME.test(name)) throw new RangeError(`"name" expected [a-z0-9._-]{1,64}, got ${JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)}`)
  return name
}

/** Checks a derived value's bytes: TypeError unless a Uint8Array. */
export function expectDerivedBytes(bytes: unknown): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`"bytes" expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`)
  return bytes
}
