// The strict decoding of imported events, apart from format.ts so that the first load of an app
// (which never imports) does not carry the canonical scan it needs (block/canonical.ts).
import type { CID } from 'multiformats/cid'
import { scanCanonical } from '../../block/canonical.ts'
import { cborNestsDeeperThan, decodeTrusted, isCanonicalDagCbor, MAX_BLOCK_DEPTH } from '../../block/codec.ts'
import { DAG_CBOR } from '../../block/interface.ts'
import { MAX_DEPTH, nestsDeeperThan } from '../../block/validate.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import { type KnownCids, readEnvelope } from './envelope-read.ts'
import { assertEvent } from './format.ts'
import type { EventBlock } from './interface.ts'

/** Throws CAIRN_INVALID_EVENT naming the event (as format.ts does). */
function invalid(cid: CID, why: string): never {
  throw new CairnError('CAIRN_INVALID_EVENT', `event ${cid} is invalid: ${why}`, { cid })
}

/**
 * The strict decoding of an event that arrives from elsewhere (an import), bytes already
 * verified against the CID: the bytes must be exactly the canonical dag-cbor encoding of what
 * they decode to (no floats for integers, sorted map keys, no undefined, valid UTF-8, -0 as 0 —
 * so the CID is the one re-encoding gives), the value must be a format-v1 event, and its
 * `data` and `meta` may nest at most MAX_DEPTH levels (as a local append allows). Links to CIDs in
 * `known` (an import's held blocks) reuse those CID objects.
 */
export function decodeStrictEvent(cid: CID, bytes: Uint8Array, known?: KnownCids): EventBlock {
  if (cid.code !== DAG_CBOR) invalid(cid, 'events are dag-cbor blocks')
  // Plainly canonical bytes within the depth bound decode in one pass (envelope.ts); the format
  // checks then apply as below. Anything else takes the full path, which decides with its errors.
  const plain = readEnvelope(bytes, known)
  if (plain !== undefined) {
    assertEvent(plain, cid)
    return plain
  }
  // One pass decides canonical form for most events; the re-encoding check covers the rest.
  const verdict = scanCanonical(bytes, MAX_BLOCK_DEPTH)
  if (verdict === 'too-deep' || (verdict === 'not-canonical' && cborNestsDeeperThan(bytes, MAX_BLOCK_DEPTH))) invalid(cid, `"data" or "meta" nests deeper than ${MAX_DEPTH} levels`)
  const value = decodeTrusted(cid, bytes, verdict !== 'not-canonical')
  if (verdict === 'not-canonical' || (verdict === 'unsure' && !isCanonicalDagCbor(bytes, value))) {
    invalid(cid, 'its bytes are not canonical dag-cbor (re-encoding what they decode to gives other bytes)')
  }
  assertEvent(value, cid)
  if (nestsDeeperThan(value.data, MAX_DEPTH) || (value.meta !== undefined && nestsDeeperThan(value.meta, MAX_DEPTH))) {
    invalid(cid, `"data" or "meta" nests deeper than ${MAX_DEPTH} levels`)
  }
  return value
}
