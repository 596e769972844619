import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'
import type { StorageEngine } from '../storage/interface.ts'
import type { EventBlock } from './event/interface.ts'
import { indexEvent } from './views/indexer.ts'
import type { LogViews } from './views/views.ts'

interface Queued {
  readonly cid: CID
  readonly event: EventBlock
  readonly value: { readonly value: unknown } | undefined
  verified: ReadonlyMap<string, BlockRecord> | undefined
}

/**
 * The derived indexing of committed events: object records, referrers and the containment of
 * the DAGs they reach. It reads blocks, so it runs after the commit is durable and may fail
 * without failing the write: a failed read leaves the rest queued, retried on the next commit
 * (or close), and holds back index snapshots so a reopen indexes those events from blocks.
 */
export class IndexingQueue {
  readonly #views: LogViews
  readonly #storage: StorageEngine
  readonly #queue: Queued[] = []

  constructor(views: LogViews, storage: StorageEngine) {
    this.#views = views
    this.#storage = storage
  }

  /** Events committed but not yet indexed. */
  get pending(): number {
    return this.#queue.length
  }

  /** Whether `cid` is a committed event still waiting (exports then decode it themselves). */
  has(cid: CID): boolean {
    return this.#queue.some((q) => q.cid.equals(cid))
  }

  push(cid: CID, event: EventBlock, value: { readonly value: unknown } | undefined, verified: ReadonlyMap<string, BlockRecord> | undefined): void {
    this.#queue.push({ cid, event, value, verified })
  }

  /** Indexes queued events, oldest first, until the queue is empty or a read fails. */
  async run(): Promise<void> {
    while (this.#queue.length > 0) {
      const { cid, event, value, verified } = this.#queue[0]!
      try {
        await indexEvent(this.#views, this.#storage, cid, event, value, verified)
      } catch {
        // Retried later from storage: do not keep an import's blocks alive meanwhile.
        for (const item of this.#queue) item.verified = undefined
        return
      }
      this.#queue.shift()
    }
  }
}
