import type { CID } from 'multiformats/cid'
import { encodeValue, equalBytes } from '../../block/codec.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import type { EventBlock, EventMeta } from '../event/interface.ts'

/** The parts of an append that a retry must repeat exactly. */
export interface RetriedContent {
  readonly stream: string
  readonly type: string
  readonly data: unknown
  readonly meta: EventMeta | undefined
}

/**
 * The idempotency rule: `meta.id` is the caller's idempotency key within a stream. An append
 * whose stream already holds an event with that id resolves to the stored event when it
 * carries the same type, data and meta, and fails with CAIRN_DUPLICATE_ID otherwise.
 * Returns the stored event's CID for a true retry.
 */
export function resolveRetry(prior: { readonly cid: CID; readonly event: EventBlock }, retry: RetriedContent, id: string): CID {
  if (!sameContent(prior.event, retry)) {
    throw new CairnError('CAIRN_DUPLICATE_ID', `stream "${retry.stream}" already holds an event with meta.id "${id}" and different content`, { stream: retry.stream, cid: prior.cid })
  }
  return prior.cid
}

function sameContent(stored: EventBlock, retry: RetriedContent): boolean {
  if (stored.type !== retry.type) return false
  return equalBytes(encodeValue({ d: stored.data, m: stored.meta ?? null }).bytes, encodeValue({ d: retry.data, m: retry.meta ?? null }).bytes)
}
