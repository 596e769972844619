// The names and data of access events, apart from the rule (access.ts) so that a store can
// name them without shipping the rule: its code loads only for stores opened with access rules.

/** The stream of access events: grants and revocations, signed by admins. */
export const ACCESS_STREAM = '$access'
/** Type of a grant: `{ did, streams, admin }`. */
export const ACCESS_GRANT = 'access.grant'
/** Type of a revocation: `{ did }`. */
export const ACCESS_REVOKE = 'access.revoke'
/** `streams` of a grant that covers every stream. */
export const ALL_STREAMS = '*'

/** The data of an `access.grant` event. */
export interface GrantData {
  /** The `did:key` granted. */
  readonly did: string
  /** A stream prefix, or `'*'` for every stream. */
  readonly streams: string
  /** Whether the grantee may grant and revoke too (and write every stream). */
  readonly admin: boolean
}

/** The data of an `access.revoke` event. */
export interface RevokeData {
  readonly did: string
}

/** The access rules a store is opened with: its root admins, the same on every replica. */
export interface AccessConfig {
  readonly admins: readonly string[]
}
