import { expect, test } from '@playwright/test'

// Two real tabs (pages of one browser context, so one origin and one IndexedDB) append to the
// same store at once; a third tab then finds every acknowledged append, one head, and a log
// that verifies. The example app exposes its store as globalThis.cairnStore.
test('two tabs appending to one store at once lose nothing, and each sees the other live', async ({ browser }) => {
  const context = await browser.newContext()
  const db = `tabs-${Date.now().toString(36)}`
  const pages = await Promise.all(
    [0, 1].map(async () => {
      const page = await context.newPage()
      await page.goto(`/?db=${db}`)
      await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
      return page
    }),
  )
  type Store = {
    append(e: object): Promise<unknown>
    version(s: string): number
    heads: unknown[]
    stats(): Promise<{ events: number }>
    verify(): Promise<{ blocks: number }>
    subscribe(f: object, l: (e: { data: unknown }) => void): () => void
  }
  // The second tab listens for the first tab's appends.
  await pages[1]!.evaluate(() => {
    const g = globalThis as unknown as { cairnStore: Store; heard: number }
    g.heard = 0
    g.cairnStore.subscribe({ stream: 'from-0' }, () => {
      g.heard++
    })
  })
  const acked = await Promise.all(
    pages.map((page, tab) =>
      page.evaluate(async (tab) => {
        const store = (globalThis as unknown as { cairnStore: Store }).cairnStore
        let n = 0
        for (let i = 0; i < 150; i++) {
          await store.append({ stream: `from-${tab}`, type: 'tick', data: { tab, i } })
          await store.append({ stream: 'notes', type: 'note.added', data: { text: `tab ${tab} note ${i}` } })
          n += 2
        }
        return n
      }, tab),
    ),
  )
  expect(acked).toEqual([300, 300])
  await expect.poll(() => pages[1]!.evaluate(() => (globalThis as unknown as { heard: number }).heard)).toBe(150)

  const third = await context.newPage()
  await third.goto(`/?db=${db}`)
  await expect(third.locator('#status')).toHaveText('ready (indexeddb)')
  const seen = await third.evaluate(async () => {
    const store = (globalThis as unknown as { cairnStore: Store }).cairnStore
    return { events: (await store.stats()).events, heads: store.heads.length, notes: store.version('notes'), verified: (await store.verify()).blocks }
  })
  expect(seen).toEqual({ events: 600, heads: 1, notes: 300, verified: 600 })
  await expect(third.locator('#notes li')).toHaveCount(300)
  await context.close()
})
