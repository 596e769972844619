// A browser user of `cairndb/browser` (every moduleResolution): IndexedDB, blobs, sync over
// fetch; no @types/node in this program.
import { type CairnStore, exportToBlob, importFromBlob, loadIdentity, openStore, sync } from 'cairndb/browser'

type IsAny<T> = 0 extends 1 & T ? true : false
const typed: [IsAny<CairnStore>, IsAny<typeof exportToBlob>, IsAny<typeof loadIdentity>] = [false, false, false]

const store: CairnStore = await openStore({ name: 'notes' })
const other = await openStore({ memory: true })
await store.append({ stream: 'notes', type: 'added', data: { text: 'hi' } })
// @ts-expect-error a store name is a string
await openStore({ name: 42 })
const blob: Blob = await exportToBlob(store)
await importFromBlob(other, blob)
const report = await sync(store, 'http://127.0.0.1:8080/cairn')
const identity = await loadIdentity({ name: 'me' })
void [typed, report.pulled, identity.did]
