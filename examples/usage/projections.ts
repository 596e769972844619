// README, "Projections": the fragment below compiles here as it stands in README (npm run typecheck;
// npm run check:readme keeps the two equal). The names it leaves open are declared first.

import type { CairnStore, StoredEvent } from 'cairndb'

declare const store: CairnStore
declare const checkout: StoredEvent

const carts = await store.project('carts', {
  filter: { streamPrefix: 'cart-' },          // which events feed it (stream, type, streamPrefix)
  initial: { items: 0 },                       // an IPLD value: it is persisted
  reducer: (s, e) => ({ items: s.items + (e.type === 'item.added' ? 1 : -1) }),
  snapshotEvery: 64,                           // per-key snapshots for time travel (default 64)
})
await carts.get('cart-7')                            // live state of one stream, after catching up
await carts.get('cart-7', { asOf: checkout.cid })    // as of an event (or a time)
for await (const key of carts.keys()) {}
await carts.stateHash()                              // equal on replicas with the same events
