import type { CID } from 'multiformats/cid'
import { CidMap } from '../block/cid-map.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { Signer } from '../identity/interface.ts'
import type { PlannedEvent } from './plan.ts'
import type { AccessCheck } from './access-check.ts'
import type { AccessConfig } from './rules/access-names.ts'
import type { Standing } from './rules/access.ts'
import type { Gate, GateEvent } from './rules/gates.ts'
import type { VerifyFn } from './rules/signatures.ts'
import type { PendingPasts } from './views/access-contexts.ts'
import type { EventReader } from './views/event-reader.ts'
import type { LogViews } from './views/views.ts'

/** Who signs this replica's events and what it admits: signatures, access rules, policy gates. */
export interface TrustRules {
  /** Signs every event this replica appends (`author` + `sig`). */
  readonly signer: Signer | undefined
  /** Refuse unsigned events on append and import. */
  readonly requireSignatures: boolean
  /** The store's root admins; access events in the log grant and revoke the rest. */
  readonly access: AccessConfig | undefined
  readonly gates: readonly Gate[]
  readonly verify: VerifyFn
}

/** Shown in a refusal: at most this many CIDs in the message (the error's `refused` has all). */
const LISTED = 5

/** The access rule's class, loaded by `Admission.load`; absent for a store without access rules. */
export type AccessCheckClass = typeof AccessCheck

/**
 * Decides which new events the log admits, before anything is written: the access rule (an
 * author may write a stream iff a grant covering it, not superseded by a revocation, lies in
 * the event's own causal past; see rules/access.ts and access-check.ts), then the policy gates.
 * Signatures are checked before this (rules/signatures.ts), so an event's author is known to be
 * its writer.
 */
export class Admission {
  readonly rules: TrustRules
  readonly #access: AccessCheck | undefined

  /**
   * The access rule's code when `rules` has access rules, loaded on demand: a store opened
   * without them never ships it. Resolves to undefined otherwise.
   */
  static async load(rules: TrustRules): Promise<AccessCheckClass | undefined> {
    return rules.access === undefined ? undefined : (await import('./on-demand.ts')).AccessCheck
  }

  /** `accessCheck`: what `load` gave for these rules (required when they have access rules). */
  constructor(views: LogViews, reader: EventReader, rules: TrustRules, accessCheck: AccessCheckClass | undefined) {
    this.rules = rules
    if (rules.access !== undefined && accessCheck === undefined) throw new Error('Admission: the access rule was not loaded (Admission.load)')
    this.#access = rules.access === undefined ? undefined : new accessCheck!(views, reader, rules)
  }

  /** Whether appends and imports are checked at all. */
  get active(): boolean {
    return this.#access !== undefined || this.rules.gates.length > 0
  }

  /** Follows the views: the access contexts of events added since the last call. */
  catchUp(): Promise<void> {
    return this.#access?.catchUp() ?? Promise.resolve()
  }

  /**
   * What `did` may do as the log stands (the past of its heads, i.e. every access event it
   * holds). Without access rules everyone may write everything.
   */
  standing(did: string): Standing {
    return this.#access?.standing(did) ?? { admin: true, streams: ['*'] }
  }

  /** Whether `did` may write `stream` now; without a stream, whether the rules know `did` at all. Without access rules, always. */
  can(did: string, stream?: string): boolean {
    return this.#access?.can(did, stream) ?? true
  }

  /**
   * Checks a plan's new events, canonical order; the first `imported` came from an import.
   * Throws CAIRN_UNAUTHORIZED listing every event the access rule refuses, then
   * CAIRN_REFUSED with every gate's reasons. Writes nothing either way. `pasts`: the access
   * pasts of events planned but not stored yet that these may name as parents (the callers
   * before this one in a group commit); this check adds its events' to it.
   */
  async check(events: readonly PlannedEvent[], imported: number, pasts?: PendingPasts): Promise<void> {
    if (!this.active || events.length === 0) return
    if (this.#access !== undefined) await this.#access.check(events, imported, pasts ?? new CidMap())
    if (this.rules.gates.length > 0) await this.#checkGates(events, imported)
  }

  async #checkGates(events: readonly PlannedEvent[], imported: number): Promise<void> {
    const refused: CID[] = []
    const reasons: string[] = []
    for (let i = 0; i < events.length; i++) {
      const { cid, event } = events[i]!
      const candidate: GateEvent = {
        cid,
        stream: event.stream,
        type: event.type,
        data: event.data,
        meta: event.meta,
        author: event.author,
        parents: event.parents,
        ts: event.ts,
        origin: i < imported ? 'import' : 'append',
      }
      for (const gate of this.rules.gates) {
        const reason = await gate(candidate)
        if (reason === undefined || reason === null) continue
        refused.push(cid)
        reasons.push(`${cid}: ${String(reason)}`)
        break
      }
    }
    if (refused.length === 0) return
    throw new CairnError('CAIRN_REFUSED', `a policy gate refused ${refused.length === 1 ? `event ${refused[0]}` : `${refused.length} events`}: ${reasons.slice(0, LISTED).join('; ')}; nothing was written`, {
      cid: refused[0]!,
      refused,
      reasons,
    })
  }
}
