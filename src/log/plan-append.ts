import { arenaFor } from '../block/arena.ts'
import type { BlockLookup } from '../block/cid-map.ts'
import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import type { Signer } from '../identity/interface.ts'
import type { Stamp } from './event/interface.ts'
import { encodeEvent, encodeOwnEvent, newEvent } from './event/format.ts'
import { compareEvents } from './event/order.ts'
import type { CommitPlan, Draft, PlannedEvent } from './plan.ts'
import { assertExpectedVersion } from './rules/expected-version.ts'
import { resolveRetry } from './rules/idempotency.ts'
import { signEvent } from './rules/sign.ts'
import { nextStamp } from './rules/stamp.ts'
import type { EventReader } from './views/event-reader.ts'
import type { LogViews } from './views/views.ts'

/** What an append is planned on top of: the log as it stands, or an import's plan. */
export interface AppendBase {
  readonly heads: readonly CID[]
  /** Events the base adds before the drafts (an import's), canonical order. */
  readonly events: readonly PlannedEvent[]
  /** Blocks the base writes before the drafts' events (an import's, an object's value). */
  readonly blocks: readonly BlockRecord[]
  readonly verified?: BlockLookup<BlockRecord> | undefined
}

/**
 * What the callers planned before this one in the same group commit (group-commit.ts) put on
 * top of the log: events not in the views yet, which this caller's plan goes on top of. Its
 * rules count them — `expectedVersion` sees their events in its stream, a `meta.id` one of
 * them used resolves to it — and its first event names their last as its only parent.
 */
export interface PlannedBefore {
  /** Per stream, how many events the group planned in it so far, and the last one. */
  readonly streams: ReadonlyMap<string, { readonly count: number; readonly last: CID }>
  /** The group's events that carry a `meta.id`, by `stream \0 id`. */
  readonly ids: ReadonlyMap<string, PlannedEvent>
  /** The stamps of the base's heads (the group's last event's). */
  readonly stamps: readonly Stamp[]
}

/**
 * The stream's last event in canonical order: the later of the views' last one (`lastSeq`) and
 * the last one the base brings (an import may bring events of the stream, e.g. `$objects`
 * records). The views' one comes from the event cache when it is there (decoding its CID from
 * the views' bytes costs more than the rest of the lookup).
 */
function lastOfStream(views: LogViews, reader: EventReader, baseEvents: readonly PlannedEvent[], stream: string, lastSeq: number | undefined): CID | null {
  let brought: PlannedEvent | undefined
  for (let i = baseEvents.length - 1; i >= 0 && brought === undefined; i--) if (baseEvents[i]!.event.stream === stream) brought = baseEvents[i]
  if (lastSeq === undefined) return brought === undefined ? null : brought.cid
  const held = reader.cached(lastSeq)?.cid ?? views.cid(lastSeq)
  if (brought === undefined) return held
  const stamp = views.stamp(lastSeq)
  return compareEvents({ cid: held, ts: stamp.ts, tc: stamp.tc }, { cid: brought.cid, ts: brought.event.ts, tc: brought.event.tc }) > 0 ? held : brought.cid
}

/** What a plan added to a stream so far: how many events, and the last. */
interface Pending {
  count: number
  last: PlannedEvent
}

/**
 * Plans local appends: resolves retried `meta.id`s (idempotency), checks `expectedVersion`
 * against the stream as it stands before each draft, and stamps each new event above the heads
 * it names as parents (HLC), linking it to its stream's previous event. Each draft's event is
 * the next one's only parent, so a batch is a chain. With a signer, every new event names it as
 * `author` and the chain's last event carries its signature, which covers the others through
 * the parent links it hashes (format v1, "Signatures"). With `before`, the plan goes on top of
 * events other callers planned earlier in the same group commit (see PlannedBefore; `base`
 * then names their heads). Throws before anything is written.
 */
export async function planAppend(views: LogViews, reader: EventReader, base: AppendBase, drafts: readonly Draft[], now: number, signer?: Signer, before?: PlannedBefore): Promise<CommitPlan> {
  const results: CID[] = []
  const fresh: PlannedEvent[] = []
  const blocks: BlockRecord[] = [...base.blocks]
  const pendingByStream = new Map<string, Pending>()
  const pendingIds = new Map<string, PlannedEvent>()
  const author = signer?.did
  // A batch's event bytes share buffers where arenas are on (they are committed together).
  const arena = arenaFor(drafts.length)
  let heads: readonly CID[] = base.heads
  let parentStamps: readonly Stamp[] =
    before?.stamps ??
    heads.map((h) => {
      const seq = views.seqOf(h)
      return seq >= 0 ? views.stamp(seq) : base.events.find((e) => e.cid.equals(h))!.event
    })
  for (const draft of drafts) {
    const { stream, meta } = draft
    const id = meta?.id
    if (id !== undefined) {
      const storedSeq = views.byId(stream, id)
      const key = `${stream}\u0000${id}`
      const prior = storedSeq >= 0 ? await reader.load(storedSeq) : (before?.ids.get(key) ?? pendingIds.get(key))
      if (prior !== undefined) {
        results.push(resolveRetry(prior, draft, id))
        continue
      }
    }
    const pending = pendingByStream.get(stream)
    const earlier = before?.streams.get(stream)
    // The stream's list in the views, looked up only when needed (once).
    const list = draft.expectedVersion !== undefined || (pending === undefined && earlier === undefined) ? views.stream(stream) : undefined
    if (draft.expectedVersion !== undefined) assertExpectedVersion(stream, draft.expectedVersion, (list?.length ?? 0) + (earlier?.count ?? 0) + (pending?.count ?? 0))
    const prev = pending?.last.cid ?? earlier?.last ?? lastOfStream(views, reader, base.events, stream, list?.last())
    const stamp = nextStamp(parentStamps, now)
    // The first event names the base's heads (copied: they are the log's); each next one the one before.
    const parents = heads === base.heads ? [...heads] : (heads as CID[])
    const event = newEvent(stream, draft.type, stamp.ts, stamp.tc, prev, parents, draft.data, meta, author)
    const block = encodeOwnEvent(event, arena)
    blocks.push(block)
    const planned: PlannedEvent = { cid: block.cid, event, size: block.bytes.length, object: draft.object }
    fresh.push(planned)
    results.push(block.cid)
    if (pending === undefined) pendingByStream.set(stream, { count: 1, last: planned })
    else {
      pending.count++
      pending.last = planned
    }
    if (id !== undefined) pendingIds.set(`${stream}\u0000${id}`, planned)
    heads = [block.cid]
    parentStamps = [stamp]
  }
  if (signer !== undefined && fresh.length > 0) {
    // The chain's last event carries the signature. Nothing links to it yet but the results and heads.
    const last = fresh.at(-1)!
    const block = encodeEvent(await signEvent(last.event, blocks.at(-1)!.bytes, signer))
    blocks[blocks.length - 1] = block
    fresh[fresh.length - 1] = { ...last, cid: block.cid, event: block.value, size: block.bytes.length }
    const renamed = (cid: CID): CID => (cid.equals(last.cid) ? block.cid : cid)
    return { blocks, events: [...base.events, ...fresh], heads: heads.map(renamed), results: results.map(renamed), verified: base.verified }
  }
  return { blocks, events: base.events.length === 0 ? fresh : [...base.events, ...fresh], heads, results, verified: base.verified }
}
