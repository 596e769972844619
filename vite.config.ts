import { defineConfig } from 'vitest/config'
import { playwright } from '@vitest/browser-playwright'
import { chromiumLaunch } from './chromium.ts'

const config: ReturnType<typeof defineConfig> = defineConfig({
  build: { lib: { entry: 'src/index.ts', formats: ['es'], fileName: 'index' }, sourcemap: true },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          environment: 'node',
          include: ['test/shared/**/*.spec.ts', 'test/node/**/*.spec.ts'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/shared/**/*.spec.ts', 'test/browser/**/*.spec.ts'],
          testTimeout: 60_000,
          browser: {
            enabled: true,
            headless: true,
            instances: [{ browser: 'chromium' }],
            provider: playwright({ launchOptions: chromiumLaunch }),
          },
        },
      },
    ],
  },
})
export default config
