import type { CID } from 'multiformats/cid'
import { CairnError } from '../../errors/cairn-error.ts'
import { OBJECTS_STREAM } from '../event/object-record.ts'
import { ACCESS_GRANT, ACCESS_REVOKE, ACCESS_STREAM, ALL_STREAMS } from './access-names.ts'

export { ACCESS_GRANT, ACCESS_REVOKE, ACCESS_STREAM, ALL_STREAMS, type AccessConfig, type GrantData, type RevokeData } from './access-names.ts'

/**
 * An access event as the rule reads it, with the access events of its own causal past
 * (`past`): a grant is superseded only by revocations it did not see.
 */
export interface AccessEvent {
  readonly kind: 'grant' | 'revoke'
  readonly did: string
  readonly streams: string
  readonly admin: boolean
  readonly past: ReadonlySet<AccessEvent>
}

/** What one author may do, given the access events of some causal past. */
export interface Standing {
  /** Root admin, or holds an admin grant no revocation it did not see supersedes. */
  readonly admin: boolean
  /** Stream prefixes of its effective grants (`'*'` for all). */
  readonly streams: readonly string[]
}

const NOBODY: Standing = Object.freeze({ admin: false, streams: Object.freeze([]) as readonly string[] })
const ROOT: Standing = Object.freeze({ admin: true, streams: Object.freeze([ALL_STREAMS]) as readonly string[] })

/**
 * The access rule. An author's grant in a causal past is effective when every revocation of
 * that author in the same past lies in the grant's own past (it was granted again after being
 * revoked); a grant concurrent with a revocation is superseded by it. Root admins always stand.
 */
export function standingOf(author: string | undefined, past: Iterable<AccessEvent>, admins: ReadonlySet<string>): Standing {
  if (author === undefined) return NOBODY
  if (admins.has(author)) return ROOT
  const grants: AccessEvent[] = []
  const revokes: AccessEvent[] = []
  for (const a of past) {
    if (a.did !== author) continue
    if (a.kind === 'grant') grants.push(a)
    else revokes.push(a)
  }
  let admin = false
  const streams: string[] = []
  for (const g of grants) {
    if (!revokes.every((r) => g.past.has(r))) continue
    if (g.admin) admin = true
    streams.push(g.streams)
  }
  if (admin) return { admin, streams: [ALL_STREAMS] }
  return streams.length === 0 ? NOBODY : { admin, streams }
}

/**
 * Whether a standing lets its author write an event of `stream`: admins write every stream
 * (access events only they may write); a grant covers the streams starting with its prefix
 * (`'*'`: all); object records (`$objects`) need any effective grant.
 */
export function permits(standing: Standing, stream: string): boolean {
  if (standing.admin) return true
  if (stream === ACCESS_STREAM) return false
  if (stream === OBJECTS_STREAM) return standing.streams.length > 0
  return standing.streams.some((p) => p === ALL_STREAMS || stream.startsWith(p))
}

const invalid = (cid: CID, why: string): never => {
  throw new CairnError('CAIRN_INVALID_EVENT', `access event ${cid} is invalid: ${why}`, { cid })
}

/** Reads an access event's type and data, refusing (CAIRN_INVALID_EVENT) anything but a well-formed grant or revocation. */
export function readAccessEvent(cid: CID, type: string, data: unknown, past: ReadonlySet<AccessEvent>, isDid: (did: unknown) => boolean): AccessEvent {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return invalid(cid, 'its data must be a map')
  const d = data as Record<string, unknown>
  if (!isDid(d['did'])) return invalid(cid, '"did" must be an Ed25519 did:key')
  const did = d['did'] as string
  if (type === ACCESS_REVOKE) {
    if (Object.keys(d).length !== 1) invalid(cid, 'a revocation holds only "did"')
    return { kind: 'revoke', did, streams: '', admin: false, past }
  }
  if (type !== ACCESS_GRANT) return invalid(cid, `unknown type "${type}" (expected ${ACCESS_GRANT} or ${ACCESS_REVOKE})`)
  if (typeof d['streams'] !== 'string' || d['streams'] === '') invalid(cid, '"streams" must be a non-empty stream prefix or "*"')
  if (typeof d['admin'] !== 'boolean') invalid(cid, '"admin" must be a boolean')
  if (Object.keys(d).length !== 3) invalid(cid, 'a grant holds only "did", "streams" and "admin"')
  return { kind: 'grant', did, streams: d['streams'] as string, admin: d['admin'] as boolean, past }
}
