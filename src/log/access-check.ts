import type { CID } from 'multiformats/cid'
import { CairnError } from '../errors/cairn-error.ts'
import { isDidKey } from '../identity/did-key.ts'
import type { PlannedEvent } from './plan.ts'
import type { TrustRules } from './admission.ts'
import { ACCESS_STREAM, type AccessEvent, permits, readAccessEvent, type Standing, standingOf } from './rules/access.ts'
import { AccessContexts, type PendingPasts, pastOfParents } from './views/access-contexts.ts'
import type { EventReader } from './views/event-reader.ts'
import type { LogViews } from './views/views.ts'

/** Shown in a refusal: at most this many CIDs in the message (the error's `refused` has all). */
const LISTED = 5

/**
 * The access rule as `Admission` applies it (an author may write a stream iff a grant covering
 * it, not superseded by a revocation, lies in the event's own causal past; see rules/access.ts),
 * with the access contexts it reads. Loaded (with on-demand.ts) by `Admission.load`, on open,
 * only for a store opened with access rules: a store without them never ships this code.
 */
export class AccessCheck {
  readonly #rules: TrustRules
  readonly #views: LogViews
  readonly #contexts: AccessContexts
  readonly #admins: ReadonlySet<string>

  constructor(views: LogViews, reader: EventReader, rules: TrustRules) {
    this.#rules = rules
    this.#views = views
    this.#admins = new Set(rules.access?.admins ?? [])
    this.#contexts = new AccessContexts(views, async (seq) => (await reader.load(seq)).event, isDidKey)
  }

  /** Follows the views: the access contexts of events added since the last call. */
  catchUp(): Promise<void> {
    return this.#contexts.catchUp()
  }

  /** What `did` may do as the log stands (the past of its heads, i.e. every access event it holds). */
  standing(did: string): Standing {
    return standingOf(did, this.#contexts.all(), this.#admins)
  }

  /** Whether `did` may write `stream` now; without a stream, whether the rules know `did` at all. */
  can(did: string, stream?: string): boolean {
    const standing = this.standing(did)
    return stream === undefined ? standing.admin || standing.streams.length > 0 : permits(standing, stream)
  }

  /** Throws CAIRN_UNAUTHORIZED listing every event of `events` the access rule refuses (see Admission.check). */
  async check(events: readonly PlannedEvent[], imported: number, pending: PendingPasts): Promise<void> {
    const contexts = this.#contexts
    await contexts.catchUp()
    const memo = new Map<ReadonlySet<AccessEvent>, Map<string, Standing>>()
    const refused: { cid: CID; why: string }[] = []
    for (const { cid, event } of events) {
      const past = pastOfParents(event.parents, contexts, this.#views, pending)
      const self = event.stream === ACCESS_STREAM ? readAccessEvent(cid, event.type, event.data, past, isDidKey) : undefined
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
    const local = imported === 0 && this.#rules.signer === undefined ? ' (this store has access rules: open it with a signer they admit)' : ''
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
}
