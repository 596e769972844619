import type { CID } from 'multiformats/cid'
import { CairnError } from '../../errors/cairn-error.ts'
import type { Stamp } from '../event/interface.ts'

/**
 * The clock-drift rule: an imported event may not be stamped more than `maxClockDrift` ms
 * ahead of this replica's clock (`now`). Without it one peer with a clock set to the far
 * future would drag every later local stamp there.
 */
export function assertClockDrift(cid: CID, event: Stamp, now: number, maxClockDrift: number): void {
  if (event.ts > now + maxClockDrift) {
    throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} is stamped ${event.ts - now} ms ahead of this clock; the limit is ${maxClockDrift} ms`, { cid })
  }
}
