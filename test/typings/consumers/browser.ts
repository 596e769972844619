// A browser user of `cairndb/browser` (every moduleResolution): IndexedDB, blobs, sync over
// fetch; no @types/node in this program.
import { type BrowserStoreLocation, type CairnStore, exportToBlob, importFromBlob, loadIdentity, openStore, sync } from 'cairndb/browser'

type IsAny<T> = 0 extends 1 & T ? true : false
const typed: [IsAny<CairnStore>, IsAny<typeof exportToBlob>, IsAny<typeof loadIdentity>] = [false, false, false]

const store: CairnStore = await openStore({ name: 'notes' })
const other = await openStore({ memory: true })
await store.append({ stream: 'notes', type: 'added', data: { text: 'hi' } })
// @ts-expect-error a store name is a string
await openStore({ name: 42 })
// The IndexedDB engine's options ride along with the name.
await openStore({ name: 'bulk', durability: 'relaxed', blockedTimeoutMs: 1000, pageSize: 100 })
// @ts-expect-error the browser entry has no files engine: `{ path }` is Node/Deno only (cairndb/node)
await openStore({ path: './data' })
// @ts-expect-error not even beside another location
await openStore({ name: 'notes', path: './data' })
const where: BrowserStoreLocation = { memory: true }
// @ts-expect-error a BrowserStoreLocation is never a folder
const folder: BrowserStoreLocation = { path: './data' }
await openStore(where)
const blob: Blob = await exportToBlob(store)
await importFromBlob(other, blob)
const report = await sync(store, 'http://127.0.0.1:8080/cairn')
const identity = await loadIdentity({ name: 'me' })
void [typed, report.pulled, identity.did, folder]
