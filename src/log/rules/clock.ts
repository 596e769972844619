import type { CID } from 'multiformats/cid'
import { CairnError } from '../../errors/cairn-error.ts'
import type { Stamp } from '../event/interface.ts'
import { MAX_TC } from './stamp.ts'

/**
 * The clock rule for an event from elsewhere: it may not be stamped more than `maxClockDrift`
 * ms ahead of this replica's clock (`now`) — one peer with a clock in the far future would
 * otherwise drag every later local stamp there — and its counter may not exceed MAX_TC, so no
 * import can bring a stamp from which the next local append would overflow.
 */
export function assertClock(cid: CID, event: Stamp, now: number, maxClockDrift: number): void {
  if (event.ts > now + maxClockDrift) {
    throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} is stamped ${event.ts - now} ms ahead of this clock; the limit is ${maxClockDrift} ms`, { cid })
  }
  if (event.tc > MAX_TC) {
    throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} has clock counter ${event.tc}; the limit is ${MAX_TC}`, { cid })
  }
}
