// The names and data of access events, apart from the rule (access.ts) so that a store can
// name them without shipping the rule: its code loads only for stores opened with access rules.

/**
 * The stream of access events: grants and revocations, signed by admins.
 *
 * @example
 * for await (const e of store.read(ACCESS_STREAM)) console.log(e.type, e.author, e.data)
 */
export const ACCESS_STREAM = '$access'
/**
 * Type of a grant: `{ did, streams, admin }`.
 *
 * @example
 * for await (const e of store.query({ stream: ACCESS_STREAM, type: ACCESS_GRANT })) console.log((e.data as GrantData).did)
 */
export const ACCESS_GRANT = 'access.grant'
/**
 * Type of a revocation: `{ did }`.
 *
 * @example
 * store.subscribe({ stream: ACCESS_STREAM, type: ACCESS_REVOKE }, (e) => console.log('revoked', (e.data as RevokeData).did))
 */
export const ACCESS_REVOKE = 'access.revoke'
/**
 * The `streams` of a grant that covers every stream (`'*'`), as `grant` takes it and as
 * `GrantData.streams` holds it. Reads (`query`, `replay`, `project`) need no such value: a filter
 * without `stream` or `streamPrefix` already spans every stream.
 *
 * @example
 * await store.grant(peer.did, { streams: ALL_STREAMS })   // may write every stream, may not grant
 */
export const ALL_STREAMS = '*'

/**
 * The data of an `access.grant` event.
 *
 * @example
 * const { data } = await store.grant(writer.did, { streams: 'todo/' })   // { did, streams: 'todo/', admin: false }
 */
export interface GrantData {
  /** The `did:key` granted. */
  readonly did: string
  /** A stream prefix, or `'*'` for every stream. */
  readonly streams: string
  /** Whether the grantee may grant and revoke too (and write every stream). */
  readonly admin: boolean
}

/**
 * The data of an `access.revoke` event.
 *
 * @example
 * const { data } = await store.revoke(writer.did)   // { did }
 */
export interface RevokeData {
  readonly did: string
}

/**
 * The access rules a store is opened with: its root admins, the same on every replica.
 *
 * @example
 * const store = await openStore({ path: './data', signer: admin, access: { admins: [admin.did] } })
 */
export interface AccessConfig {
  readonly admins: readonly string[]
}
