/// <reference types="vite/client" />
// An offline-first notes app on Cairn. Notes are events on one stream of an IndexedDB store:
// `note.added` (its CID names the note), `note.edited` and `note.deleted` (each naming it);
// the list is their reduce. A picked file is stored with putFile (UnixFS) and linked from the
// next note; an image is shown from its bytes (`cat`). The whole store downloads as a .car and
// loads from one; the Sync button exchanges CARs with a sync server (examples/node-server/server.ts,
// at /cairn). A service worker (sw.js, production builds only) keeps the app shell, so after
// one visit the app opens and works with the network off.
//
// Query parameters: `?db=NAME` (IndexedDB database, default cairn-notes); `?notebook=NAME` (the
// stream the list shows, default notes); `?sync=https://other.origin/cairn` syncs with a server
// on another origin (its `cors` option must allow this one); `?sign` signs each sync request
// with a key made for this page, whose did is shown.
import { type CairnStore, type CID, createIdentity, exportToBlob, type Identity, importFromBlob, isCairnError, openStore, type StoredEvent, sync } from 'cairndb'

/** What the list shows of one note. */
interface Note {
  cid: CID
  text: string
  ts: number
  edited: boolean
  file?: { cid: CID; name: string; type: string }
}
type NoteEvent = { type: 'note.added'; data: { text: string; file?: CID; fileName?: string; fileType?: string } } | { type: 'note.edited'; data: { note: CID; text: string } } | { type: 'note.deleted'; data: { note: CID } }

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const params = new URLSearchParams(location.search)
const dbName = params.get('db') ?? 'cairn-notes'
const stream = params.get('notebook') ?? 'notes'
const syncUrl = params.get('sync') ?? '/cairn'
const signer: Identity | undefined = params.has('sign') ? await createIdentity() : undefined
if (signer !== undefined) $('did').textContent = signer.did

/** The notes of the stream: each added note with its last edit, without the deleted ones. */
function reduceNote(notes: Map<string, Note>, e: StoredEvent): Map<string, Note> {
  const event = e as StoredEvent & NoteEvent
  if (event.type === 'note.added') {
    const { text, file, fileName, fileType } = event.data
    const note: Note = { cid: e.cid, text: String(text ?? ''), ts: e.ts, edited: false }
    if (file !== undefined) note.file = { cid: file, name: String(fileName ?? 'file'), type: String(fileType ?? '') }
    notes.set(String(e.cid), note)
  } else if (event.type === 'note.edited') {
    const note = notes.get(String(event.data.note))
    if (note !== undefined) notes.set(String(note.cid), { ...note, text: String(event.data.text), edited: true })
  } else if (event.type === 'note.deleted') {
    notes.delete(String(event.data.note))
  }
  return notes
}

/** Blob URLs of attached files, by CID: each file is read from the store once per page. */
const fileUrls = new Map<string, Promise<string>>()
function fileUrl(file: NonNullable<Note['file']>): Promise<string> {
  const key = String(file.cid)
  let url = fileUrls.get(key)
  if (url === undefined) {
    url = (async () => {
      const parts: Uint8Array<ArrayBuffer>[] = []
      for await (const chunk of store.cat(file.cid)) parts.push(chunk.slice()) // chunks may share the store's memory
      return URL.createObjectURL(new Blob(parts, { type: file.type }))
    })()
    fileUrls.set(key, url)
  }
  return url
}

function noteItem(note: Note): HTMLLIElement {
  const li = document.createElement('li')
  li.dataset['cid'] = String(note.cid)
  if (note.file !== undefined) {
    const file = note.file
    const shown = file.type.startsWith('image/') ? document.createElement('img') : document.createElement('a')
    shown.className = 'attachment'
    if (shown instanceof HTMLImageElement) shown.alt = file.name
    else {
      shown.textContent = file.name
      shown.download = file.name
    }
    fileUrl(file).then(
      (url) => {
        if (shown instanceof HTMLImageElement) shown.src = url
        else shown.href = url
      },
      (err: unknown) => {
        shown.title = `cannot read ${file.cid}: ${(err as Error).message}`
      },
    )
    li.append(shown)
  }
  const text = document.createElement('span')
  text.className = 'note-text'
  text.textContent = note.text
  li.append(text)
  if (note.edited) {
    const edited = document.createElement('span')
    edited.className = 'edited'
    edited.textContent = 'edited'
    li.append(edited)
  }
  const edit = document.createElement('button')
  edit.type = 'button'
  edit.className = 'edit'
  edit.textContent = 'Edit'
  edit.addEventListener('click', () => startEdit(li, note))
  const remove = document.createElement('button')
  remove.type = 'button'
  remove.className = 'delete'
  remove.textContent = 'Delete'
  remove.addEventListener('click', () => void write({ type: 'note.deleted', data: { note: note.cid } }))
  li.append(edit, remove)
  return li
}

/** Turns a list item into a one-field form; Enter or Save appends `note.edited`. */
function startEdit(li: HTMLLIElement, note: Note): void {
  const form = document.createElement('form')
  form.className = 'edit-form'
  const input = document.createElement('input')
  input.className = 'edit-text'
  input.value = note.text
  const save = document.createElement('button')
  save.type = 'submit'
  save.textContent = 'Save'
  form.append(input, save)
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    void write({ type: 'note.edited', data: { note: note.cid, text: input.value } })
  })
  li.replaceChildren(form)
  input.focus()
}

let rendering: Promise<void> = Promise.resolve()
/** Re-renders the list (one render at a time, the last call wins). */
function render(): Promise<void> {
  rendering = rendering
    .catch(() => {})
    .then(async () => {
      const notes = await store.reduce(stream, reduceNote, new Map<string, Note>())
      // Oldest first by creation time, ties by CID: the same order on every replica.
      const sorted = [...notes.values()].sort((a, b) => a.ts - b.ts || (String(a.cid) < String(b.cid) ? -1 : 1))
      $('notes').replaceChildren(...sorted.map(noteItem))
      $('heads').textContent = store.heads.map(String).join(', ')
    })
  return rendering
}

async function write(event: NoteEvent): Promise<void> {
  await store.append<NoteEvent['data']>({ stream, ...event })
  await render()
  $('status').textContent = `saved (${store.version(stream)} events in ${stream})`
}

const store = await openStore({ name: dbName })
;(globalThis as { cairnStore?: CairnStore }).cairnStore = store
await render()
$('status').textContent = `ready (${store.engine})`
// Writes from other tabs on the same database show up live.
store.subscribe({ stream }, () => void render())

/** The file picked for the next note, already in the store. */
let attachment: { cid: CID; name: string; type: string } | undefined

$<HTMLFormElement>('add').addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const input = $<HTMLInputElement>('text')
  if (input.value === '' && attachment === undefined) return
  const data: Extract<NoteEvent, { type: 'note.added' }>['data'] = { text: input.value }
  if (attachment !== undefined) Object.assign(data, { file: attachment.cid, fileName: attachment.name, fileType: attachment.type })
  input.value = ''
  attachment = undefined
  $<HTMLInputElement>('file').value = ''
  await write({ type: 'note.added', data })
})

$<HTMLInputElement>('file').addEventListener('change', async (ev) => {
  const file = (ev.target as HTMLInputElement).files?.[0]
  if (file === undefined) return
  const cid = await store.putFile(file.stream(), { type: file.type.startsWith('image/') ? 'image' : 'upload' })
  let size = 0
  for await (const chunk of store.cat(cid)) size += chunk.length
  attachment = { cid, name: file.name, type: file.type }
  $('file-result').textContent = `${file.name}: ${cid} (${size} bytes read back), attached to the next note`
})

$<HTMLButtonElement>('sync').addEventListener('click', async () => {
  const button = $<HTMLButtonElement>('sync')
  button.disabled = true
  $('sync-status').textContent = 'syncing…'
  try {
    const r = await sync(store, syncUrl, signer === undefined ? {} : { signer })
    await render()
    $('sync-status').textContent = `synced: pulled ${r.pulled.events} and pushed ${r.pushed.events} events (${r.bytesReceived + r.bytesSent} bytes, ${r.roundTrips} round trip${r.roundTrips === 1 ? '' : 's'})`
  } catch (err) {
    $('sync-status').textContent = `sync failed: ${isCairnError(err) ? err.code : 'error'}: ${(err as Error).message}`
  } finally {
    button.disabled = false
  }
})

$<HTMLButtonElement>('export').addEventListener('click', async () => {
  const blob = await exportToBlob(store)
  const a = document.createElement('a')
  a.href = URL.createObjectURL(blob)
  a.download = `${dbName}.car`
  a.click()
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000)
  $('car-status').textContent = `exported ${blob.size} bytes`
})

$<HTMLInputElement>('import').addEventListener('change', async (ev) => {
  const input = ev.target as HTMLInputElement
  const file = input.files?.[0]
  if (file === undefined) return
  try {
    const report = await importFromBlob(store, file)
    await render()
    $('car-status').textContent = `loaded ${file.name}: ${report.events} new events, ${report.blocks} new blocks`
  } catch (err) {
    $('car-status').textContent = `load failed: ${isCairnError(err) ? err.code : 'error'}: ${(err as Error).message}`
  } finally {
    input.value = ''
  }
})

const showNetwork = (): void => {
  $('network').textContent = navigator.onLine ? 'online' : 'offline'
}
addEventListener('online', showNetwork)
addEventListener('offline', showNetwork)
showNetwork()

// The service worker exists in production builds only (`vite build`; see vite.config.ts).
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js').then(
    async () => {
      await navigator.serviceWorker.ready
      $('offline-ready').textContent = 'cached for offline use'
    },
    (err: unknown) => {
      $('offline-ready').textContent = `no offline cache: ${(err as Error).message}`
    },
  )
}
