// Cairn in Deno 2: `deno run --allow-read --allow-write --allow-net deno.ts`
// Keeps a store in ./my-store and serves its sync handler on 127.0.0.1 for one sync.
import { createSyncHandler, openStore, sync } from 'npm:cairndb'

const store = await openStore({ path: './my-store' })
await store.append({ stream: 'notes', type: 'note.added', data: { text: 'written in Deno' } })
for await (const e of store.read('notes')) console.log(e.version, e.type, e.data)

// The sync handler is a fetch-API handler: Deno.serve takes it as is.
const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, createSyncHandler(store))
const phone = await openStore({ memory: true })
const report = await sync(phone, `http://127.0.0.1:${server.addr.port}/cairn`)
console.log(`a memory store pulled ${report.pulled.events} events over HTTP; same heads: ${phone.heads.join() === store.heads.join()}`)

await server.shutdown()
await phone.close()
await store.close()
