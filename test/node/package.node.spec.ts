// Node only: the published package, as a user installs it. `npm pack` runs on a copy of the
// checkout (its tracked and unignored files, no dist/: the `prepack` script must build it, and
// the repo's own dist/, which other specs read, is never touched), then a fresh project
// installs the tarball from npm's registry (`--prefer-offline`) and uses it: `npx cairn`, a
// user .mjs, the `browser` subpath, and Deno on the same node_modules. Nothing is written
// inside the repo; everything lives in one temporary folder.
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const exec = promisify(execFile)
const repo = resolve(import.meta.dirname, '../..')
const deno = join(repo, 'node_modules/.bin/deno')
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'

/** The commands `cairn --help` lists today (a new one does not fail this; a lost one does). */
const COMMANDS = ['init', 'stats', 'verify', 'append', 'log', 'state', 'get', 'put', 'put-file', 'cat', 'export', 'import', 'serve', 'sync', 'identity']

interface Packed {
  filename: string
  size: number
  unpackedSize: number
  entryCount: number
  files: { path: string; size: number }[]
}

let scratch: string
let app: string
let packed: Packed
let pkg: { version: string; dependencies: Record<string, string>; exports: unknown; bin: Record<string, string>; main: string; types: string }
/** A child's environment without the `npm_*` variables of an enclosing `npm run`, which would steer the nested npm. */
let env: NodeJS.ProcessEnv

const run = async (command: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): Promise<string> => {
  const { stdout } = await exec(command, args, { cwd, env: { ...env, ...extra }, maxBuffer: 16 << 20 })
  return stdout
}

beforeAll(async () => {
  env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), NO_COLOR: '1' }
  scratch = await mkdtemp(join(tmpdir(), 'cairn-package-'))
  // A copy of the checkout as `git status` sees it (tracked files plus new unignored ones).
  const checkout = join(scratch, 'checkout')
  const listed = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], repo)
  for (const file of new Set(listed.split('\0').filter((f) => f !== ''))) {
    if (!existsSync(join(repo, file))) continue // deleted in the work tree, not yet in the index
    await mkdir(dirname(join(checkout, file)), { recursive: true })
    await copyFile(join(repo, file), join(checkout, file))
  }
  await symlink(join(repo, 'node_modules'), join(checkout, 'node_modules'), 'dir')
  const out = join(scratch, 'out')
  await mkdir(out)
  const json = await run(npm, ['pack', '--json', '--pack-destination', out], checkout)
  packed = (JSON.parse(json) as Packed[])[0]!
  // A user's project: its own package.json, ESM, the tarball installed with its dependencies.
  app = join(scratch, 'app')
  await mkdir(app)
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'cairn-user', private: true, type: 'module' }))
  await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', join(out, packed.filename)], app)
  pkg = JSON.parse(await readFile(join(app, 'node_modules/cairndb/package.json'), 'utf8'))
  const kib = (n: number): string => `${(n / 1024).toFixed(1)} KiB`
  console.log(`npm pack: ${packed.filename}, ${kib(packed.size)} packed, ${kib(packed.unpackedSize)} unpacked, ${packed.entryCount} files`)
}, 120_000)

afterAll(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true })
})

describe('the packed package', () => {
  test('holds the builds, the sources their maps point at, and the top-level docs; no tests, benches or examples', () => {
    const paths = packed.files.map((f) => f.path)
    for (const must of ['dist/index.js', 'dist/index.d.ts', 'dist/index.node.js', 'dist/index.node.d.ts', 'dist/cli/main.js', 'LICENSE', 'README.md', 'CHANGELOG.md', 'package.json']) {
      expect(paths).toContain(must)
    }
    for (const path of paths) {
      expect(path).not.toMatch(/^(test|bench|examples|e2e|scripts|docs|\.ci|node_modules)\/|\/node_modules\//)
      expect(path).not.toMatch(/\.spec\.|\.tsbuildinfo$/)
      // Only these: the top-level files, the build (code, typings, source maps) and its sources.
      expect(path).toMatch(/^(package\.json|README\.md|LICENSE|CHANGELOG\.md|dist\/.+\.(js|d\.ts|js\.map)|src\/.+\.ts)$/)
    }
    expect(packed.entryCount).toBe(paths.length)
  })

  test('declares as dependencies exactly the packages its build imports (code and typings)', async () => {
    const code = new Set<string>()
    const typings = new Set<string>()
    const root = join(app, 'node_modules/cairndb/dist')
    for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !/\.(js|d\.ts)$/.test(entry.name)) continue
      const names = entry.name.endsWith('.d.ts') ? typings : code
      // Comment lines (the @example blocks import 'cairndb') are not imports.
      const text = (await readFile(join(entry.parentPath, entry.name), 'utf8'))
        .split('\n')
        .filter((l) => !/^\s*(\*|\/\*|\/\/)/.test(l))
        .join('\n')
      const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm), ...text.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm), ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!)
      for (const s of specifiers) {
        if (s.startsWith('.') || s.startsWith('node:')) continue
        names.add(s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!)
      }
    }
    const declared = Object.keys(pkg.dependencies).sort()
    expect([...code].filter((n) => !declared.includes(n))).toEqual([]) // nothing undeclared
    expect(declared).toEqual([...new Set([...code, ...typings])].sort()) // nothing unused
  })
})

describe('installed from the tarball', () => {
  test('npx cairn --help lists the commands; --version is the package version', async () => {
    // `--no`: never fetch; an unrelated npm package is called `cairn`.
    const help = await run(npx, ['--no', '--', 'cairn', '--help'], app)
    expect(help).toMatch(/^Usage: cairn /)
    const listed = [...help.split(/^Commands:$/m)[1]!.matchAll(/^ {2}([a-z-]+)/gm)].map((m) => m[1])
    expect(listed).toEqual(expect.arrayContaining(COMMANDS))
    expect((await run(npx, ['--no', '--', 'cairn', '--version'], app)).trim()).toBe(pkg.version)
  })

  test("a user's .mjs: a files store, append, read back, a CAR file exported and imported into a second store; the CLI reads both", async () => {
    await writeFile(
      join(app, 'user.mjs'),
      `import { exportToFile, importFromFile, openStore } from 'cairndb'
const a = await openStore({ path: './store-a' })
await a.append({ stream: 'todo', type: 'todo.added', data: { title: 'Buy tea' } })
await a.append({ stream: 'todo', type: 'todo.done', data: {} })
const read = async (store) => { const out = []; for await (const e of store.read('todo')) out.push([e.version, e.type, e.data]); return out }
const { bytes } = await exportToFile(a, './a.car')
const b = await openStore({ path: './store-b' })
const report = await importFromFile(b, './a.car')
console.log(JSON.stringify({ resolved: import.meta.resolve('cairndb'), a: await read(a), b: await read(b), bytes, events: report.events, same: a.heads.join() === b.heads.join() }))
await a.close()
await b.close()
`,
    )
    const out = JSON.parse(await run(process.execPath, ['user.mjs'], app))
    const events = [
      [1, 'todo.added', { title: 'Buy tea' }],
      [2, 'todo.done', {}],
    ]
    expect(out).toEqual({ resolved: expect.stringMatching(/\/node_modules\/cairndb\/dist\/index\.node\.js$/), a: events, b: events, bytes: expect.any(Number), events: 2, same: true })
    const log = await run(npx, ['--no', '--', 'cairn', 'log', '--json', '--store', 'store-b'], app)
    expect(
      log
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).type),
    ).toEqual(['todo.added', 'todo.done'])
    await run(npx, ['--no', '--', 'cairn', 'verify', '--store', 'store-a'], app)
  })

  test('the exports map: every target exists; cairndb/browser is the build without Node built-ins and runs a memory store', async () => {
    const targets: string[] = []
    const walk = (v: unknown): void => {
      if (typeof v === 'string') targets.push(v)
      else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walk(x)
    }
    walk(pkg.exports)
    walk(pkg.bin)
    targets.push(pkg.main, pkg.types)
    expect(targets).toEqual(expect.arrayContaining(['./dist/index.js', './dist/index.d.ts', './dist/index.node.js', './dist/index.node.d.ts', './dist/cli/main.js']))
    for (const t of targets) expect(existsSync(join(app, 'node_modules/cairndb', t)), t).toBe(true)
    await writeFile(
      join(app, 'browser.mjs'),
      `const browser = await import('cairndb/browser')
const store = await browser.openStore({ memory: true })
await store.append({ stream: 's', type: 't', data: {} })
console.log(JSON.stringify({
  browser: import.meta.resolve('cairndb/browser'), node: import.meta.resolve('cairndb/node'), own: import.meta.resolve('cairndb/package.json'),
  exportToFile: typeof browser.exportToFile, heads: store.heads.length,
}))
await store.close()
`,
    )
    const out = JSON.parse(await run(process.execPath, ['browser.mjs'], app))
    expect(out).toEqual({
      browser: expect.stringMatching(/\/node_modules\/cairndb\/dist\/index\.js$/),
      node: expect.stringMatching(/\/node_modules\/cairndb\/dist\/index\.node\.js$/),
      own: expect.stringMatching(/\/node_modules\/cairndb\/package\.json$/),
      exportToFile: 'undefined',
      heads: 1,
    })
  })

  // Deno reads the project's package.json and node_modules (`--node-modules-dir=manual`); a fresh
  // DENO_DIR and `--cached-only` prove nothing came from a registry or an older cache.
  const denoFlags = ['--node-modules-dir=manual', '--cached-only']
  const denoEnv = (): NodeJS.ProcessEnv => ({ DENO_DIR: join(scratch, 'deno-dir') })

  test('Deno: npm:cairndb from the installed node_modules, a files store and a CAR round trip', async () => {
    await writeFile(
      join(app, 'deno.ts'),
      `import { exportToFile, importFromFile, openStore } from 'npm:cairndb'
const store = await openStore({ path: './deno-store' })
await store.append({ stream: 'notes', type: 'note.added', data: { text: 'written in Deno' } })
await exportToFile(store, './deno.car')
const copy = await openStore({ memory: true })
const report = await importFromFile(copy, './deno.car')
const texts: string[] = []
for await (const e of copy.read('notes')) texts.push((e.data as { text: string }).text)
console.log(JSON.stringify({ resolved: import.meta.resolve('npm:cairndb'), texts, events: report.events }))
await copy.close()
await store.close()
`,
    )
    const out = JSON.parse(await run(deno, ['run', ...denoFlags, '--allow-read', '--allow-write', 'deno.ts'], app, denoEnv()))
    expect(out).toEqual({ resolved: expect.stringMatching(/\/node_modules\/cairndb\/dist\/index\.node\.js$/), texts: ['written in Deno'], events: 1 })
  })

  test('Deno: deno run -A npm:cairndb/cairn runs the bin', async () => {
    const help = await run(deno, ['run', ...denoFlags, '-A', 'npm:cairndb/cairn', '--help'], app, denoEnv())
    expect(help).toMatch(/^Usage: cairn /)
    expect(help).toContain('  sync [options] <url>')
    expect((await run(deno, ['run', ...denoFlags, '-A', 'npm:cairndb/cairn', '--version'], app, denoEnv())).trim()).toBe(pkg.version)
  })
})
