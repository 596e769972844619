import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, expect, test } from '@playwright/test'
import { chromiumLaunch } from '../chromium.ts'

// The example app's store (globalThis.cairnStore) on an origin whose quota is lowered through
// the DevTools protocol, so that Chromium itself refuses a commit with QuotaExceededError. The
// refused putFile must reject with CAIRN_QUOTA and change nothing; the store must keep working
// for smaller writes, verify, and reopen after a reload with exactly the acknowledged data.
//
// The browser runs on a profile on disk, as users' browsers do. (In a context without one, such
// as Playwright's default `browser.newContext()`, Chromium may go on counting part of a refused
// write against the quota, so the origin can stay full after a refusal.)

const MiB = 1024 * 1024
/** The origin's quota: room for the files of 0.25 + 0.5 + 1 MiB, not for the next one of 2 MiB. */
const QUOTA = 3 * MiB

type Summary = { events: number; streams: number; objects: number; bytes: number }
type Store = {
  append(e: object): Promise<{ cid: unknown }>
  putFile(bytes: Uint8Array, options: { type: string }): Promise<{ toString(): string }>
  objects(query: object): AsyncIterable<{ cid: { toString(): string } }>
  version(stream: string): number
  heads: { toString(): string }[]
  stats(): Promise<Summary>
  verify(): Promise<{ blocks: number; dangling: unknown[] }>
}

test('a commit over the origin quota fails with CAIRN_QUOTA and leaves the store as it was; smaller writes and a reload still work', async ({ baseURL }) => {
  const profile = mkdtempSync(join(tmpdir(), 'cairn-quota-profile-'))
  const context = await chromium.launchPersistentContext(profile, { ...chromiumLaunch, headless: true, baseURL: baseURL! })
  try {
    const page = await context.newPage()
    const origin = new URL(baseURL!).origin
    const cdp = await context.newCDPSession(page)
    // Lowered before the app first touches IndexedDB in this (fresh) context: Chromium's
    // IndexedDB keeps the space it may use in a cache for up to 30 s (BucketContext::
    // kBucketSpaceCacheTimeLimit), so a quota lowered after a write would only bite later.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: QUOTA })
    const db = `quota-${Date.now().toString(36)}`
    await page.goto(`/?db=${db}`)
    await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
    const usage = (await cdp.send('Storage.getUsageAndQuota', { origin })) as { quota: number; overrideActive: boolean }
    expect(usage).toMatchObject({ quota: QUOTA, overrideActive: true })

    const run = await page.evaluate(async (MiB) => {
      const store = (globalThis as unknown as { cairnStore: Store }).cairnStore
      const random = (size: number): Uint8Array => {
        const bytes = new Uint8Array(size) // incompressible, so the browser stores every byte
        for (let o = 0; o < size; o += 65_536) crypto.getRandomValues(bytes.subarray(o, Math.min(size, o + 65_536)))
        return bytes
      }
      const state = async () => ({ heads: store.heads.map(String), stats: await store.stats(), notes: store.version('notes') })
      for (const text of ['one', 'two', 'three']) await store.append({ stream: 'notes', type: 'note.added', data: { text } })
      // Files of doubling size until one is refused: the refused file is bigger than all the
      // acknowledged ones together, so room remains for a small append afterwards.
      const files: string[] = []
      let size = MiB / 4
      let before = await state()
      let refused: { code: unknown; name: unknown; message: string; cause: unknown; size: number } | undefined
      while (refused === undefined && size <= 64 * MiB) {
        before = await state()
        try {
          files.push(String(await store.putFile(random(size), { type: 'upload' })))
          size *= 2
        } catch (err) {
          const e = err as { code?: unknown; name?: unknown; message: string; cause?: { name?: unknown } }
          refused = { code: e.code, name: e.name, message: e.message, cause: e.cause?.name, size }
        }
      }
      const after = await state()
      const verified = await store.verify()
      const small = await store.append({ stream: 'notes', type: 'note.added', data: { text: 'four, after the refusal' } })
      return { files, refused, before, after, verified, small: String(small.cid), final: await state() }
    }, MiB)

    // The refused write: typed, saying how much it was, suggesting persist()/freeing space.
    expect(run.files).toHaveLength(3)
    expect(run.refused).toMatchObject({ code: 'CAIRN_QUOTA', name: 'CairnError', cause: 'QuotaExceededError', size: 2 * MiB })
    expect(run.refused!.message).toMatch(/^IndexedDB commit of \d+ blocks, \d+ bytes \(2\.0 MiB\) was refused: the origin is out of storage quota/)
    expect(run.refused!.message).toContain('store.persist()')
    // Nothing of it is visible: heads and stats are those before the call, the log verifies.
    expect(run.after).toEqual(run.before)
    expect(run.before.stats).toMatchObject({ events: 6, objects: 3 })
    expect(run.verified.dangling).toEqual([])
    expect(run.verified.blocks).toBeGreaterThan(0)
    // The store still takes a smaller write, under the same quota.
    expect(run.final.notes).toBe(4)
    expect(run.final.heads).toEqual([run.small])
    expect(run.final.stats.events).toBe(7)

    // After a reload the store opens with exactly the acknowledged data.
    await page.reload()
    await expect(page.locator('#status')).toHaveText('ready (indexeddb)')
    const reopened = await page.evaluate(async () => {
      const store = (globalThis as unknown as { cairnStore: Store }).cairnStore
      const files: string[] = []
      for await (const o of store.objects({ type: 'upload' })) files.push(String(o.cid))
      const verified = await store.verify()
      return { heads: store.heads.map(String), stats: await store.stats(), notes: store.version('notes'), files, dangling: verified.dangling.length }
    })
    expect(reopened).toEqual({ heads: run.final.heads, stats: run.final.stats, notes: 4, files: run.files, dangling: 0 })
    await expect(page.locator('#notes .note-text')).toHaveText(['one', 'two', 'three', 'four, after the refusal'])
  } finally {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
})
