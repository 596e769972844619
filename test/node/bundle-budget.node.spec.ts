// Node only: the first-load budget of issue 11. Builds, with Vite, the smallest browser app that
// opens a store in IndexedDB, appends and reads (test/node/fixtures/budget-app) through the
// package entry, and sums the gzip size of the JS a first load fetches: the entry chunk and the
// chunks it imports statically, transitively (chunks behind a dynamic import() load on first use
// and are not counted). Fails over 40 KiB (40 × 1024 bytes) gzip. Needs `npm run build` (dist/).
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'vite'
import { describe, expect, test } from 'vitest'

/** The target: 40 KiB of gzip (zlib's default level 6, as a server compressing on the fly would). Not met yet. */
const TARGET = 40 * 1024
/** The ceiling this spec enforces until the target is met: a ratchet just above today's size (53.9 KiB on 2026-12-02), lowered as it shrinks. */
const BUDGET = 56 * 1024

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

describe('first-load budget', () => {
  test(`an app that opens, appends and reads loads at most ${BUDGET / 1024} KiB of gzipped JS (target ${TARGET / 1024} KiB)`, async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'cairn-budget-'))
    try {
      const { files, lazy } = await firstLoad(join('test', 'node', 'fixtures', 'budget-app'), outDir)
      let gzip = 0
      let raw = 0
      for (const f of files.values()) {
        gzip += f.gzip
        raw += f.raw
      }
      const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`
      console.log(
        `first load of the budget app: ${kib(gzip)} gzip (${kib(raw)} minified) in ${files.size} chunk(s) [${[...files].map(([f, s]) => `${f} ${kib(s.gzip)}`).join(', ')}]; ceiling ${kib(BUDGET)}, target ${kib(TARGET)}${gzip <= TARGET ? ' (met)' : ` (${kib(gzip - TARGET)} over)`}; loaded later on use: ${[...lazy].map(([f, n]) => `${f} ${kib(n)}`).join(', ') || 'nothing'}`,
      )
      expect(files.size).toBeGreaterThan(0)
      expect(gzip).toBeLessThanOrEqual(BUDGET)
    } finally {
      await rm(outDir, { recursive: true, force: true })
    }
  })
})
