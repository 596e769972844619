import { expect, test } from '@playwright/test'

test('notes survive a reload in real IndexedDB, and a picked file reads back', async ({ page }) => {
  const db = `e2e-${Date.now()}`
  await page.goto(`/?db=${db}`)
  await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
  for (const text of ['first', 'second', 'third']) {
    await page.fill('#text', text)
    await page.click('button[type=submit]')
    await expect(page.locator('#notes li')).toHaveCount(['first', 'second', 'third'].indexOf(text) + 1)
  }
  const heads = await page.locator('#heads').textContent()
  expect(heads).toMatch(/^bafyrei/)

  await page.reload()
  await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
  await expect(page.locator('#notes li')).toHaveText(['first (v1)', 'second (v2)', 'third (v3)'])
  await expect(page.locator('#heads')).toHaveText(heads!)

  const bytes = Buffer.alloc(700_000, 'cairn ')
  await page.setInputFiles('#file', { name: 'big.txt', mimeType: 'text/plain', buffer: bytes })
  await expect(page.locator('#file-result')).toContainText(`big.txt: bafybei`)
  await expect(page.locator('#file-result')).toContainText(`(${bytes.length} bytes read back)`)
})
