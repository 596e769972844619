// With moduleResolution bundler (no "node" condition) `cairndb` itself is the browser entry.
import { type CairnStore, type loadIdentity, openStore } from 'cairndb'

type IsAny<T> = 0 extends 1 & T ? true : false
const typed: [IsAny<CairnStore>, IsAny<typeof loadIdentity>] = [false, false]

const store: CairnStore = await openStore({ name: 'notes' })
// @ts-expect-error `cairndb` here is the browser entry: `{ path }` needs `cairndb/node`
await openStore({ path: './data' })
void [typed, store]
