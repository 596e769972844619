// Cairn in Node: `node node.mjs` (ESM; Node ≥ 20). Keeps a store in ./my-store.
import { openStore } from 'cairndb'

const store = await openStore({ path: './my-store' }) // log-structured files, fsync per commit

// Events: append to a stream, read it back, fold it.
await store.append({ stream: 'todo-1', type: 'todo.added', data: { title: 'Buy tea' } })
await store.append({ stream: 'todo-1', type: 'todo.done', data: {} })
for await (const e of store.read('todo-1')) console.log(e.version, e.type, e.data)
const done = await store.reduce('todo-1', (_state, e) => e.type === 'todo.done', false)

// Objects: a file (UnixFS) and a value that links to it, both named by their CID.
const photo = await store.putFile(new TextEncoder().encode('pretend these are JPEG bytes'))
const doc = await store.put({ title: 'Tea receipt', photo }, { type: 'doc' })
const back = await store.get(doc) // re-hashed against its CID
console.log(`done: ${done}; doc ${doc} has title "${back.title}"; heads: ${store.heads.join(', ')}`)

await store.close() // reopen with the same path: everything is still there
