import { defineConfig } from '@playwright/test'
import { chromiumLaunch } from './chromium.ts'

const url = 'http://127.0.0.1:4173'

const config: ReturnType<typeof defineConfig> = defineConfig({
  testDir: 'e2e',
  reporter: 'list',
  timeout: 60_000,
  use: { baseURL: url, browserName: 'chromium', headless: true, launchOptions: chromiumLaunch },
  webServer: {
    command: 'vite examples/browser --host 127.0.0.1 --port 4173 --strictPort',
    url,
    reuseExistingServer: false,
    timeout: 60_000,
  },
})
export default config
