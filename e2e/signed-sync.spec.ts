import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect, test, type Page } from '@playwright/test'
import { createSyncHandler, openStore, toNodeListener, type CairnStore } from 'cairndb'

// A browser page on one origin (the example app, http://127.0.0.1:4173) syncs with a Node sync
// server on another (http://127.0.0.1:<port>): Chromium sends real CORS preflights and signed
// requests (the page's key, made with createIdentity, signs each one). The server takes signed
// requests only and admits the dids the test lets in; an unsigned page and a page whose did it
// does not know are refused with CAIRN_UNAUTHORIZED and change nothing.

const APP_ORIGIN = 'http://127.0.0.1:4173'

interface Seen {
  method: string
  path: string
  origin: string | undefined
  did: string | undefined
  status: number
}

async function startServer(store: CairnStore, admitted: Set<string>): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const admit = (did: string): boolean => admitted.has(did)
  const listener = toNodeListener(createSyncHandler(store, { auth: { requireSignedRequests: true, canRead: admit, canPush: admit }, cors: { origins: [APP_ORIGIN] } }))
  const seen: Seen[] = []
  const header = (req: IncomingMessage, name: string): string | undefined => req.headers[name] as string | undefined
  const server = createServer((req, res) => {
    res.once('finish', () => seen.push({ method: req.method!, path: req.url!, origin: header(req, 'origin'), did: header(req, 'x-cairn-did'), status: res.statusCode }))
    listener(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cairn`
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return { url, seen, close }
}

async function openPage(page: Page, query: string): Promise<void> {
  await page.goto(`/?${query}`)
  await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
}

async function syncNow(page: Page): Promise<string> {
  await page.click('#sync')
  await expect(page.locator('#sync-status')).toContainText(/^(synced|sync failed)/)
  return (await page.locator('#sync-status').textContent())!
}

async function addNote(page: Page, text: string): Promise<void> {
  const before = await page.locator('#notes li').count()
  await page.fill('#text', text)
  await page.click('button[type=submit]')
  await expect(page.locator('#notes li')).toHaveCount(before + 1)
}

test('a page syncs with a server on another origin through signed requests; unsigned and unknown pages are refused', async ({ browser }) => {
  const run = Date.now().toString(36)
  const store = await openStore({ memory: true })
  const admitted = new Set<string>()
  const server = await startServer(store, admitted)
  try {
    for (const text of ['s1', 's2']) await store.append({ stream: 'notes', type: 'note.added', data: { text: `${text}-${run}` } })
    const sync = encodeURIComponent(server.url)

    // A signed page whose did the server admits: pulls the server's notes, pushes its own.
    const context = await browser.newContext()
    const page = await context.newPage()
    await openPage(page, `db=signed-${run}&sync=${sync}&sign`)
    const did = (await page.locator('#did').textContent())!
    expect(did).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/)
    admitted.add(did)
    for (const text of ['p1', 'p2', 'p3']) await addNote(page, `${text}-${run}`)
    expect(await syncNow(page)).toMatch(/^synced: pulled 2 and pushed 3 events/)
    const serverHeads = store.heads.map(String).join(', ')
    await expect(page.locator('#heads')).toHaveText(serverHeads)
    const serverNotes: string[] = []
    for await (const e of store.read('notes')) serverNotes.push((e.data as { text: string }).text)
    expect(serverNotes.map((t) => t.replace(/-.*$/, '')).sort()).toEqual(['p1', 'p2', 'p3', 's1', 's2'])
    expect(await syncNow(page)).toMatch(/^synced: pulled 0 and pushed 0 events/)

    // What crossed the wire: preflights from the app's origin, then signed requests by the page's did.
    const preflights = server.seen.filter((s) => s.method === 'OPTIONS')
    expect(preflights.length).toBeGreaterThan(0)
    expect(preflights.every((s) => s.origin === APP_ORIGIN && s.status === 204)).toBe(true)
    const calls = server.seen.filter((s) => s.method === 'POST')
    expect(calls.map((s) => `${s.path} ${s.status}`)).toEqual(['/cairn/pull 200', '/cairn/push 200', '/cairn/pull 200'])
    expect(calls.every((s) => s.did === did && s.origin === APP_ORIGIN)).toBe(true)

    // An unsigned page and a signed page the server does not know: refused, nothing stored.
    const before = store.heads.map(String)
    const unsigned = await context.newPage()
    await openPage(unsigned, `db=unsigned-${run}&sync=${sync}`)
    await expect(unsigned.locator('#did')).toHaveText('(unsigned)')
    await addNote(unsigned, `u1-${run}`)
    expect(await syncNow(unsigned)).toMatch(/^sync failed: CAIRN_UNAUTHORIZED: .*signed requests only/)
    const stranger = await context.newPage()
    await openPage(stranger, `db=stranger-${run}&sync=${sync}&sign`)
    await addNote(stranger, `x1-${run}`)
    const strangerDid = (await stranger.locator('#did').textContent())!
    expect(await syncNow(stranger)).toMatch(new RegExp(`^sync failed: CAIRN_UNAUTHORIZED: .*${strangerDid} may not read`))
    expect(store.heads.map(String)).toEqual(before)
    const refusedCalls = server.seen.filter((s) => s.method === 'POST').slice(calls.length)
    expect(refusedCalls.map((s) => s.status)).toEqual([401, 403])

    await context.close()
  } finally {
    await server.close()
    await store.close()
  }
})
