// Vite config of the notes app. `vite examples/notes` (development) and `vite preview
// examples/notes` (the production build) both send /cairn to the sync server
// (examples/node-server/server.ts, CAIRN_SYNC_ORIGIN or http://127.0.0.1:8787), so the app syncs
// same-origin and needs no CORS. A production build also emits the service worker (sw.js)
// with the list of the build's files, which it caches on install.
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { defineConfig, type Plugin, type UserConfig } from 'vite'

/** Emits sw.js: the hand-written worker, preceded by the build's file list and a version hash. */
function serviceWorker(): Plugin {
  return {
    name: 'cairn-notes-service-worker',
    apply: 'build',
    enforce: 'post',
    generateBundle(_options, bundle) {
      const files = ['index.html', ...Object.keys(bundle).filter((f) => f !== 'index.html' && !f.endsWith('.map'))].sort()
      const hash = createHash('sha256')
      for (const f of files) {
        const out = bundle[f]!
        hash.update(f).update(out.type === 'chunk' ? out.code : out.source)
      }
      const version = hash.digest('hex').slice(0, 16)
      const source = readFileSync(new URL('./sw.js', import.meta.url), 'utf8')
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: `self.__PRECACHE = ${JSON.stringify({ version, files })}\n${source}` })
    },
  }
}

const proxy = { '/cairn': process.env['CAIRN_SYNC_ORIGIN'] ?? 'http://127.0.0.1:8787' }

const config: UserConfig = defineConfig({
  plugins: [serviceWorker()],
  server: { proxy },
  preview: { proxy },
})
export default config
