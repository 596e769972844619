import { readFile } from 'node:fs/promises'
import { expect, type Page, test } from '@playwright/test'

async function addNote(page: Page, text: string): Promise<void> {
  const before = await page.locator('#notes li').count()
  await page.fill('#text', text)
  await page.click('#add button[type=submit]')
  await expect(page.locator('#notes li')).toHaveCount(before + 1)
}

test('notes survive a reload in real IndexedDB, and a picked file reads back', async ({ page }) => {
  const db = `e2e-${Date.now()}`
  await page.goto(`/?db=${db}`)
  await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
  for (const text of ['first', 'second', 'third']) await addNote(page, text)
  const heads = await page.locator('#heads').textContent()
  expect(heads).toMatch(/^bafyrei/)

  await page.reload()
  await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
  await expect(page.locator('#notes .note-text')).toHaveText(['first', 'second', 'third'])
  await expect(page.locator('#heads')).toHaveText(heads!)

  const bytes = Buffer.alloc(700_000, 'cairn ')
  await page.setInputFiles('#file', { name: 'big.txt', mimeType: 'text/plain', buffer: bytes })
  await expect(page.locator('#file-result')).toContainText(`big.txt: bafybei`)
  await expect(page.locator('#file-result')).toContainText(`(${bytes.length} bytes read back)`)
  // The file goes with the next note, as a download link read from the store.
  await addNote(page, 'with a file')
  const link = page.locator('#notes li').last().locator('a.attachment')
  await expect(link).toHaveText('big.txt')
  await expect(link).toHaveAttribute('href', /^blob:/)
  const downloaded = await link.evaluate(async (a: HTMLAnchorElement) => (await (await fetch(a.href)).arrayBuffer()).byteLength)
  expect(downloaded).toBe(bytes.length)
})

test('notes are edited and deleted by events; the store downloads as a .car that another database loads', async ({ page }) => {
  const run = Date.now().toString(36)
  await page.goto(`/?db=edit-${run}`)
  await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
  for (const text of ['milk', 'eggs', 'flour']) await addNote(page, text)

  const eggs = page.locator('#notes li', { hasText: 'eggs' })
  await eggs.locator('button.edit').click()
  await page.locator('#notes .edit-text').fill('a dozen eggs')
  await page.locator('#notes .edit-text').press('Enter')
  await expect(page.locator('#notes .note-text')).toHaveText(['milk', 'a dozen eggs', 'flour'])
  await expect(page.locator('#notes li', { hasText: 'a dozen eggs' }).locator('.edited')).toHaveText('edited')
  await page.locator('#notes li', { hasText: 'milk' }).locator('button.delete').click()
  await expect(page.locator('#notes .note-text')).toHaveText(['a dozen eggs', 'flour'])
  // Five events on the stream: three added, one edited, one deleted; the list is their reduce.
  const types = await page.evaluate(async () => {
    const store = (globalThis as unknown as { cairnStore: { read(s: string): AsyncIterable<{ type: string }> } }).cairnStore
    const seen: string[] = []
    for await (const e of store.read('notes')) seen.push(e.type)
    return seen
  })
  expect(types).toEqual(['note.added', 'note.added', 'note.added', 'note.edited', 'note.deleted'])
  await page.reload()
  await expect(page.locator('#notes .note-text')).toHaveText(['a dozen eggs', 'flour'])

  // Download the whole store as a CAR...
  const download = page.waitForEvent('download')
  await page.click('#export')
  const car = await download
  expect(car.suggestedFilename()).toBe(`edit-${run}.car`)
  const bytes = await readFile((await car.path())!)
  await expect(page.locator('#car-status')).toHaveText(`exported ${bytes.length} bytes`)
  const heads = await page.locator('#heads').textContent()

  // ...and load it into an empty database: same notes, same heads.
  await page.goto(`/?db=loaded-${run}`)
  await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
  await expect(page.locator('#notes li')).toHaveCount(0)
  await page.setInputFiles('#import', { name: 'notes.car', mimeType: 'application/vnd.ipld.car', buffer: bytes })
  await expect(page.locator('#car-status')).toHaveText(/^loaded notes\.car: 5 new events, \d+ new blocks$/)
  await expect(page.locator('#notes .note-text')).toHaveText(['a dozen eggs', 'flour'])
  await expect(page.locator('#heads')).toHaveText(heads!)

  // A damaged CAR is refused with a typed error and changes nothing.
  const damaged = Buffer.from(bytes)
  damaged[damaged.length - 5]! ^= 0xff
  await page.goto(`/?db=damaged-${run}`)
  await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
  await page.setInputFiles('#import', { name: 'bad.car', mimeType: 'application/vnd.ipld.car', buffer: damaged })
  await expect(page.locator('#car-status')).toHaveText(/^load failed: CAIRN_[A-Z_]+: /)
  await expect(page.locator('#notes li')).toHaveCount(0)
  await expect(page.locator('#heads')).toHaveText('')
})
