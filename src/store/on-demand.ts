/**
 * The store's argument checks that only cold paths need, as one chunk loaded on first use: an
 * app that opens, appends and reads never ships them. `import`'s options and their defaults
 * (import-options.ts, which the sync client and handler use too);
 * the `clock`, `signer`, `access` and `gates` of a store opened with them; a grant's or a revocation's
 * did:key; `replay`'s filter object. Each async method that needs them awaits this module before its checks, so an
 * argument mistake still rejects with the same TypeError/RangeError and changes nothing.
 */
import { expectFunction, expectObject, expectOptionalBoolean, expectString, type KnownKeys } from '../errors/arguments.ts'
import { checkedClock } from '../errors/clock.ts'
import { isDidKey } from '../identity/did-key.ts'
import { FILTER_KEYS } from '../log/event/filter.ts'
import type { Signer } from '../identity/interface.ts'
import type { StoredEvent } from '../log/event/interface.ts'
import type { AccessConfig } from '../log/rules/access-names.ts'
import type { Gate } from '../log/rules/gates.ts'
import type { GrantOptions } from './options.ts'

export { IMPORT_DEFAULTS, normalizeImportOptions } from './import-options.ts'

/** `StoreOptions.clock`, checked: a function, wrapped so that each of its readings is checked (see `checkedClock`). */
export function expectClock(clock: unknown): () => number {
  return checkedClock('clock', expectFunction<() => number>('clock', clock))
}

/** `StoreOptions.signer`, checked: an object with an Ed25519 did:key `did` and a `sign` function. */
export function expectSigner(signer: unknown): Signer {
  const s = expectObject('signer', signer)
  if (!isDidKey(s['did'])) throw new TypeError(`"signer.did" expected an Ed25519 did:key, got ${JSON.stringify(s['did'])}`)
  expectFunction('signer.sign', s['sign'])
  return signer as Signer
}

/** `StoreOptions.access`, checked: a non-empty array of did:key admins, copied and frozen. */
export function expectAccess(access: unknown): AccessConfig {
  const a = expectObject('access', access)
  const admins = a['admins']
  if (!Array.isArray(admins) || admins.length === 0) throw new TypeError('"access.admins" expected a non-empty array of did:key strings')
  admins.forEach((did, i) => {
    if (!isDidKey(did)) throw new TypeError(`"access.admins[${i}]" expected an Ed25519 did:key, got ${JSON.stringify(did)}`)
  })
  return { admins: Object.freeze([...(admins as string[])]) }
}

/** `StoreOptions.gates`, checked: an array of functions, frozen. */
export function expectGates(gates: unknown): readonly Gate[] {
  if (!Array.isArray(gates)) throw new TypeError('"gates" expected an array of functions')
  return Object.freeze(gates.map((g, i) => expectFunction<Gate>(`gates[${i}]`, g)))
}

/** TypeError unless `did` is an Ed25519 did:key (the grantee or revoked author). */
export function expectDidKey(did: unknown): string {
  if (!isDidKey(did)) throw new TypeError(`"did" expected an Ed25519 did:key, got ${JSON.stringify(did)}`)
  return did
}

/** The keys of `GrantOptions`. */
const GRANT_KEYS: KnownKeys<GrantOptions> = { streams: 1, admin: 1 }

/** Checks a grant's arguments; returns the grant event's data. */
export function normalizeGrant(did: unknown, options: GrantOptions): { did: string; streams: string; admin: boolean } {
  const grantee = expectDidKey(did)
  const o = expectObject('options', options, GRANT_KEYS)
  return { did: grantee, streams: expectString('streams', o['streams']), admin: expectOptionalBoolean('admin', o['admin']) }
}

/**
 * `replay`'s filter object, checked, as a predicate: `stream`, `streamPrefix` and `type` (one
 * type or a list) must all match. A key that is not one of these, with a value other than
 * undefined, is a TypeError (a misspelt `tpye` or a `since` would otherwise keep every event).
 */
export function replayFilter(filter: unknown): (e: StoredEvent) => boolean {
  const o = expectObject('filter', filter, FILTER_KEYS)
  const stream = o['stream'] === undefined ? undefined : expectString('filter.stream', o['stream'])
  const prefix = o['streamPrefix'] === undefined ? undefined : expectString('filter.streamPrefix', o['streamPrefix'])
  let types: Set<string> | undefined
  if (typeof o['type'] === 'string') types = new Set([expectString('filter.type', o['type'])])
  else if (Array.isArray(o['type'])) types = new Set(o['type'].map((t, i) => expectString(`filter.type[${i}]`, t)))
  else if (o['type'] !== undefined) throw new TypeError('"filter.type" expected a string or an array of strings')
  return (e) => (stream === undefined || e.stream === stream) && (prefix === undefined || e.stream.startsWith(prefix)) && (types === undefined || types.has(e.type))
}
