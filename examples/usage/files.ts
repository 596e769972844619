// README, "Node and Deno (files)": the fragment below compiles here as it stands in README (npm run typecheck;
// npm run check:readme keeps the two equal). The names it leaves open are declared first.

declare const bytesOrAsyncIterableOrReadableStream: Uint8Array | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>

import { openStore } from 'cairndb'

const store = await openStore({ path: './data' })          // log-structured files, fsync per commit

const ev = await store.append(
  { stream: 'user-1', type: 'user.created', data: { name: 'Ada' }, meta: { id: 'req-17' } },
  { expectedVersion: 0 },                                   // CAIRN_VERSION_CONFLICT if the stream is not empty
)
await store.appendMany([                                    // atomic: all or none
  { stream: 'cart-7', type: 'item.added', data: { sku: 'tea' }, expectedVersion: 0 },
  { stream: 'cart-7', type: 'item.added', data: { sku: 'cake' } },
])
for await (const e of store.read('user-1', { fromVersion: 1 })) console.log(e.version, e.type, e.data)
const name = await store.reduce('user-1', (s, e) => (e.data as { name: string }).name, '')
await store.getEvent(ev.cid)
store.heads                                                 // CID[]: the events nobody names as parent
store.version('cart-7')                                     // 2

const photo = await store.putFile(bytesOrAsyncIterableOrReadableStream)   // UnixFS, CIDv1, raw leaves
const doc = await store.put({ title: 'Notes', photo }, { type: 'doc' })   // dag-cbor; same value, same CID; what it links to must be stored, whole
await store.get(doc)                                        // verified against the CID
for await (const chunk of store.cat(photo)) {}              // verified block by block
for await (const o of store.objects({ type: 'doc' })) {}    // { cid, type, size, event }
for await (const r of store.referrers(photo)) {}            // { cid, kind: 'object' | 'event' }, by CID bytes
await store.verify()                                        // re-hash everything reachable from the heads
await store.compact()                                       // reclaim blocks no head reaches (crash-safe)
await store.close()
