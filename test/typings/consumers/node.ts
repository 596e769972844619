// A Node user: the shared API from `cairndb`, the file engine and CAR files from `cairndb/node`
// (the subpath that means Node under every moduleResolution, `bundler` included).
import { type CairnStore, CairnError, createSyncHandler, type StoreLocation, type StoredEvent } from 'cairndb'
import { exportToFile, type FileStorage, importFromFile, openFileStorage, openStore, toNodeListener } from 'cairndb/node'

// With skipLibCheck an unresolved import in the typings turns into `any` silently: refuse it.
type IsAny<T> = 0 extends 1 & T ? true : false
const typed: [IsAny<CairnStore>, IsAny<typeof exportToFile>, IsAny<FileStorage>, IsAny<typeof toNodeListener>] = [false, false, false, false]

const store: CairnStore = await openStore({ path: './data' })
// The Node entry takes every location, IndexedDB's engine options included (where IndexedDB exists).
const where: StoreLocation = { path: './data' }
const named = openStore({ name: 'notes', pageSize: 100 })
const event: StoredEvent<{ text: string }> = await store.append({ stream: 'notes', type: 'added', data: { text: 'hi' } })
// @ts-expect-error an event needs a type
await store.append({ stream: 'notes' })
const cid: string = event.cid.toString()
const written: { bytes: number } = await exportToFile(store, './notes.car')
const report = await importFromFile(store, './notes.car')
const engine: FileStorage = await openFileStorage('./other')
const listener = toNodeListener(createSyncHandler(store))
if (!(new CairnError('CAIRN_NOT_FOUND', 'no such block') instanceof Error)) throw new Error('unreachable')
void [typed, cid, written.bytes, report.events, engine, listener, where, named]
