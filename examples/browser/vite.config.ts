// Dev server of the browser example: /cairn goes to the sync server (examples/node-server/server.ts),
// so the app syncs same-origin and needs no CORS.
import { defineConfig, type UserConfig } from 'vite'

const config: UserConfig = defineConfig({
  server: { proxy: { '/cairn': process.env['CAIRN_SYNC_ORIGIN'] ?? 'http://127.0.0.1:8787' } },
})
export default config
