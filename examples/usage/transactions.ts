// README, "Transactions": the fragment below compiles here as it stands in README (npm run typecheck;
// npm run check:readme keeps the two equal). The names it leaves open are declared first.

import type { CairnStore } from 'cairndb'

declare const store: CairnStore
declare const bytes: Uint8Array

const { value: receipt, events } = await store.transaction(async (tx) => {
  const photo = await tx.putFile(bytes)                      // chunked now, recorded at commit
  const receipt = tx.put({ total: 42, photo }, { type: 'receipt' })   // its CID at once
  tx.append({ stream: 'order-7', type: 'order.paid', data: { receipt } }, { expectedVersion: 2 })
  tx.appendMany([{ stream: 'audit', type: 'paid', data: { order: 7 } }])
  return receipt
})
