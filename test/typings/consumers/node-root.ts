// Under node16/nodenext TypeScript applies the "node" export condition, so `cairndb` itself
// carries the Node-only exports.
import { exportToFile, type openFileStorage, openStore, type StoreLocation } from 'cairndb'

type IsAny<T> = 0 extends 1 & T ? true : false
const typed: [IsAny<typeof exportToFile>, IsAny<typeof openFileStorage>] = [false, false]

const store = await openStore({ path: './data' })
const where: StoreLocation = { path: './data' }
const written: { bytes: number } = await exportToFile(store, './notes.car')
void [typed, written, where]
