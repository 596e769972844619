// The merge of a group commit's plans (see group-commit.ts), loaded on the first group of two
// or more callers: an app whose appends never overlap does not ship it.
import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import type { Stamp } from './event/interface.ts'
import type { PlannedBefore } from './plan-append.ts'
import type { CommitPlan, PlannedEvent } from './plan.ts'

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
