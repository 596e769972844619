// Node only: builds the browser example with Vite the way an app would, importing `cairn`
// through the package's exports map, and checks no Node built-in leaks into the bundle.
import { describe, expect, test } from 'vitest'
import { build } from 'vite'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

describe('browser bundle', () => {
  test('a Vite build of an app importing cairn bundles without Node built-ins', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'cairn-bundle-'))
    try {
      await build({ root: 'examples/notes', logLevel: 'silent', build: { outDir, emptyOutDir: true, minify: true } })
      const assets = (await readdir(join(outDir, 'assets'))).filter((f) => f.endsWith('.js'))
      expect(assets.length).toBeGreaterThan(0)
      let raw = 0
      let gz = 0
      let all = ''
      // The UnixFS and CAR writer code are split into chunks loaded on first use.
      for (const f of assets) {
        const code = await readFile(join(outDir, 'assets', f), 'utf8')
        expect(code).not.toMatch(/["'`]node:[a-z]/)
        expect(code).not.toMatch(/from\s*["'`](fs|path|os|crypto)["'`]/)
        all += code
        raw += code.length
        gz += gzipSync(code).length
      }
      expect(all).toContain('indexeddb')
      // The notes app's service worker caches every file of the build, lazy chunks included.
      const sw = await readFile(join(outDir, 'sw.js'), 'utf8')
      const precache = JSON.parse(/^self\.__PRECACHE = (.*)$/m.exec(sw)![1]!) as { version: string; files: string[] }
      const built = (await readdir(join(outDir, 'assets'))).filter((f) => !f.endsWith('.map')).map((f) => `assets/${f}`)
      expect(precache.files).toEqual(['index.html', ...built].sort())
      expect(precache.version).toMatch(/^[0-9a-f]{16}$/)
      console.log(`browser bundle of examples/notes: ${(raw / 1024).toFixed(1)} KiB, ${(gz / 1024).toFixed(1)} KiB gzipped in ${assets.length} chunks`)
    } finally {
      await rm(outDir, { recursive: true, force: true })
    }
  })
})
