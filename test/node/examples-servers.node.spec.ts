// Node only: the server examples as real child processes — examples/node-server (tsx),
// examples/deno-server (deno) and examples/worker (bundled by Vite, run by workerd) — each on a
// free 127.0.0.1 port, synced both ways by `sync` clients: one client pushes, another pushes
// and pulls the first one's events, the first pulls the second's; all heads equal. The files
// store keeps its heads across a restart; --allow / CAIRN_ALLOW serves only the dids listed;
// --cors and CAIRN_AUDIENCE reach the handler.
// The examples import `cairndb`, i.e. dist/: run `npm run build` first (npm test does).
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { openStore } from '../../src/index.node.ts'
import { createIdentity } from '../../src/identity/create.ts'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { sync } from '../../src/transports/http/client.ts'
import type { CairnStore } from '../../src/store/store.ts'
import { onLines } from '../support/child-lines.node.ts'
import { collect } from '../support/stores.ts'
import { removeDir, tempDir } from '../support/tmp.server.ts'

const BIN = 'node_modules/.bin'
/** The line both servers print once they listen. */
const LISTENING = /^cairn sync server on (http:\/\/127\.0\.0\.1:\d+\/cairn) \((\w+) store, (\d+) head\(s\), (.+)\)$/

type Server = { url: string; engine: string; heads: number; auth: string; startupMs: number; child: ChildProcess; output: () => string }

const children = new Set<ChildProcess>()
const dirs: string[] = []
/** Startup times, printed at the end. */
const startups: string[] = []

async function stop(child: ChildProcess): Promise<void> {
  children.delete(child)
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

afterEach(async () => {
  for (const child of [...children]) await stop(child)
})
afterAll(async () => {
  for (const dir of dirs.splice(0)) await removeDir(dir)
  console.log(`example servers, spawn to first answer: ${startups.join(', ')}`)
})

beforeAll(() => {
  if (!existsSync('dist/index.node.js') || !existsSync('dist/index.js')) throw new Error('the examples import cairndb from dist/: run `npm run build` first')
})

function spawnChild(command: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } })
  children.add(child)
  let output = ''
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString()
  })
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString()
  })
  return { child, output: () => output }
}

/** Starts the Node or Deno example and resolves once it prints where it listens. */
function startServer(kind: 'node' | 'deno', args: string[], env: Record<string, string> = {}): Promise<Server> {
  const started = performance.now()
  const { child, output } =
    kind === 'node'
      ? spawnChild(process.execPath, ['--import', 'tsx', 'examples/node-server/server.ts', ...args], env)
      : spawnChild(`${BIN}/deno`, ['run', '--allow-net', '--allow-env', '--allow-read', '--allow-write', 'examples/deno-server/server.ts', ...args], env)
  return new Promise((resolve, reject) => {
    onLines(child.stdout!, (line) => {
      const m = LISTENING.exec(line.trim())
      if (m === null) return
      const startupMs = Math.round(performance.now() - started)
      startups.push(`${kind} ${startupMs} ms`)
      resolve({ url: m[1]!, engine: m[2]!, heads: Number(m[3]), auth: m[4]!, startupMs, child, output })
    })
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code} before listening:\n${output()}`)))
    child.once('error', reject)
  })
}

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** Bundles examples/worker once (Vite), as `npm run example:worker` does. */
let bundled: Promise<void> | undefined
function bundleWorker(): Promise<void> {
  bundled ??= new Promise<void>((resolve, reject) => {
    const { child, output } = spawnChild(`${BIN}/vite`, ['build', '--config', 'examples/worker/vite.config.ts'])
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`vite build of the worker failed (${code}):\n${output()}`))))
  })
  return bundled
}

/** Starts workerd on examples/worker/config.capnp on a free port and resolves once it answers. */
async function startWorker(env: Record<string, string> = {}): Promise<Server> {
  await bundleWorker()
  const port = await freePort()
  const started = performance.now()
  const { child, output } = spawnChild(`${BIN}/workerd`, ['serve', 'examples/worker/config.capnp', '--socket-addr', `http=127.0.0.1:${port}`], env)
  const url = `http://127.0.0.1:${port}/cairn`
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode}:\n${output()}`)
    if (performance.now() - started > 30_000) throw new Error(`workerd did not answer within 30 s:\n${output()}`)
    try {
      const answer = await fetch(`${url}/heads`)
      await answer.body?.cancel()
      if (answer.status === 200 || answer.status === 401) break
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const startupMs = Math.round(performance.now() - started)
  startups.push(`workerd ${startupMs} ms (bundled before)`)
  return { url, engine: 'memory', heads: 0, auth: 'n/a', startupMs, child, output }
}

async function remoteHeads(url: string, init?: RequestInit): Promise<string[]> {
  const answer = await fetch(`${url}/heads`, init)
  expect(answer.status).toBe(200)
  return ((await answer.json()) as { heads: string[] }).heads
}

const texts = async (store: CairnStore, stream: string): Promise<string[]> => (await collect(store.read(stream))).map((e) => (e.data as { text: string }).text)

/**
 * Two clients meet through the server at `url`: `a` pushes 3 events; `b` pushes 2 and pulls
 * a's 3; `a` pulls b's 2. Ends with both clients' heads equal to the server's; returns them.
 */
async function roundTrip(url: string, label: string, options: Parameters<typeof sync>[2] = {}): Promise<{ a: CairnStore; b: CairnStore; heads: string[] }> {
  const a = await openStore({ memory: true })
  const b = await openStore({ memory: true })
  for (let i = 0; i < 3; i++) await a.append({ stream: `${label}-a`, type: 'note.added', data: { text: `a${i}` } })
  for (let i = 0; i < 2; i++) await b.append({ stream: `${label}-b`, type: 'note.added', data: { text: `b${i}` } })

  const first = await sync(a, url, options)
  expect(first.pushed.events).toBe(3)
  const second = await sync(b, url, options)
  expect(second.pushed.events).toBe(2)
  expect(second.pulled.events).toBeGreaterThanOrEqual(3)
  const third = await sync(a, url, options)
  expect(third.pulled.events).toBe(2)
  expect(third.pushed.events).toBe(0)

  expect(await texts(b, `${label}-a`)).toEqual(['a0', 'a1', 'a2'])
  expect(await texts(a, `${label}-b`)).toEqual(['b0', 'b1'])
  expect(a.heads.map(String)).toEqual(b.heads.map(String))
  const again = await sync(b, url, options)
  expect(again.pulled.events + again.pushed.events).toBe(0)
  return { a, b, heads: a.heads.map(String) }
}

describe('examples/node-server', () => {
  test('a files store on 127.0.0.1: two clients sync both ways through it, and it keeps its heads across a restart', async () => {
    const dir = await tempDir('cairn-example-node-')
    dirs.push(dir)
    const server = await startServer('node', ['--path', dir, '--port', '0'])
    expect(server).toMatchObject({ engine: 'files', heads: 0, auth: 'no auth' })
    const { a, b, heads } = await roundTrip(server.url, 'node')
    expect(await remoteHeads(server.url)).toEqual(heads)
    await stop(server.child)

    // Port and path from the environment this time; the files store reopens with the same heads.
    const again = await startServer('node', [], { CAIRN_PATH: dir, CAIRN_PORT: '0' })
    expect(again).toMatchObject({ engine: 'files', heads: heads.length })
    expect(await remoteHeads(again.url)).toEqual(heads)
    const fresh = await openStore({ memory: true })
    expect((await sync(fresh, again.url)).pulled.events).toBe(5)
    expect(fresh.heads.map(String)).toEqual(heads)
    for (const s of [a, b, fresh]) await s.close()
  })

  test('--allow serves only requests signed by the dids listed; --cors answers preflights from the origins listed', async () => {
    const [admitted, stranger] = await Promise.all([createIdentity(), createIdentity()])
    const app = 'https://app.example.org'
    const server = await startServer('node', ['--port', '0', '--allow', admitted.did, '--cors', app])
    expect(server).toMatchObject({ engine: 'memory', auth: 'signed requests only' })
    for (const [origin, status] of [
      [app, 204],
      ['https://elsewhere.example.org', 403],
    ] as const) {
      const pre = await fetch(`${server.url}/pull`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } })
      expect(pre.status).toBe(status)
      expect(pre.headers.get('access-control-allow-origin')).toBe(status === 204 ? app : null)
    }
    const { a, b } = await roundTrip(server.url, 'signed', { signer: admitted })
    for (const signer of [undefined, stranger]) {
      const outsider = await openStore({ memory: true })
      await outsider.append({ stream: 'outsider', type: 'note.added', data: { text: 'let me in' } })
      const refused = await sync(outsider, server.url, signer === undefined ? {} : { signer }).then(
        () => undefined,
        (err: unknown) => err,
      )
      expect(isCairnError(refused) && refused.code).toBe('CAIRN_UNAUTHORIZED')
      expect((await fetch(`${server.url}/heads`)).status).toBe(401)
      await outsider.close()
    }
    // Nothing the outsiders sent got in.
    const check = await sync(a, server.url, { signer: admitted })
    expect(check.pulled.events).toBe(0)
    for (const s of [a, b]) await s.close()
  })

  test('CAIRN_AUDIENCE: a request signed for the address it was sent to is refused when clients must name another origin', async () => {
    const me = await createIdentity()
    const server = await startServer('node', ['--port', '0'], { CAIRN_ALLOW: me.did, CAIRN_AUDIENCE: 'https://sync.example.org' })
    const client = await openStore({ memory: true })
    await client.append({ stream: 'audience', type: 'note.added', data: { text: 'hello' } })
    const refused = await sync(client, server.url, { signer: me }).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(isCairnError(refused) && refused.code).toBe('CAIRN_UNAUTHORIZED')
    await client.close()
  })

  test('a bad flag stops it with the usage and exit code 2', async () => {
    const { child, output } = spawnChild(process.execPath, ['--import', 'tsx', 'examples/node-server/server.ts', '--port', 'http'])
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code).toBe(2)
    expect(output()).toMatch(/--port expected 0 to 65535.*\nusage: server/s)
  })

  test('an --allow that is not a did:key stops it (exit 2) instead of serving a store nobody can reach', async () => {
    const { child, output } = spawnChild(process.execPath, ['--import', 'tsx', 'examples/node-server/server.ts', '--port', '0'], { CAIRN_ALLOW: 'did:key:z6Mk-not-a-key' })
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code).toBe(2)
    expect(output()).toMatch(/--allow expected a did:key, got "did:key:z6Mk-not-a-key".*\nusage: server/s)
  })
})

describe('examples/deno-server', () => {
  test('Deno.serve with a files store: two clients sync both ways through it', async () => {
    const dir = await tempDir('cairn-example-deno-')
    dirs.push(dir)
    const server = await startServer('deno', ['--path', dir, '--port=0'])
    expect(server).toMatchObject({ engine: 'files', heads: 0, auth: 'no auth' })
    const { a, b, heads } = await roundTrip(server.url, 'deno')
    expect(await remoteHeads(server.url)).toEqual(heads)
    for (const s of [a, b]) await s.close()
  })
})

describe('examples/worker', () => {
  test('the handler and a memory store inside workerd: two clients sync both ways through it', async () => {
    const server = await startWorker()
    const { a, b, heads } = await roundTrip(server.url, 'edge')
    expect(await remoteHeads(server.url)).toEqual(heads)
    // The store lives as long as the isolate: a fresh client pulls everything.
    const fresh = await openStore({ memory: true })
    expect((await sync(fresh, server.url, { gzip: false })).pulled.events).toBe(5)
    expect(fresh.heads.map(String)).toEqual(heads)
    for (const s of [a, b, fresh]) await s.close()
  })

  test('CAIRN_ALLOW: signed requests checked inside workerd (Ed25519 on its WebCrypto)', async () => {
    const [admitted, stranger] = await Promise.all([createIdentity(), createIdentity()])
    const server = await startWorker({ CAIRN_ALLOW: admitted.did })
    const { a, b } = await roundTrip(server.url, 'edge-signed', { signer: admitted })
    const outsider = await openStore({ memory: true })
    await outsider.append({ stream: 'outsider', type: 'note.added', data: { text: 'let me in' } })
    for (const options of [{}, { signer: stranger }]) {
      const refused = await sync(outsider, server.url, options).then(
        () => undefined,
        (err: unknown) => err,
      )
      expect(isCairnError(refused) && refused.code).toBe('CAIRN_UNAUTHORIZED')
    }
    expect((await sync(a, server.url, { signer: admitted })).pulled.events).toBe(0)
    for (const s of [a, b, outsider]) await s.close()
  })
})
