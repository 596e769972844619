import { deflateSync, crc32 } from 'node:zlib'
import { type BrowserContext, expect, type Page, test } from '@playwright/test'

// The notes app offline-first, end to end: two devices (browser contexts, each with its own
// IndexedDB) visit once, so the service worker caches the app shell; then both go offline and
// write notes, one of them with an image stored by putFile; back online they sync through the
// Node sync server (at /cairn) and both show every note, image included; then, offline again,
// a reload is served by the service worker from its cache and shows the same list from
// IndexedDB, which must look like the committed screenshot.

/** A 16×16 PNG (RGB): a fixed pattern, so the screenshot has something to compare. */
function png(): Buffer {
  const size = 16
  const raw = Buffer.alloc(size * (1 + size * 3))
  for (let y = 0; y < size; y++) {
    raw[y * (1 + size * 3)] = 0 // filter: none
    for (let x = 0; x < size; x++) {
      const o = y * (1 + size * 3) + 1 + x * 3
      const sky = y < 9
      raw[o] = sky ? 40 + y * 12 : 30
      raw[o + 1] = sky ? 60 + y * 10 : 90 + ((x + y) % 4) * 20
      raw[o + 2] = sky ? 140 + y * 8 : 160
    }
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const out = Buffer.alloc(12 + data.length)
    out.writeUInt32BE(data.length, 0)
    body.copy(out, 4)
    out.writeUInt32BE(crc32(body), 8 + data.length)
    return out
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8-bit RGB, no interlace
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

interface Device {
  context: BrowserContext
  page: Page
}

async function addNote(page: Page, text: string): Promise<void> {
  const before = await page.locator('#notes li').count()
  await page.fill('#text', text)
  await page.click('#add button[type=submit]')
  await expect(page.locator('#notes li')).toHaveCount(before + 1)
}

async function syncNow(page: Page): Promise<string> {
  await page.click('#sync')
  await expect(page.locator('#sync-status')).toContainText(/^(synced|sync failed)/)
  return (await page.locator('#sync-status').textContent())!
}

/** Resolves once every image of the list has loaded its bytes (read from the store by `cat`). */
async function imagesLoaded(page: Page): Promise<number[]> {
  // Each poll reads the images afresh (a promise made once would answer its first reading forever).
  const widths = (): Promise<number[]> => page.locator('#notes img.attachment').evaluateAll((imgs) => (imgs as HTMLImageElement[]).map((i) => (i.complete ? i.naturalWidth : 0)))
  await expect
    .poll(async () => {
      const w = await widths()
      return w.length > 0 && w.every((n) => n > 0)
    })
    .toBe(true)
  return page.locator('#notes img.attachment').evaluateAll((imgs) => (imgs as HTMLImageElement[]).map((i) => i.naturalWidth))
}

const NOTES = ['Buy bread', 'The harbour at dusk', 'Call the plumber', 'Pack the tent']

test('two devices write offline (one note with an image), sync through the server, show every note, and reload offline from the service worker', async ({ browser }) => {
  const run = Date.now().toString(36)
  // Its own notebook (stream): the list holds this test's notes whatever else the server holds.
  const devices: Device[] = []
  for (const name of ['a', 'b']) {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(`/?db=offline-${name}-${run}&notebook=trip-${run}`)
    await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
    // The first visit installs the service worker, which caches the shell before it activates.
    await expect(page.locator('#offline-ready')).toHaveText('cached for offline use')
    await expect.poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true)
    devices.push({ context, page })
  }
  const [a, b] = devices as [Device, Device]
  // Both start from what the server already holds (other specs share it): the counts below are this test's.
  for (const d of devices) expect(await syncNow(d.page)).toMatch(/^synced: /)

  // Offline: each device writes notes to its IndexedDB; B attaches an image (putFile).
  for (const d of devices) await d.context.setOffline(true)
  await expect(a.page.locator('#network')).toHaveText('offline')
  await addNote(a.page, NOTES[0]!)
  await b.page.setInputFiles('#file', { name: 'harbour.png', mimeType: 'image/png', buffer: png() })
  await expect(b.page.locator('#file-result')).toContainText('harbour.png: bafkrei')
  await addNote(b.page, NOTES[1]!)
  await addNote(a.page, NOTES[2]!)
  await addNote(b.page, NOTES[3]!)
  expect(await imagesLoaded(b.page)).toEqual([16])
  expect(await syncNow(a.page)).toMatch(/^sync failed: CAIRN_SYNC/)

  // Online: A pushes, B pulls A's and pushes its own with the image, A pulls B's.
  for (const d of devices) await d.context.setOffline(false)
  expect(await syncNow(a.page)).toMatch(/^synced: pulled 0 and pushed 2 events/)
  // B's two notes, and the image's $objects event unless the server knew the image from an earlier run.
  const pushed = /^synced: pulled 2 and pushed (2|3) events/.exec(await syncNow(b.page))
  expect(pushed).not.toBeNull()
  expect(await syncNow(a.page)).toMatch(new RegExp(`^synced: pulled ${pushed![1]} and pushed 0 events`))
  for (const d of devices) {
    await expect(d.page.locator('#notes .note-text')).toHaveText(NOTES)
    await expect(d.page.locator('#notes li').nth(1).locator('img.attachment')).toHaveAttribute('alt', 'harbour.png')
    expect(await imagesLoaded(d.page)).toEqual([16])
  }

  // Offline again: a reload comes from the service worker's cache, the notes from IndexedDB.
  for (const d of devices) {
    await d.context.setOffline(true)
    const response = await d.page.reload()
    expect(response?.fromServiceWorker()).toBe(true)
    await expect(d.page.locator('#status')).toHaveText('ready (indexeddb)')
    await expect(d.page.locator('#network')).toHaveText('offline')
    await expect(d.page.locator('#notes .note-text')).toHaveText(NOTES)
    expect(await imagesLoaded(d.page)).toEqual([16])
    await expect(d.page.locator('#notes')).toHaveScreenshot('notes-list.png', { animations: 'disabled', caret: 'hide' })
  }

  // Without that first visit there is nothing to serve: a fresh device offline gets no page.
  const fresh = await browser.newContext({ offline: true })
  const page = await fresh.newPage()
  await expect(page.goto(`/?db=offline-c-${run}`)).rejects.toThrow(/ERR_INTERNET_DISCONNECTED/)
  await fresh.close()
  for (const d of devices) await d.context.close()
})
