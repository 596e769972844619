// A Cairn sync client: `node http-client.mjs` appends a note and syncs both ways with
// http-server.mjs. `node http-client.mjs did` prints this device's did (for CAIRN_PEERS).
import { readFile, writeFile } from 'node:fs/promises'
import { createIdentity, exportIdentity, importIdentity, openStore, sync } from 'cairndb'

// This device's key, made once and kept in ./device.key (keep it private).
let me
try {
  me = await importIdentity(await readFile('./device.key'))
} catch {
  me = await createIdentity()
  await writeFile('./device.key', await exportIdentity(me), { mode: 0o600 })
}
if (process.argv[2] === 'did') {
  console.log(me.did)
  process.exit(0)
}

const store = await openStore({ path: './client-store' })
await store.append({ stream: 'notes', type: 'note.added', data: { text: `hello from ${me.did.slice(0, 16)}…` } })
const url = process.env.CAIRN_URL ?? 'http://127.0.0.1:8787/cairn'
const report = await sync(store, url, { signer: me }) // every request signed by this device
console.log(`pulled ${report.pulled.events} and pushed ${report.pushed.events} events`)
for await (const e of store.read('notes')) console.log(e.version, e.data.text)
await store.close()
