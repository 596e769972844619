import type { CID } from 'multiformats/cid'
import { CidMap, CidSet } from '../../block/cid-map.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import { encodeEvent } from '../event/format.ts'
import type { EventBlock } from '../event/interface.ts'

/** Verifies an Ed25519 signature by a did:key; false (never a throw) for anything malformed. */
export type VerifyFn = (did: string, bytes: Uint8Array, sig: Uint8Array) => Promise<boolean>

/** An event to check, as an import plans it. */
export interface SignedCandidate {
  readonly cid: CID
  readonly event: EventBlock
}

/** Signatures verified at once: enough to keep WebCrypto's worker threads busy, few enough to bound memory. */
const VERIFY_BATCH = 256

/** The bytes a signature covers: the event's dag-cbor encoding without `sig` (it keeps `author`). */
export function signedBytes(event: EventBlock): Uint8Array {
  const { sig: _sig, ...unsigned } = event
  return encodeEvent(unsigned as EventBlock).bytes
}

const refuse = (cid: CID, why: string): never => {
  throw new CairnError('CAIRN_INVALID_SIGNATURE', `event ${cid} ${why}; nothing was imported`, { cid })
}

/**
 * The signature rule of an import (format v1, section "Signatures"). An event with `sig` must
 * carry `author` and verify: `sig` is the author's Ed25519 signature over the event's encoding
 * without `sig`. An event with `author` and no `sig` is *covered*: the same import brings an event
 * by the same author whose only parent it is and which is signed or covered in turn — a batch
 * is a chain signed once at its end, and the signature reaches every event of it through the
 * parent links it hashes. With `requireSignatures`, an event without `author` is refused.
 * Throws CAIRN_INVALID_SIGNATURE naming the first event that fails; `events` are the import's
 * new events in canonical order.
 */
export async function assertSignatures(events: readonly SignedCandidate[], requireSignatures: boolean, verify: VerifyFn): Promise<void> {
  /** The events whose only parent is a given event (any author: the walk below matches authors). */
  const successors = new CidMap<SignedCandidate[]>()
  const signed: SignedCandidate[] = []
  for (const c of events) {
    const { author, sig, parents } = c.event
    if (author === undefined) {
      if (sig !== undefined) refuse(c.cid, 'carries a signature but no author')
      if (requireSignatures) refuse(c.cid, 'is not signed, and this store requires signed events')
      continue
    }
    if (sig !== undefined) signed.push(c)
    if (parents.length === 1) {
      const list = successors.get(parents[0]!)
      if (list === undefined) successors.set(parents[0]!, [c])
      else list.push(c)
    }
  }
  for (let i = 0; i < signed.length; i += VERIFY_BATCH) {
    const batch = signed.slice(i, i + VERIFY_BATCH)
    const ok = await Promise.all(batch.map((c) => verify(c.event.author!, signedBytes(c.event), c.event.sig!)))
    ok.forEach((good, k) => {
      if (!good) refuse(batch[k]!.cid, `does not verify: its signature is not ${batch[k]!.event.author}'s over its bytes (changed, or signed by another key)`)
    })
  }
  // Children come after their parents in canonical order: walk back, so each event's successors are decided first.
  const vouched = new CidSet()
  for (let i = events.length - 1; i >= 0; i--) {
    const c = events[i]!
    const { author, sig } = c.event
    if (author === undefined) continue
    if (sig !== undefined || successors.get(c.cid)?.some((s) => s.event.author === author && vouched.has(s.cid))) {
      vouched.add(c.cid)
      continue
    }
    refuse(c.cid, `names ${author} as its author but is neither signed nor the only parent of a signed event by that author in this import`)
  }
}
