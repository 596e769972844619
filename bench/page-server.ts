// Shared by the Chromium benchmarks (bench/index/browser.ts, bench/browser/run.ts): bundles a
// page with Vite against the package's browser build (dist/index.js) and serves it cross-origin
// isolated, so performance.now() is precise to ~5 µs instead of 100 µs.
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'vite'

/** The repository's root directory. */
export const repoRoot: string = fileURLToPath(new URL('../', import.meta.url))

/**
 * Bundles the page whose index.html is in `pageDir` into `outDir`, `cairn` resolved to
 * dist/index.js (run `npm run build` first). `minify: false` keeps function names for profiles.
 */
export async function bundlePage(pageDir: string, outDir: string, options: { minify?: boolean } = {}): Promise<void> {
  await build({
    configFile: false,
    root: pageDir,
    logLevel: 'warn',
    resolve: { alias: [{ find: /^cairn$/, replacement: join(repoRoot, 'dist', 'index.js') }] },
    build: { outDir, emptyOutDir: true, target: 'es2022', reportCompressedSize: false, minify: options.minify ?? true },
  })
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json', '.css': 'text/css' }

/** A static server for the bundle, cross-origin isolated so performance.now() is not coarsened to 100 µs. */
export async function servePage(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^([/\\])+/, '')
    const file = join(dir, path === '' ? 'index.html' : path)
    if (!file.startsWith(dir)) {
      res.writeHead(403).end()
      return
    }
    readFile(file).then(
      (body) => {
        res
          .writeHead(200, {
            'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
            'cross-origin-opener-policy': 'same-origin',
            'cross-origin-embedder-policy': 'require-corp',
            'cross-origin-resource-policy': 'same-origin',
            'cache-control': 'no-store',
          })
          .end(body)
      },
      () => {
        res.writeHead(404).end()
      },
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/index.html` }
}
