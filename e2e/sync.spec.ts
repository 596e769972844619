import { expect, test, type Page } from '@playwright/test'

// Two devices: two browser contexts, each with its own IndexedDB, on the notes app. Each
// writes notes offline, then syncs through the Node sync server (proxied at /cairn).
test('two devices write offline, sync through a server, and show the same notes and heads', async ({ browser }) => {
  const run = Date.now().toString(36)
  const devices = await Promise.all(
    ['a', 'b'].map(async (name) => {
      const context = await browser.newContext()
      const page = await context.newPage()
      await page.goto(`/?db=sync-${name}-${run}`)
      await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
      return { name, context, page }
    }),
  )
  const [a, b] = devices as [(typeof devices)[0], (typeof devices)[0]]

  const add = async (page: Page, text: string): Promise<void> => {
    const before = await page.locator('#notes li').count()
    await page.fill('#text', text)
    await page.click('button[type=submit]')
    await expect(page.locator('#notes li')).toHaveCount(before + 1)
  }
  const syncNow = async (page: Page): Promise<string> => {
    await page.click('#sync')
    await expect(page.locator('#sync-status')).toContainText(/^(synced|sync failed)/)
    return (await page.locator('#sync-status').textContent())!
  }

  // Both start from what the server already holds (other specs share it), so the counts below are this test's.
  for (const d of devices) expect(await syncNow(d.page)).toMatch(/^synced: /)

  // Offline: notes go to IndexedDB, and a sync attempt fails with a typed error.
  for (const d of devices) await d.context.setOffline(true)
  for (const text of ['a1', 'a2', 'a3']) await add(a.page, `${text}-${run}`)
  for (const text of ['b1', 'b2']) await add(b.page, `${text}-${run}`)
  expect(await syncNow(a.page)).toMatch(/^sync failed: CAIRN_SYNC/)
  for (const d of devices) await d.context.setOffline(false)

  // Online: A pushes, B pulls A's and pushes its own, A pulls B's.
  expect(await syncNow(a.page)).toMatch(/pushed 3 events/)
  expect(await syncNow(b.page)).toMatch(/pulled 3 and pushed 2 events/)
  expect(await syncNow(a.page)).toMatch(/pulled 2 and pushed 0 events/)

  const notesOf = (page: Page): Promise<string[]> => page.locator('#notes .note-text').allTextContents()
  const mine = (notes: string[]): string[] => notes.filter((n) => n.includes(run))
  const notesA = await notesOf(a.page)
  expect(
    mine(notesA)
      .map((n) => n.replace(/-.*$/, ''))
      .sort(),
  ).toEqual(['a1', 'a2', 'a3', 'b1', 'b2'])
  expect(await notesOf(b.page)).toEqual(notesA)
  const heads = await a.page.locator('#heads').textContent()
  expect(heads).toMatch(/^bafyrei/)
  await expect(b.page.locator('#heads')).toHaveText(heads!)

  // Both survive a reload with the merged log.
  await b.page.reload()
  await expect(b.page.locator('#status')).toHaveText('ready (indexeddb)')
  expect(await notesOf(b.page)).toEqual(notesA)
  await expect(b.page.locator('#heads')).toHaveText(heads!)

  for (const d of devices) await d.context.close()
})
