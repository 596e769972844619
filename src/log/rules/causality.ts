import type { CID } from 'multiformats/cid'
import { CairnError } from '../../errors/cairn-error.ts'
import type { EventBlock, Stamp } from '../event/interface.ts'
import { compareStamps } from '../event/order.ts'

/** What the causality rule needs to know of an event's parents and predecessor. */
export interface CausalFacts extends Stamp {
  readonly stream: string
}

/**
 * The causality rule: an event stamps strictly above each of its parents and above its
 * stream predecessor (`prev`), and its predecessor belongs to the same stream. Local appends
 * satisfy it by construction (`nextStamp`); imports are checked with it. `factsOf` answers for
 * an event held by the store or arriving in the same import.
 */
export function assertCausality(cid: CID, event: EventBlock, factsOf: (cid: CID) => CausalFacts): void {
  for (const p of event.parents) {
    if (compareStamps(event, factsOf(p)) <= 0) {
      throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} is not stamped above its parent ${p}`, { cid })
    }
  }
  if (event.prev === null) return
  const prev = factsOf(event.prev)
  if (prev.stream !== event.stream) {
    throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} names ${event.prev}, of stream "${prev.stream}", as its predecessor in "${event.stream}"`, { cid })
  }
  if (compareStamps(event, prev) <= 0) {
    throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} is not stamped above its predecessor ${event.prev}`, { cid })
  }
}
