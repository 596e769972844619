import type { BlockLookup } from '../block/cid-map.ts'
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
  verified: BlockLookup<BlockRecord> | undefined
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
  #queue: Queued[] = []
  /** Index of the oldest event still to index (Array.shift would make a large import quadratic). */
  #head = 0

  constructor(views: LogViews, storage: StorageEngine) {
    this.#views = views
    this.#storage = storage
  }

  /** Events committed but not yet indexed. */
  get pending(): number {
    return this.#queue.length - this.#head
  }

  /** Whether `cid` is a committed event still waiting (exports then decode it themselves). */
  has(cid: CID): boolean {
    for (let i = this.#head; i < this.#queue.length; i++) if (this.#queue[i]!.cid.equals(cid)) return true
    return false
  }

  push(cid: CID, event: EventBlock, value: { readonly value: unknown } | undefined, verified: BlockLookup<BlockRecord> | undefined): void {
    this.#queue.push({ cid, event, value, verified })
  }

  /** Indexes queued events, oldest first, until the queue is empty or a read fails. */
  async run(): Promise<void> {
    while (this.#head < this.#queue.length) {
      const { cid, event, value, verified } = this.#queue[this.#head]!
      try {
        await indexEvent(this.#views, this.#storage, cid, event, value, verified)
      } catch {
        // Retried later from storage: do not keep an import's blocks (or the indexed events) alive meanwhile.
        this.#queue = this.#queue.slice(this.#head)
        this.#head = 0
        for (const item of this.#queue) item.verified = undefined
        return
      }
      this.#head++
    }
    this.#queue = []
    this.#head = 0
  }
}
