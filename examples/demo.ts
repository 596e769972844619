// The main job: a store on the default embedded storage (files, in ./.cairn-demo or a
// folder given as the first argument). Appends to two streams, puts an object and a
// file, reads them back, closes, reopens and shows the same heads. Then two devices
// diverge offline and converge, once through a CAR file and once over HTTP on loopback.
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { createSyncHandler, exportToFile, importFromFile, openStore, sync, toNodeListener, type CairnStore, type StoredEvent } from 'cairndb'

const path = process.argv[2] ?? './.cairn-demo'
const short = (cid: { toString(): string }): string => `${cid.toString().slice(0, 16)}…`
/** The first line: did open map the index snapshot, or rebuild the indexes from the blocks? */
function openedHow(s: CairnStore, ms: number): string {
  const { fromSnapshot, indexedOnOpen, snapshotEvents } = s.indexStatus()
  const at = `opened ${path} (${s.engine} engine)`
  const took = `in ${ms.toFixed(0)} ms`
  if (fromSnapshot) return `${at} from its index snapshot (${snapshotEvents} events${indexedOnOpen > 0 ? `, ${indexedOnOpen} newer ones indexed from blocks` : ''}) ${took}`
  if (indexedOnOpen > 0) return `${at}: no usable index snapshot, rebuilt the indexes from ${indexedOnOpen} events ${took}`
  return `${at}: a new, empty store ${took} (run the demo again to open it from its index snapshot)`
}

const opening = performance.now()
let store = await openStore({ path })
console.log(`${openedHow(store, performance.now() - opening)}; ${store.heads.length} head(s)`)

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

const name = await store.reduce(`user-${run}`, (_state: string, e: StoredEvent) => (e.data as { name: string }).name, '')
const cart = await store.reduce(`cart-${run}`, (n: number, e: StoredEvent) => n + (e.data as { qty: number }).qty, 0)
let fileBytes = 0
for await (const chunk of store.cat(photo)) fileBytes += chunk.length
console.log(`read back: user name "${name}", ${cart} items in the cart, doc title "${(await store.get<{ title: string }>(doc)).title}", file of ${fileBytes} bytes`)
for await (const r of store.referrers(photo)) console.log(`  ${short(photo)} is linked from ${r.kind} ${short(r.cid)}`)

const heads = store.heads.map(String)
await store.close()
store = await openStore({ path })
const same = store.heads.map(String).join() === heads.join()
const status = store.indexStatus()
console.log(
  `reopened: heads ${store.heads.map(short).join(', ')} ${same ? '— the same as before close' : '— DIFFERENT from before close'}; indexes ${status.fromSnapshot ? `loaded from the snapshot (${status.indexedOnOpen} newer events indexed)` : `rebuilt from ${status.indexedOnOpen} events`}`,
)
const report = await store.verify()
console.log(`verified ${report.blocks} reachable blocks (${report.bytes} bytes) by re-hashing them`)

// Two devices: a laptop (a copy of this store made through a full CAR file) and a phone.
const scratch = await mkdtemp(join(tmpdir(), 'cairn-demo-'))
const laptop = await openStore({ path: join(scratch, 'laptop') })
const car = join(scratch, 'full.car')
const written = await exportToFile(store, car)
const first = await importFromFile(laptop, car)
console.log(`\nlaptop imported a full CAR of ${written.bytes} bytes: ${first.blocks} blocks, ${first.events} events, verified`)
const phone = await openStore({ memory: true })
await importFromFile(phone, car)

// A projection on each device: items per cart, kept current on appends and imports.
const cartsOn = (s: CairnStore) =>
  s.project('carts', {
    filter: { streamPrefix: 'cart-' },
    initial: 0,
    reducer: (n: number, e: StoredEvent) => n + (e.type === 'item.added' ? 1 : -1) * (e.data as { qty: number }).qty,
  })
const laptopCarts = await cartsOn(laptop)
const phoneCarts = await cartsOn(phone)

// Offline, both write to the same stream.
await laptop.append({ stream: `cart-${run}`, type: 'item.added', data: { sku: 'jam', qty: 3 } })
await phone.append({ stream: `cart-${run}`, type: 'item.removed', data: { sku: 'cake', qty: 1 } })
await phone.append({ stream: `cart-${run}`, type: 'item.added', data: { sku: 'scones', qty: 6 } })
console.log(`offline: the laptop and the phone each appended to cart-${run}; heads differ: ${laptop.heads[0]!.toString() !== phone.heads[0]!.toString()}`)

// Converge by CAR file: each exports only what the other lacks. The other side's new heads
// are unknown here, so `since` takes its sync hints (heads plus ancestors), which are known.
const toPhone = await exportToFile(laptop, `${car}.laptop`, { since: phone.syncHints() })
const toLaptop = await exportToFile(phone, `${car}.phone`, { since: laptop.syncHints() })
await importFromFile(phone, `${car}.laptop`)
await importFromFile(laptop, `${car}.phone`)
const qty = (s: CairnStore): Promise<number> => s.reduce(`cart-${run}`, (n: number, e: StoredEvent) => n + (e.type === 'item.added' ? 1 : -1) * (e.data as { qty: number }).qty, 0)
console.log(`by file: sent ${toPhone.bytes} + ${toLaptop.bytes} bytes; heads equal: ${String(laptop.heads) === String(phone.heads)}; cart qty laptop ${await qty(laptop)}, phone ${await qty(phone)}`)

// Converge over HTTP: the laptop serves, the phone syncs both ways in two round trips.
await laptop.append({ stream: `user-${run}`, type: 'user.emailed', data: { to: 'ada@example.org' } })
await phone.append({ stream: `cart-${run}`, type: 'item.added', data: { sku: 'tea', qty: 1 } })
const server = createServer(toNodeListener(createSyncHandler(laptop)))
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cairn`
const synced = await sync(phone, url)
server.close()
console.log(
  `over HTTP: ${synced.roundTrips} round trips, ${synced.bytesSent} bytes up, ${synced.bytesReceived} down; heads equal: ${String(laptop.heads) === String(phone.heads)}; cart qty laptop ${await qty(laptop)}, phone ${await qty(phone)}`,
)
const sameProjection = (await laptopCarts.stateHash()).equals(await phoneCarts.stateHash())
console.log(`projection "carts": laptop says ${await laptopCarts.get(`cart-${run}`)} items, phone ${await phoneCarts.get(`cart-${run}`)}; state hashes equal: ${sameProjection}`)
const converged = String(laptop.heads) === String(phone.heads) && (await qty(laptop)) === (await qty(phone)) && sameProjection
await Promise.all([laptop.close(), phone.close(), store.close()])
await rm(scratch, { recursive: true, force: true })
if (!same || !converged) process.exit(1)
