// The main job: a store on the default embedded storage (files, in ./.cairn-demo or a
// folder given as the first argument). Appends to two streams, puts an object and a
// file, reads them back, closes, reopens and shows the same heads.
import { openStore, type StoredEvent } from 'cairn'

const path = process.argv[2] ?? './.cairn-demo'
const short = (cid: { toString(): string }): string => `${cid.toString().slice(0, 16)}…`

let store = await openStore({ path })
console.log(`opened ${path} (${store.engine} engine) with ${store.heads.length} head(s)`)

const run = Date.now().toString(36)
const created = await store.append({ stream: `user-${run}`, type: 'user.created', data: { name: 'Ada' } }, { expectedVersion: 0 })
await store.append({ stream: `user-${run}`, type: 'user.renamed', data: { name: 'Ada Lovelace' } }, { expectedVersion: 1 })
await store.appendMany([
  { stream: `cart-${run}`, type: 'item.added', data: { sku: 'tea', qty: 2 } },
  { stream: `cart-${run}`, type: 'item.added', data: { sku: 'cake', qty: 1 } },
])
console.log(`appended 4 events to user-${run} and cart-${run}; first is ${short(created.cid)} at ts ${created.ts}`)

const photo = await store.putFile(new TextEncoder().encode('pretend these are JPEG bytes '.repeat(20_000)))
const doc = await store.put({ title: 'Analytical engine notes', author: created.cid, photo }, { type: 'doc' })
console.log(`put a file ${short(photo)} and a doc ${short(doc)} that links to it`)

const name = await store.reduce(`user-${run}`, (state: string, e: StoredEvent) => (e.data as { name: string }).name, '')
const cart = await store.reduce(`cart-${run}`, (n: number, e: StoredEvent) => n + (e.data as { qty: number }).qty, 0)
let fileBytes = 0
for await (const chunk of store.cat(photo)) fileBytes += chunk.length
console.log(`read back: user name "${name}", ${cart} items in the cart, doc title "${(await store.get<{ title: string }>(doc)).title}", file of ${fileBytes} bytes`)
for await (const r of store.referrers(photo)) console.log(`  ${short(photo)} is linked from ${r.kind} ${short(r.cid)}`)

const heads = store.heads.map(String)
await store.close()
store = await openStore({ path })
const same = store.heads.map(String).join() === heads.join()
console.log(`reopened: heads ${store.heads.map(short).join(', ')} ${same ? '— the same as before close' : '— DIFFERENT from before close'}`)
const report = await store.verify()
console.log(`verified ${report.blocks} reachable blocks (${report.bytes} bytes) by re-hashing them`)
await store.close()
if (!same) process.exit(1)
