// README, "Queries, time travel, live changes": the fragment below compiles here as it stands in README (npm run typecheck;
// npm run check:readme keeps the two equal). The names it leaves open are declared first.

import type { CairnStore, CID, Reducer, StoredEvent } from 'cairndb'

declare const store: CairnStore
declare const checkout: StoredEvent
declare const lastSeen: StoredEvent
declare const orderPlaced: StoredEvent
declare const head: StoredEvent
declare const since: Date
declare const until: Date
declare const reducer: Reducer<number>
declare const initial: number
declare const someCid: CID
declare const cursor: CID
declare function render(e: StoredEvent): void

for await (const e of store.read('cart-7', { fromVersion: 2, toVersion: 9, reverse: true, limit: 5 })) {}
for await (const e of store.read('cart-7', { asOf: new Date('2026-05-01') })) {}   // as it was then
for await (const e of store.read('cart-7', { asOf: checkout.cid })) {}            // as seen by that event
for await (const e of store.query({ type: 'item.added', streamPrefix: 'cart-', since, until, limit: 100 })) {}
for await (const e of store.query({ type: 'item.added', after: lastSeen.cid, limit: 100 })) {}  // cursor, stable across appends and imports
for await (const e of store.causedBy(orderPlaced.cid)) {}   // meta.causation
for await (const e of store.correlated('checkout-42')) {}   // meta.correlation
await store.reduce('cart-7', reducer, initial, { asOf: someCid })
for await (const e of store.replay(head.cid, { filter: { type: 'item.added' } })) {}  // walks prev, verifying each block
await store.stats()        // { events, streams, types, objects, bytes }
await store.stateHash()    // one CID for the whole log: equal on replicas with equal heads
const stop = store.subscribe({ streamPrefix: 'cart-' }, (e) => render(e))   // local appends and imports, once each
for await (const e of store.changes({ after: cursor, filter: { type: 'order.placed' } })) {}  // backlog, then waits
