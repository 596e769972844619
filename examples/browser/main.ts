// A browser app on Cairn: notes kept in IndexedDB, surviving reloads; files stored as UnixFS;
// a Sync button exchanges CARs with a sync server (examples/node-server/server.ts, proxied at /cairn).
// `?sync=https://other.origin/cairn` syncs with a server on another origin (its `cors` option
// must allow this one); `?sign` signs each sync request with a key made for this page, whose
// did is shown (a server with access rules or `requireSignedRequests` takes signed requests only).
import { createIdentity, isCairnError, openStore, sync, type CairnStore, type Identity } from 'cairndb'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const params = new URLSearchParams(location.search)
const dbName = params.get('db') ?? 'cairn-notes'
const syncUrl = params.get('sync') ?? '/cairn'
const signer: Identity | undefined = params.has('sign') ? await createIdentity() : undefined
if (signer !== undefined) $('did').textContent = signer.did

async function render(store: CairnStore): Promise<void> {
  const list = $<HTMLOListElement>('notes')
  list.replaceChildren()
  for await (const e of store.read('notes')) {
    const li = document.createElement('li')
    li.textContent = `${(e.data as { text: string }).text} (v${e.version})`
    list.append(li)
  }
  $('heads').textContent = store.heads.map(String).join(', ')
}

const store = await openStore({ name: dbName })
;(globalThis as { cairnStore?: CairnStore }).cairnStore = store
await render(store)
$('status').textContent = `ready (${store.engine})`

$<HTMLFormElement>('add').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const input = $<HTMLInputElement>('text')
  await store.append({ stream: 'notes', type: 'note.added', data: { text: input.value } })
  input.value = ''
  await render(store)
  $('status').textContent = `saved (${store.version('notes')} notes)`
})

$<HTMLInputElement>('file').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0]
  if (file === undefined) return
  const cid = await store.putFile(file.stream(), { type: 'upload' })
  let size = 0
  for await (const chunk of store.cat(cid)) size += chunk.length
  $('file-result').textContent = `${file.name}: ${cid} (${size} bytes read back)`
})

$<HTMLButtonElement>('sync').addEventListener('click', async () => {
  const button = $<HTMLButtonElement>('sync')
  button.disabled = true
  $('sync-status').textContent = 'syncing…'
  try {
    const r = await sync(store, syncUrl, signer === undefined ? {} : { signer })
    await render(store)
    $('sync-status').textContent = `synced: pulled ${r.pulled.events} and pushed ${r.pushed.events} events (${r.bytesReceived + r.bytesSent} bytes, ${r.roundTrips} round trips)`
  } catch (err) {
    $('sync-status').textContent = `sync failed: ${isCairnError(err) ? err.code : 'error'}: ${(err as Error).message}`
  } finally {
    button.disabled = false
  }
})
