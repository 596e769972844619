import type { CID } from 'multiformats/cid'
import { rawSha256Cid, sha256Stream, type Sha256Stream } from '../../block/hash.ts'
import type { SeqList } from './seq-list.ts'

/** Entries per state-hash checkpoint. */
const HASH_STEP = 4096

/**
 * The log's state hash: CIDv1 (raw codec, sha2-256) of the concatenated CID bytes of every
 * event in canonical order, equal on replicas that hold the same events. Incremental: hash
 * states are kept every 4096 entries of the order, and an insert drops only the checkpoints
 * past it, so an import rehashes from the checkpoint before its first insert.
 */
export class StateHash {
  /** sha2-256 states over the first `count` CIDs of the order, every HASH_STEP entries. */
  #checkpoints: { count: number; state: Sha256Stream }[] = []

  /** Drops the checkpoints that an insert at `at` in the global order invalidated. */
  orderChanged(at: number): void {
    const cps = this.#checkpoints
    if (cps.length > 0 && cps.at(-1)!.count > at) this.#checkpoints = cps.filter((c) => c.count <= at)
  }

  /** The hash over `order`, each event's CID bytes fed by `hashCid`. */
  of(order: SeqList, hashCid: (state: Sha256Stream, seq: number) => void): CID {
    const last = this.#checkpoints.at(-1)
    const state = last === undefined ? sha256Stream() : last.state.clone()
    for (let i = last?.count ?? 0; i < order.length; i++) {
      hashCid(state, order.at(i))
      if ((i + 1) % HASH_STEP === 0) this.#checkpoints.push({ count: i + 1, state: state.clone() })
    }
    return rawSha256Cid(state.digest())
  }
}
