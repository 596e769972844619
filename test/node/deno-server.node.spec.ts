// Node client ↔ Deno server: the same fetch-API handler served by Deno.serve.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { afterEach, describe, expect, test } from 'vitest'
import { openStore } from '../../src/index.node.ts'
import { sync } from '../../src/transports/http/client.ts'
import { collect } from '../support/stores.ts'

let child: ChildProcess | undefined
afterEach(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child?.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  }
  child = undefined
})

/** Starts the Deno fixture and resolves with its port once it prints `listening <port>`. */
function startDeno(engine: 'files' | 'memory'): Promise<number> {
  const proc = spawn('node_modules/.bin/deno', ['run', '--allow-all', 'test/deno/fixtures/sync-server.ts', engine], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  })
  child = proc
  let stderr = ''
  proc.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! })
    lines.on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line.trim())
      if (m !== null) resolve(Number(m[1]))
    })
    proc.once('exit', (code) => reject(new Error(`deno exited with ${code} before listening:\n${stderr}`)))
    proc.once('error', reject)
  })
}

describe('HTTP sync, Node client ↔ Deno server', () => {
  for (const engine of ['files', 'memory'] as const) {
    test(`a Node store and a Deno.serve store (${engine}) converge`, async () => {
      const port = await startDeno(engine)
      const url = `http://127.0.0.1:${port}/cairn`
      const client = await openStore({ memory: true })
      try {
        await client.append({ stream: 'node-notes', type: 'note.added', data: { text: 'from node 0' } })
        await client.append({ stream: 'node-notes', type: 'note.added', data: { text: 'from node 1' } })

        const report = await sync(client, url)
        expect(report.pulled.events).toBe(3)
        expect(report.pushed.events).toBe(2)
        const remote = (await (await fetch(`${url}/heads`)).json()) as { heads: string[] }
        expect(remote.heads).toEqual(client.heads.map(String))
        expect((await collect(client.read('deno-notes'))).map((e) => (e.data as { text: string }).text)).toEqual(['from deno 0', 'from deno 1', 'from deno 2'])

        // The Deno side holds our events: a fresh Node store pulls all five from it.
        const fresh = await openStore({ memory: true })
        const full = await sync(fresh, url, { gzip: false })
        expect(full.pulled.events).toBe(5)
        expect(fresh.heads.map(String)).toEqual(remote.heads)
        expect((await collect(fresh.read('node-notes'))).map((e) => String(e.cid))).toEqual((await collect(client.read('node-notes'))).map((e) => String(e.cid)))
        await fresh.close()

        const again = await sync(client, url)
        expect(again.pulled.events + again.pushed.events).toBe(0)
        expect(again.roundTrips).toBe(1)
      } finally {
        await client.close()
      }
    })
  }
})
