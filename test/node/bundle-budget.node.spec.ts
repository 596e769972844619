// Node only: the first-load budget of issue 11. Builds, with Vite, the smallest browser app that
// opens a store in IndexedDB, appends and reads (test/node/fixtures/budget-app) through the
// package entry, and sums the gzip size of the JS a first load fetches: the entry chunk and the
// chunks it imports statically, transitively (chunks behind a dynamic import() load on first use
// and are not counted), each gzipped alone as a server sends it. Needs `npm run build` (dist/).
// The app's module uses top-level await, which turns Vite 8's (rolldown's) chunk merging off:
// modules shared with lazy chunks then land in first-load chunks of their own, ~0.3 KiB of gzip
// each. The same app without top-level await (fixtures/budget-app-async) is measured too.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'vite'
import { describe, expect, test } from 'vitest'

/** The target: 40 KiB of gzip (zlib's default level 6, as a server compressing on the fly would). Met without top-level await, not yet with it. */
const TARGET = 40 * 1024
/**
 * The ceiling this spec enforces until the target is met: a ratchet just above today's size, lowered as
 * it shrinks (2026-12-02: 53.9 KiB, then 42.2 after the first-load work; 42.9 with the event
 * envelope writer, which makes appendMany ~1.3× faster, so the ratchet moved up by that, once;
 * 43.3 once export and cat load on first use, which splits this app's chunks differently; 43.6
 * with progress and export roots, then 42.9 once the store's cold argument checks load on first use;
 * 2026-12-03: 43.05 once append inputs and the IndexedDB engine's options are checked for unknown
 * keys and bad values (a misspelt key used to be ignored silently), so the ratchet moved to 43.1;
 * 44.0 with the batched-append CPU work of the same day — checks that build names and paths only
 * for an error, CIDs hashed into their slab, one event object per draft, the views' batch add —
 * which makes appendMany ~1.2–1.3× faster; 43.8 once the transaction builder, the DAG-completeness
 * check and the group-commit merge load on first use (the lazy builder splits this app into 13
 * chunks, each gzipped alone, so it costs this app 0.4 KiB while it saves the other 0.3), 43.8
 * once a group of appends is planned at once and only groups that need each caller planned
 * alone load that code, so the ratchet moved to 43.9).
 */
const BUDGET = 43.9 * 1024
/**
 * The ceiling of the app without top-level await: the target (40.0 KiB on 2026-12-02, with the
 * envelope writer; 39.5 once the store's cold argument checks load on first use; 39.8 with the
 * unknown-key checks of 2026-12-03; 40.7 with the batched-append CPU work the same day, back to
 * 40.0 — 40,901 bytes — once the cold parts named above load on first use).
 */
const BUDGET_ASYNC = TARGET

/** One chunk of Vite's build manifest (.vite/manifest.json). */
interface ManifestChunk {
  file: string
  isEntry?: boolean
  imports?: string[]
  dynamicImports?: string[]
}

/** Gzip sizes of the entry's JS and of every chunk it imports statically, transitively. */
async function firstLoad(root: string, outDir: string): Promise<{ files: Map<string, { raw: number; gzip: number }>; lazy: Map<string, number> }> {
  await build({ root, configFile: false, logLevel: 'silent', build: { outDir, emptyOutDir: true, minify: true, manifest: true, target: 'es2022' } })
  const manifest = JSON.parse(await readFile(join(outDir, '.vite', 'manifest.json'), 'utf8')) as Record<string, ManifestChunk>
  const entries = Object.keys(manifest).filter((k) => manifest[k]!.isEntry === true)
  const files = new Map<string, { raw: number; gzip: number }>()
  const seen = new Set<string>()
  const visit = async (key: string): Promise<void> => {
    if (seen.has(key)) return
    seen.add(key)
    const chunk = manifest[key]!
    const code = await readFile(join(outDir, chunk.file))
    files.set(chunk.file, { raw: code.length, gzip: gzipSync(code).length })
    for (const k of chunk.imports ?? []) await visit(k)
  }
  for (const e of entries) await visit(e)
  const lazy = new Map<string, number>()
  for (const chunk of Object.values(manifest)) {
    if (!files.has(chunk.file) && chunk.file.endsWith('.js')) lazy.set(chunk.file, gzipSync(await readFile(join(outDir, chunk.file))).length)
  }
  return { files, lazy }
}

/** Builds the fixture app in `test/node/fixtures/<name>`, prints its first load, returns its gzip bytes and chunk count. */
async function measure(name: string, budget: number): Promise<{ gzip: number; chunks: number }> {
  const outDir = await mkdtemp(join(tmpdir(), 'cairn-budget-'))
  try {
    const { files, lazy } = await firstLoad(join('test', 'node', 'fixtures', name), outDir)
    let gzip = 0
    let raw = 0
    for (const f of files.values()) {
      gzip += f.gzip
      raw += f.raw
    }
    const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`
    console.log(
      `first load of ${name}: ${kib(gzip)} gzip = ${gzip} bytes (${kib(raw)} minified) in ${files.size} chunk(s) [${[...files].map(([f, s]) => `${f} ${kib(s.gzip)}`).join(', ')}]; ceiling ${kib(budget)}, target ${kib(TARGET)}${gzip <= TARGET ? ' (met)' : ` (${kib(gzip - TARGET)} over)`}; loaded later on use: ${[...lazy].map(([f, n]) => `${f} ${kib(n)}`).join(', ') || 'nothing'}`,
    )
    return { gzip, chunks: files.size }
  } finally {
    await rm(outDir, { recursive: true, force: true })
  }
}

describe('first-load budget', () => {
  test(`an app that opens, appends and reads loads at most ${(BUDGET / 1024).toFixed(1)} KiB of gzipped JS (target ${TARGET / 1024} KiB)`, async () => {
    const { gzip, chunks } = await measure('budget-app', BUDGET)
    expect(chunks).toBeGreaterThan(0)
    expect(gzip).toBeLessThanOrEqual(BUDGET)
  })

  test(`the same app without top-level await loads at most ${(BUDGET_ASYNC / 1024).toFixed(1)} KiB`, async () => {
    const { gzip, chunks } = await measure('budget-app-async', BUDGET_ASYNC)
    expect(chunks).toBeGreaterThan(0)
    expect(gzip).toBeLessThanOrEqual(BUDGET_ASYNC)
  })
})
