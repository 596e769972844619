import { CairnError } from '../../errors/cairn-error.ts'
import type { Signer } from '../../identity/interface.ts'
import type { EventBlock } from '../event/interface.ts'

// Signing, apart from the signature rule of imports (signatures.ts): appends need only this,
// and the rule loads with the import path (log/on-demand.ts).

/** Signs an event built with `author: signer.did`: returns it with `sig` over its encoding without one. */
export async function signEvent(event: EventBlock, unsignedBytes: Uint8Array, signer: Signer): Promise<EventBlock> {
  const sig = await signer.sign(unsignedBytes)
  if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new CairnError('CAIRN_INVALID_SIGNATURE', `the signer ${signer.did} returned ${sig instanceof Uint8Array ? `${sig.length} bytes` : 'no bytes'}, not a 64-byte Ed25519 signature`)
  return { ...event, sig }
}
