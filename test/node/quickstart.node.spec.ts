// Node only: runs README's quick starts (examples/quickstart/, kept equal to README by
// scripts/check-readme.mjs) for real, each as a child process in a fresh folder, the way a
// user runs them as pasted. Needs `npm run build` (the package resolves to dist/).
import { execFile, spawn } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { chromium } from 'playwright'
import { build, preview } from 'vite'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { chromiumLaunch } from '../../chromium.ts'

const run = promisify(execFile)
const repo = resolve('.')
const quickstart = join(repo, 'examples/quickstart')
const deno = join(repo, 'node_modules/.bin/deno')
const env = { ...process.env, NO_COLOR: '1' }

let scratch: string
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cairn-quickstart-'))
})
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true })
})

/** A fresh folder under the scratch one. */
const folder = async (name: string): Promise<string> => {
  const dir = join(scratch, name)
  await mkdir(dir, { recursive: true })
  return dir
}

/** A port free on 127.0.0.1 right now. */
const freePort = (): Promise<number> =>
  new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => ok(port))
    })
  })

describe('README quick starts, run as pasted', () => {
  test('node.mjs: a files store in ./my-store, kept across runs (package self-reference)', async () => {
    const cwd = await folder('node')
    const first = await run('node', [join(quickstart, 'node.mjs')], { cwd, env })
    expect(first.stdout).toMatch(/^1 todo\.added \{ title: 'Buy tea' \}\n2 todo\.done \{\}\ndone: true; doc bafyrei\w+ has title "Tea receipt"; heads: bafyrei\w+\n$/)
    const second = await run('node', [join(quickstart, 'node.mjs')], { cwd, env })
    expect(second.stdout).toContain('4 todo.done {}')
  })

  test('deno.ts: npm:cairndb from a local install (npm install <clone>), Deno.serve and a sync on 127.0.0.1', async () => {
    // What `npm install /path/to/clone` leaves in an app folder: a dependency and a link.
    const app = await folder('deno-app')
    await writeFile(join(app, 'package.json'), JSON.stringify({ type: 'module', dependencies: { cairndb: `file:${repo}` } }))
    await mkdir(join(app, 'node_modules'))
    await symlink(repo, join(app, 'node_modules', 'cairndb'), 'dir')
    await cp(join(quickstart, 'deno.ts'), join(app, 'deno.ts'))
    const flags = ['run', '--allow-read', '--allow-write', '--allow-net', 'deno.ts']
    const out = await run(deno, flags, { cwd: app, env })
    expect(out.stdout).toContain('1 note.added { text: "written in Deno" }')
    expect(out.stdout).toContain('a memory store pulled 1 events over HTTP; same heads: true')
    // Without --allow-net, Deno refuses Deno.serve: the README says to pass it.
    await expect(run(deno, ['run', '--allow-read', '--allow-write', 'deno.ts'], { cwd: app, env })).rejects.toThrow(/net/)
  })

  test('http-server.mjs + http-client.mjs: signed sync on 127.0.0.1, unknown devices refused', async () => {
    const device = await folder('http-device')
    const stranger = await folder('http-stranger')
    const server = await folder('http-server')
    const did = (await run('node', [join(quickstart, 'http-client.mjs'), 'did'], { cwd: device, env })).stdout.trim()
    expect(did).toMatch(/^did:key:z6Mk\w+$/)
    const port = await freePort()
    const proc = spawn('node', [join(quickstart, 'http-server.mjs')], { cwd: server, env: { ...env, PORT: String(port), CAIRN_PEERS: did }, stdio: ['ignore', 'pipe', 'pipe'] })
    const exited = new Promise<number | null>((ok) => proc.once('exit', ok))
    try {
      let stderr = ''
      proc.stderr.on('data', (d: Buffer) => {
        stderr += d.toString()
      })
      await new Promise<void>((ok, fail) => {
        createInterface({ input: proc.stdout }).on('line', (line) => {
          if (line === `serving http://127.0.0.1:${port}/cairn to 1 peer(s)`) ok()
        })
        proc.once('exit', (code) => fail(new Error(`the server exited with ${code}: ${stderr}`)))
      })
      const url = `http://127.0.0.1:${port}/cairn`
      const client = { cwd: device, env: { ...env, CAIRN_URL: url } }
      const once = await run('node', [join(quickstart, 'http-client.mjs')], client)
      expect(once.stdout).toMatch(/^pulled 0 and pushed 1 events\n1 hello from did:key:z6Mk/)
      const twice = await run('node', [join(quickstart, 'http-client.mjs')], client)
      expect(twice.stdout).toMatch(/^pulled 0 and pushed 1 events\n1 hello[^\n]*\n2 hello/)
      // Another device (its own key) is not in CAIRN_PEERS; an unsigned request is refused too.
      await expect(run('node', [join(quickstart, 'http-client.mjs')], { cwd: stranger, env: client.env })).rejects.toThrow(/may not read from this store/)
      const unsigned = await fetch(`${url}/heads`)
      expect(unsigned.status).toBe(401)
    } finally {
      proc.kill('SIGTERM')
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000)
      expect(await exited).toBe(0)
      clearTimeout(timer)
    }
  })

  test('browser/index.html: built by Vite, in Chromium, visits kept in IndexedDB across a reload', async () => {
    const outDir = await folder('browser-dist')
    const root = join(quickstart, 'browser')
    await build({ root, logLevel: 'silent', build: { outDir, emptyOutDir: true } })
    const server = await preview({ root, logLevel: 'silent', build: { outDir }, preview: { host: '127.0.0.1', port: await freePort(), strictPort: true } })
    const browser = await chromium.launch(chromiumLaunch)
    try {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(String(e)))
      const url = server.resolvedUrls!.local[0]!
      await page.goto(url)
      await page.waitForFunction(() => document.title === '1 visits, kept in IndexedDB', undefined, { timeout: 10_000 })
      await page.reload()
      await page.waitForFunction(() => document.title === '2 visits, kept in IndexedDB', undefined, { timeout: 10_000 })
      expect(await page.locator('#notes li').allTextContents()).toEqual([`visit 1: ${url}`, `visit 2: ${url}`])
      expect(errors).toEqual([])
    } finally {
      await browser.close()
      await server.close()
    }
  })
})
