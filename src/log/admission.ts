import type { CID } from 'multiformats/cid'
import { CidMap } from '../block/cid-map.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { Signer } from '../identity/interface.ts'
import type { PlannedEvent } from './plan.ts'
import { ACCESS_STREAM, type AccessConfig, type AccessEvent, permits, readAccessEvent, type Standing, standingOf } from './rules/access.ts'
import type { Gate, GateEvent } from './rules/gates.ts'
import type { VerifyFn } from './rules/signatures.ts'
import { AccessContexts, type PendingPasts, pastOfParents } from './views/access-contexts.ts'
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
  readonly isDid: (did: unknown) => boolean
}

/** Shown in a refusal: at most this many CIDs in the message (the error's `refused` has all). */
const LISTED = 5

/**
 * Decides which new events the log admits, before anything is written: the access rule (an
 * author may write a stream iff a grant covering it, not superseded by a revocation, lies in
 * the event's own causal past; see rules/access.ts), then the policy gates. Signatures are
 * checked before this (rules/signatures.ts), so an event's author is known to be its writer.
 */
export class Admission {
  readonly rules: TrustRules
  readonly #views: LogViews
  readonly #contexts: AccessContexts | undefined
  readonly #admins: ReadonlySet<string>

  constructor(views: LogViews, reader: EventReader, rules: TrustRules) {
    this.rules = rules
    this.#views = views
    this.#admins = new Set(rules.access?.admins ?? [])
    this.#contexts = rules.access === undefined ? undefined : new AccessContexts(views, async (seq) => (await reader.load(seq)).event, rules.isDid)
  }

  /** Whether appends and imports are checked at all. */
  get active(): boolean {
    return this.#contexts !== undefined || this.rules.gates.length > 0
  }

  /** Follows the views: the access contexts of events added since the last call. */
  catchUp(): Promise<void> {
    return this.#contexts?.catchUp() ?? Promise.resolve()
  }

  /**
   * What `did` may do as the log stands (the past of its heads, i.e. every access event it
   * holds). Without access rules everyone may write everything.
   */
  standing(did: string): Standing {
    if (this.#contexts === undefined) return { admin: true, streams: ['*'] }
    return standingOf(did, this.#contexts.all(), this.#admins)
  }

  /** Whether `did` may write `stream` now; without a stream, whether the rules know `did` at all. */
  can(did: string, stream?: string): boolean {
    const standing = this.standing(did)
    return stream === undefined ? standing.admin || standing.streams.length > 0 : permits(standing, stream)
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
    if (this.#contexts !== undefined) await this.#checkAccess(this.#contexts, events, imported, pasts ?? new CidMap())
    if (this.rules.gates.length > 0) await this.#checkGates(events, imported)
  }

  async #checkAccess(contexts: AccessContexts, events: readonly PlannedEvent[], imported: number, pending: PendingPasts): Promise<void> {
    await contexts.catchUp()
    const memo = new Map<ReadonlySet<AccessEvent>, Map<string, Standing>>()
    const refused: { cid: CID; why: string }[] = []
    for (const { cid, event } of events) {
      const past = pastOfParents(event.parents, contexts, this.#views, pending)
      const self = event.stream === ACCESS_STREAM ? readAccessEvent(cid, event.type, event.data, past, this.rules.isDid) : undefined
      pending.set(cid, { past, self })
      const author = event.author
      let byAuthor = memo.get(past)
      if (byAuthor === undefined) {
        byAuthor = new Map()
        memo.set(past, byAuthor)
      }
      const key = author ?? ''
      let standing = byAuthor.get(key)
      if (standing === undefined) {
        standing = standingOf(author, past, this.#admins)
        byAuthor.set(key, standing)
      }
      if (!permits(standing, event.stream)) {
        const who = author === undefined ? 'an unsigned event' : author
        refused.push({ cid, why: event.stream === ACCESS_STREAM ? `${who} is not an admin` : `${who} holds no grant for stream "${event.stream}"` })
      }
    }
    if (refused.length === 0) return
    const first = refused[0]!
    const origin = imported > 0 ? 'the import' : 'the append'
    const local = imported === 0 && this.rules.signer === undefined ? ' (this store has access rules: open it with a signer they admit)' : ''
    const more =
      refused.length > 1
        ? `; ${refused.length} events refused: ${refused
            .slice(0, LISTED)
            .map((r) => r.cid.toString())
            .join(', ')}${refused.length > LISTED ? ', …' : ''}`
        : ''
    throw new CairnError('CAIRN_UNAUTHORIZED', `the access rules refuse event ${first.cid}: ${first.why}${local}${more}; nothing of ${origin} was written`, {
      cid: first.cid,
      refused: refused.map((r) => r.cid),
    })
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
