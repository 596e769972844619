// README, "Trust" (policy gates): the fragment below compiles here as it stands in README (npm run typecheck;
// npm run check:readme keeps the two equal). The names it leaves open are declared first.

import { createIdentity, type Gate, openStore } from 'cairndb'

const admin = await createIdentity()

const paymentsArePositive: Gate = (e) =>       // e: GateEvent; return a reason to refuse it
  e.type === 'payment.made' && !((e.data as { amount?: number }).amount! > 0) ? 'a payment needs a positive amount' : undefined
const ownFolderOnly: Gate = (e) =>               // streams under users/<did>/ belong to that did
  e.stream.startsWith('users/') && !e.stream.startsWith(`users/${e.author}/`) ? `only its owner writes ${e.stream}` : undefined
const store = await openStore({ memory: true, signer: admin, gates: [paymentsArePositive, ownFolderOnly] })
