// Bundles the worker and cairndb's browser/worker build into one ES module, dist/worker.js,
// which config.capnp embeds. `vite build --config examples/worker/vite.config.ts`.
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url))

const config: ReturnType<typeof defineConfig> = defineConfig({
  // workerd's own condition first, then the browser build (no Node built-ins, no files engine).
  resolve: { conditions: ['workerd', 'worker', 'browser', 'import', 'default'] },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    sourcemap: false,
    lib: { entry: here('./worker.ts'), formats: ['es'], fileName: () => 'worker.js' },
    rolldownOptions: { output: { codeSplitting: false } },
  },
  logLevel: 'warn',
})
export default config
