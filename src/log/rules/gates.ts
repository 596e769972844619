import type { CID } from 'multiformats/cid'
import type { EventMeta } from '../event/interface.ts'

/**
 * What a policy gate sees of a candidate event, before anything is written.
 *
 * @example
 * const signedImports: Gate = (e: GateEvent) => (e.origin === 'import' && e.author === undefined ? 'imported events must be signed' : undefined)
 */
export interface GateEvent {
  readonly cid: CID
  readonly stream: string
  readonly type: string
  readonly data: unknown
  readonly meta: EventMeta | undefined
  /** The author's did:key (a signed event), or undefined. */
  readonly author: string | undefined
  /** The event's parents: the heads its writer saw. */
  readonly parents: readonly CID[]
  readonly ts: number
  /** Where it comes from: a local append (object records included) or an import. */
  readonly origin: 'append' | 'import'
}

/**
 * A policy gate: returns a reason to refuse the event, or nothing to let it through. Gates run
 * on every append and import after the signature and access rules, in the order given; one
 * refused event fails the whole append or import with CAIRN_REFUSED and writes nothing. A gate
 * that throws fails the write with that error. Gates must be deterministic and the same on
 * every replica, or replicas disagree about what they accept.
 *
 * @example
 * const small: Gate = (e) => (JSON.stringify(e.data).length > 10_000 ? 'data over 10 kB' : undefined)
 * const store = await openStore({ path: './data', gates: [small] })
 */
export type Gate = (event: GateEvent) => string | undefined | null | void | Promise<string | undefined | null | void>
