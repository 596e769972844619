// A group commit's callers planned one by one (see group-commit.ts and EventLog's
// #commitGroup), loaded on first use: only a group whose callers' rules must be applied to each
// alone (a signed store's, one with access rules or gates) or that holds a refused caller needs it.
import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import type { Stamp, StoredEvent } from './event/interface.ts'
import type { WaitingAppend } from './group-commit.ts'
import type { PlannedBefore } from './plan-append.ts'
import type { CommitPlan, PlannedEvent } from './plan.ts'
import type { PendingPasts } from './views/access-contexts.ts'

/**
 * Plans each caller's drafts on top of the callers before it (`plan`: its own rules, its own
 * signature at the end of its own chain, its events admitted with the ones before as their
 * past, through `pasts`), rejects a caller whose plan throws, applies the rest as one commit
 * (`apply`) and resolves each caller with its own events; a failed commit fails them all.
 */
export async function commitOneByOne(
  callers: readonly WaitingAppend[],
  heads: readonly CID[],
  plan: (heads: readonly CID[], drafts: WaitingAppend['drafts'], before: PlannedBefore | undefined, pasts: PendingPasts) => Promise<CommitPlan>,
  apply: (plan: CommitPlan) => Promise<StoredEvent[]>,
  pasts: PendingPasts,
): Promise<void> {
  const group = new GroupPlan(heads)
  const planned: WaitingAppend[] = []
  for (const caller of callers) {
    try {
      group.add(await plan(group.heads, caller.drafts, group.before, pasts))
      planned.push(caller)
    } catch (err) {
      caller.reject(err)
    }
  }
  if (planned.length === 0) return
  let stored: StoredEvent[]
  try {
    stored = await apply(group.merged())
  } catch (err) {
    for (const caller of planned) caller.reject(err)
    return
  }
  planned.forEach((caller, i) => {
    const { from, to } = group.spans[i]!
    caller.resolve(stored.slice(from, to))
  })
}

/**
 * The plans of one group's appends, each made on top of the ones before it (see
 * PlannedBefore), merged into one CommitPlan: the blocks and events of each in turn (each
 * caller's events are stamped above the previous caller's, so the whole stays in canonical
 * order), the last plan's heads, and each caller's results.
 */
export class GroupPlan {
  readonly #blocks: BlockRecord[] = []
  readonly #events: PlannedEvent[] = []
  readonly #results: CID[] = []
  readonly #streams = new Map<string, { count: number; last: CID }>()
  readonly #ids = new Map<string, PlannedEvent>()
  #heads: readonly CID[]
  #stamps: readonly Stamp[] | undefined
  /** Per caller planned so far, its results' span in the merged results. */
  readonly spans: { readonly from: number; readonly to: number }[] = []

  constructor(heads: readonly CID[]) {
    this.#heads = heads
  }

  /** The heads the next caller plans on. */
  get heads(): readonly CID[] {
    return this.#heads
  }

  /** What the next caller's plan goes on top of; undefined while nothing was planned (the log itself). */
  get before(): PlannedBefore | undefined {
    return this.#stamps === undefined ? undefined : { streams: this.#streams, ids: this.#ids, stamps: this.#stamps }
  }

  /** Adds a caller's plan (made on `heads` with `before`). */
  add(plan: CommitPlan): void {
    for (const b of plan.blocks) this.#blocks.push(b)
    for (const e of plan.events) {
      this.#events.push(e)
      const { stream, meta } = e.event
      const known = this.#streams.get(stream)
      if (known === undefined) this.#streams.set(stream, { count: 1, last: e.cid })
      else {
        known.count++
        known.last = e.cid
      }
      if (meta?.id !== undefined) this.#ids.set(`${stream}\u0000${meta.id}`, e)
    }
    const from = this.#results.length
    for (const r of plan.results) this.#results.push(r)
    this.spans.push({ from, to: this.#results.length })
    if (plan.events.length > 0) {
      this.#heads = plan.heads
      this.#stamps = [plan.events.at(-1)!.event]
    }
  }

  /** The one plan the group commits. */
  merged(): CommitPlan {
    return { blocks: this.#blocks, events: this.#events, heads: this.#heads, results: this.#results }
  }
}
