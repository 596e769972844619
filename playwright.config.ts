import { defineConfig } from '@playwright/test'
import { chromiumLaunch } from './chromium.ts'

const url = 'http://127.0.0.1:4173'

const config: ReturnType<typeof defineConfig> = defineConfig({
  testDir: 'e2e',
  reporter: 'list',
  timeout: 60_000,
  // Syncs and IndexedDB commits take longer than the default 5 s on a loaded machine.
  expect: { timeout: 20_000 },
  use: { baseURL: url, browserName: 'chromium', headless: true, launchOptions: chromiumLaunch },
  // Screenshots are named by test file and name only, not by project (there is one browser).
  snapshotPathTemplate: '{snapshotDir}/{testFileDir}/{testFileName}-snapshots/{arg}{-snapshotSuffix}{ext}',
  projects: [
    {
      // These specs sync with the one sync server below and count what each sync pulls: another
      // spec pushing to it between their syncs changes those counts (with two workers they failed
      // 3 times in 4), so they run one at a time whatever the number of workers.
      name: 'shared-sync-server',
      testMatch: ['sync.spec.ts', 'notes-offline.spec.ts'],
      workers: 1,
    },
    { name: 'independent', testIgnore: ['sync.spec.ts', 'notes-offline.spec.ts'] },
  ],
  webServer: [
    {
      // The sync server the notes app reaches at /cairn through the Vite proxy.
      command: 'tsx examples/node-server/server.ts --port 8787',
      url: 'http://127.0.0.1:8787/cairn/heads',
      reuseExistingServer: false,
      timeout: 60_000,
    },
    {
      // The notes app's production build (the service worker needs one), served by vite preview.
      command: 'vite build examples/notes --logLevel warn && vite preview examples/notes --host 127.0.0.1 --port 4173 --strictPort',
      url,
      reuseExistingServer: false,
      timeout: 60_000,
    },
  ],
})
export default config
