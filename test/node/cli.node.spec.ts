// The `cairn` command line, run as users run it: `node dist/cli/main.js` in child processes on
// real temporary folders (run `npm run build` first). Exit codes, stdin/stdout paths, the
// progress bar in a pseudo-terminal (util-linux `script`), Ctrl-C, and a Deno smoke run.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { CarReader } from '@ipld/car/reader'
import { exportToFile, openStore } from '../../src/index.node.ts'
import { onLines } from '../support/child-lines.node.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const MAIN = join(ROOT, 'dist/cli/main.js')
const DENO = join(ROOT, 'node_modules/.bin/deno')
const fresh = freshDirs('cairn-cli-')

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  bytes: Buffer
}

interface RunOptions {
  cwd?: string
  /** Bytes for stdin; without it stdin is empty (not a terminal). */
  input?: string | Uint8Array
  runtime?: 'node' | 'deno'
}

/** Runs the CLI to its end. */
function cairn(args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return options.runtime === 'deno' ? run(DENO, ['run', '-A', MAIN, ...args], options) : run(process.execPath, [MAIN, ...args], options)
}

/** Runs a command to its end, collecting its output. */
function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<Run> {
  const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  const err: Buffer[] = []
  child.stdout.on('data', (d: Buffer) => out.push(d))
  child.stderr.on('data', (d: Buffer) => err.push(d))
  child.stdin.end(options.input ?? '')
  return new Promise((resolvePromise, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      const bytes = Buffer.concat(out)
      resolvePromise({ code, signal, stdout: bytes.toString(), stderr: Buffer.concat(err).toString(), bytes })
    })
  })
}

/** Runs the CLI and expects exit 0; returns stdout. */
async function ok(args: readonly string[], options: RunOptions = {}): Promise<string> {
  const run = await cairn(args, options)
  if (run.code !== 0) throw new Error(`cairn ${args.join(' ')} exited ${run.code}: ${run.stderr}`)
  return run.stdout
}

const lines = (text: string): unknown[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l))

/** Writes a CAR of `events` events (about 400 bytes each) made with the API, for the long-operation tests. */
async function bigCar(dir: string, events: number): Promise<string> {
  const store = await openStore({ memory: true })
  for (let i = 0; i < events; i += 1000) {
    await store.appendMany(Array.from({ length: Math.min(1000, events - i) }, (_, j) => ({ stream: `s${(i + j) % 7}`, type: 't', data: { i: i + j, text: 'x'.repeat(300) } })))
  }
  const file = join(dir, 'big.car')
  await exportToFile(store, file)
  await store.close()
  return file
}

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error('dist/cli/main.js is missing: run `npm run build` first')
})

describe('cairn: help', () => {
  const commands = ['init', 'append', 'log', 'state', 'get', 'put', 'put-file', 'cat', 'export', 'import', 'verify', 'stats', 'serve', 'sync', 'identity']

  test('cairn --help lists every command and the exit code table', async () => {
    const help = await ok(['--help'])
    for (const c of commands) expect(help).toMatch(new RegExp(`^  ${c} `, 'm'))
    for (const line of ['  2  usage', '  3  not found', '  4  invalid input', '  5  conflict', '  6  denied', '  7  storage', '130  interrupted']) expect(help).toContain(line)
    expect(help).toContain('CAIRN_VERSION_CONFLICT')
  })

  test('each command has --help with an example', async () => {
    const runs = await Promise.all([...commands, 'identity new', 'identity show'].map((c) => cairn([...c.split(' '), '--help'])))
    runs.forEach((run, i) => {
      expect(run.code, commands[i]).toBe(0)
      expect(run.stdout).toMatch(/Usage: cairn /)
      expect(run.stdout).toMatch(/Examples?:\n {2}\$ cairn /)
    })
  })
})

describe('cairn: round trip', () => {
  test('init → append → export → import into another folder → verify → identical log --json', async () => {
    const dir = await fresh()
    const a = join(dir, 'a')
    const b = join(dir, 'b')
    expect(await ok(['init', a])).toContain('Created a Cairn store')
    const first = JSON.parse(await ok(['append', '--store', a, '--stream', 'todo', '--type', 'added', '--json', '{"title": "milk"}'])) as { cid: string; version: number }
    expect(first.version).toBe(1)
    // NDJSON on stdin, both forms: data values with --stream/--type, and whole events.
    await ok(['append', '--store', a, '--stream', 'todo', '--type', 'added'], { input: '{"title": "eggs"}\n\n{"title": "bread"}\n' })
    await ok(['append', '--store', a], { input: '{"stream": "profile", "type": "set", "data": {"name": "Ada"}, "meta": {"id": "p1"}}\n{"stream": "profile", "type": "set", "data": {"city": "Oslo"}}' })
    const value = (await ok(['put', '--store', a, `{"title": "Notes", "first": {"/": "${first.cid}"}}`])).trim()
    const file = join(dir, 'photo.bin')
    await writeFile(
      file,
      new Uint8Array(600_000).map((_, i) => (i * 7) % 251),
    )
    const fileCid = (await ok(['put-file', '--store', a, file])).trim()

    const car = join(dir, 'a.car')
    const exported = JSON.parse(await ok(['export', car, '--store', a, '--json'])) as { bytes: number; heads: string[] }
    expect(exported.bytes).toBeGreaterThan(600_000)

    await ok(['init', b])
    const report = JSON.parse(await ok(['import', car, '--store', b, '--json'])) as { events: number; heads: string[] }
    expect(report.events).toBe(7) // 5 events, 2 object records
    expect(report.heads).toEqual(exported.heads)
    const verified = JSON.parse(await ok(['verify', '--store', b, '--json'])) as { blocks: number; dangling: unknown[] }
    expect(verified.blocks).toBeGreaterThan(7)
    expect(verified.dangling).toEqual([])

    const logA = await ok(['log', '--store', a, '--json'])
    expect(lines(logA)).toHaveLength(5)
    expect(await ok(['log', '--store', b, '--json'])).toBe(logA)
    expect(await ok(['log', '--store', b, '--prefix', '$', '--json'])).toBe(await ok(['log', '--store', a, '--prefix', '$', '--json']))
    expect(JSON.parse(await ok(['get', value, '--store', b, '--json']))).toEqual({ title: 'Notes', first: { '/': first.cid } })
    expect((await cairn(['cat', fileCid, '--store', b])).bytes.equals(await readFile(file))).toBe(true)
    expect(JSON.parse(await ok(['state', '--stream', 'profile', '--store', b, '--json']))).toEqual({ name: 'Ada', city: 'Oslo' })
    expect(JSON.parse(await ok(['state', '--stream', 'todo', '--reducer', 'count', '--store', b, '--json']))).toBe(3)
    const statsA = JSON.parse(await ok(['stats', '--store', a, '--json'])) as Record<string, unknown>
    const statsB = JSON.parse(await ok(['stats', '--store', b, '--json'])) as Record<string, unknown>
    expect(statsB['events']).toBe(7)
    expect({ ...statsB, index: undefined }).toEqual({ ...statsA, index: undefined })
  }, 180_000)

  test('log filters: --stream, --type, --limit, --reverse, --after, --as-of', async () => {
    const dir = await fresh()
    await ok(['init', dir])
    await ok(['append', '--store', dir], { input: [1, 2, 3, 4].map((i) => JSON.stringify({ stream: i % 2 === 0 ? 'even' : 'odd', type: `t${i}`, data: i })).join('\n') })
    const all = lines(await ok(['log', '--store', dir, '--json'])) as { cid: string; data: number }[]
    expect(all.map((e) => e.data)).toEqual([1, 2, 3, 4])
    const data = async (...args: string[]): Promise<number[]> => (lines(await ok(['log', '--store', dir, '--json', ...args])) as { data: number }[]).map((e) => e.data)
    expect(await data('--stream', 'even')).toEqual([2, 4])
    expect(await data('--type', 't3')).toEqual([3])
    expect(await data('--reverse', '--limit', '2')).toEqual([4, 3])
    expect(await data('--after', all[1]!.cid)).toEqual([3, 4])
    expect(await data('--stream', 'even', '--as-of', all[2]!.cid)).toEqual([2])
    const usage = await cairn(['log', '--store', dir, '--as-of', all[2]!.cid])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('--stream')
  }, 120_000)

  test('export to stdout and import from stdin', async () => {
    const dir = await fresh()
    const a = join(dir, 'a')
    const c = join(dir, 'c')
    await ok(['init', a])
    await ok(['init', c])
    await ok(['append', '--store', a, '--stream', 's', '--type', 't'], { input: '1\n2\n3\n' })
    // put and put-file read stdin without an argument, and give the CIDs the argument forms give.
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 13) % 256)
    await writeFile(join(dir, 'f.bin'), bytes)
    const fromStdin = (await ok(['put-file', '--store', a], { input: bytes })).trim()
    expect(fromStdin).toBe((await ok(['put-file', join(dir, 'f.bin'), '--store', a])).trim())
    expect((await cairn(['cat', fromStdin, '--store', a])).bytes.equals(bytes)).toBe(true)
    expect((await ok(['put', '--store', a], { input: '{"a": [1, 2]}' })).trim()).toBe((await ok(['put', '{"a":[1,2]}', '--store', a])).trim())
    const car = await cairn(['export', '--store', a])
    expect(car.code).toBe(0)
    expect(car.stderr).toBe('')
    expect(car.bytes.length).toBeGreaterThan(100)
    const report = JSON.parse(await ok(['import', '--store', c, '--json'], { input: car.bytes })) as { events: number }
    expect(report.events).toBe(5) // 3 events, 2 object records
    expect(await ok(['log', '--store', c, '--json'])).toBe(await ok(['log', '--store', a, '--json']))

    // An incremental export: what c lacks, from the heads `stats --json` gives.
    await ok(['append', '--store', a, '--stream', 's', '--type', 't', '4'])
    const { heads } = JSON.parse(await ok(['stats', '--store', c, '--json'])) as { heads: string[] }
    const delta = await cairn(['export', '--since', heads.join(','), '--store', a])
    expect(delta.bytes.length).toBeLessThan(car.bytes.length)
    expect((JSON.parse(await ok(['import', '--store', c, '--json'], { input: delta.bytes })) as { events: number }).events).toBe(1)
    expect(await ok(['log', '--store', c, '--json'])).toBe(await ok(['log', '--store', a, '--json']))
  }, 120_000)
})

describe('cairn: export --root', () => {
  test('writes one file’s DAG with that file as the CAR’s only root', async () => {
    const dir = await fresh()
    await ok(['init', dir])
    await ok(['append', '--store', dir, '--stream', 's', '--type', 't', '1'])
    const file = join(dir, 'data.bin')
    await writeFile(
      file,
      new Uint8Array(700_000).map((_, i) => i % 253),
    )
    const cid = (await ok(['put-file', file, '--store', dir])).trim()
    const car = await cairn(['export', '--root', cid, '--store', dir])
    expect(car.code).toBe(0)
    const reader = await CarReader.fromBytes(new Uint8Array(car.bytes))
    expect((await reader.getRoots()).map(String)).toEqual([cid])
    const blocks: string[] = []
    for await (const block of reader.blocks()) blocks.push(block.cid.toString())
    expect(blocks).toContain(cid)
    expect(blocks.every((b) => !b.startsWith('bafyrei'))).toBe(true) // no events: file blocks only
    expect((await cairn(['export', '--root', cid, '--since', cid, '--store', dir])).code).toBe(2)
  }, 120_000)
})

describe('cairn: errors and exit codes', () => {
  test('each error kind has its exit code and prints its code and the CID or path', async () => {
    const dir = await fresh()
    await ok(['init', dir])
    const event = JSON.parse(await ok(['append', '--store', dir, '--stream', 's', '--type', 't', '--json', '{"n": 1}'])) as { cid: string }
    const before = await ok(['log', '--store', dir, '--json'])

    const badJson = await cairn(['append', '--store', dir, '--stream', 's', '--type', 't', '{"n": '])
    expect(badJson.code).toBe(4)
    expect(badJson.stderr).toMatch(/^cairn: CAIRN_INVALID_VALUE: the JSON argument is not JSON/)
    const badLine = await cairn(['append', '--store', dir, '--stream', 's', '--type', 't'], { input: '{"n": 2}\nnope\n' })
    expect(badLine.code).toBe(4)
    expect(badLine.stderr).toContain('stdin line 2')

    const unknown = 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'
    const notFound = await cairn(['get', unknown, '--store', dir])
    expect(notFound.code).toBe(3)
    expect(notFound.stderr).toBe(`cairn: CAIRN_NOT_FOUND: no block ${unknown} in this store\n`)
    const notFoundJson = await cairn(['get', unknown, '--store', dir, '--json'])
    expect(JSON.parse(notFoundJson.stderr)).toEqual({ error: { code: 'CAIRN_NOT_FOUND', message: `no block ${unknown} in this store`, exit: 3, cid: unknown } })

    const car = join(dir, '..', `${event.cid.slice(-8)}.car`)
    await ok(['export', car, '--store', dir])
    const bytes = await readFile(car)
    const truncated = join(dir, '..', 'truncated.car')
    await writeFile(truncated, bytes.subarray(0, bytes.length - 5))
    const corrupt = await cairn(['import', truncated, '--store', dir])
    expect(corrupt.code).toBe(4)
    expect(corrupt.stderr).toMatch(/^cairn: CAIRN_INVALID_CAR: /)
    const flipped = Buffer.from(bytes)
    flipped[flipped.length - 3]! ^= 0xff
    await writeFile(truncated, flipped)
    const integrity = await cairn(['import', truncated, '--store', dir])
    expect(integrity.code).toBe(4)
    expect(integrity.stderr).toContain(event.cid)

    const conflict = await cairn(['append', '--store', dir, '--stream', 's', '--type', 't', '--expected-version', '0', '{}'])
    expect(conflict.code).toBe(5)
    expect(conflict.stderr).toMatch(/^cairn: CAIRN_VERSION_CONFLICT: .*version 1, expected 0/)

    const missingFile = await cairn(['import', join(dir, 'nope.car'), '--store', dir])
    expect(missingFile.code).toBe(3)
    expect(missingFile.stderr).toContain(join(dir, 'nope.car'))
    const noStore = await cairn(['log', '--store', join(dir, 'nowhere')])
    expect(noStore.code).toBe(3)
    expect(noStore.stderr).toContain(`no Cairn store in ${join(dir, 'nowhere')}`)
    expect((await cairn(['log', '--store', dir, '--bogus'])).code).toBe(2)
    expect((await cairn(['frobnicate'])).code).toBe(2)
    const badCid = await cairn(['get', 'not-a-cid', '--store', dir])
    expect(badCid.code).toBe(2)
    expect(badCid.stderr).toContain('"not-a-cid" is not a CID')

    // Nothing above changed the store.
    expect(await ok(['log', '--store', dir, '--json'])).toBe(before)
  }, 180_000)
})

describe('cairn: serve, sync and identities', () => {
  test('serve on 127.0.0.1 locks the folder; sync with a signed identity converges; Ctrl-C stops it', async () => {
    const dir = await fresh()
    const server = join(dir, 'server')
    const client = join(dir, 'client')
    const key = join(dir, 'me.key')
    await ok(['init', server])
    await ok(['init', client])
    await ok(['append', '--store', server, '--stream', 'srv', '--type', 't', '"from the server"'])
    const made = JSON.parse(await ok(['identity', 'new', key, '--json'])) as { did: string }
    expect(made.did).toMatch(/^did:key:z6Mk/)
    expect((await ok(['identity', 'show', key])).trim()).toBe(made.did)
    expect((await cairn(['identity', 'new', key])).code).toBe(2) // never overwritten without --force
    const other = await cairn(['identity', 'new', join(dir, 'other.key')])
    expect(other.code).toBe(0)
    expect(other.stdout).toMatch(/^did:key:z6Mk\w+\n$/) // the did alone: `DID=$(cairn identity new)`
    expect(other.stderr).toContain('keep it private')
    const badAllow = await cairn(['serve', '--store', server, '--port', '0', '--allow', `${made.did}\n(written)`])
    expect(badAllow.code).toBe(2)
    expect(badAllow.stderr).toContain('--allow expected a did:key')
    const signed = JSON.parse(await ok(['append', '--store', client, '--identity', key, '--stream', 'cli', '--type', 't', '--json', '"from the client"'])) as { author: string }
    expect(signed.author).toBe(made.did)

    const child = spawn(process.execPath, [MAIN, 'serve', '--store', server, '--port', '0', '--allow', made.did, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)))
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        onLines(child.stdout, (line) => resolveUrl((JSON.parse(line) as { url: string }).url))
        void exited.then(() => reject(new Error(`serve exited early: ${stderr}`)))
      })
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/cairn$/)

      const locked = await cairn(['log', '--store', server])
      expect(locked.code).toBe(5)
      expect(locked.stderr).toContain('CAIRN_LOCKED')

      const unsigned = await cairn(['sync', url, '--store', client])
      expect(unsigned.code).toBe(6)
      expect(unsigned.stderr).toContain('CAIRN_UNAUTHORIZED')

      const report = JSON.parse(await ok(['sync', url, '--store', client, '--identity', key, '--json'])) as { pulled: { events: number }; pushed: { events: number } }
      expect(report.pulled.events).toBe(1)
      expect(report.pushed.events).toBe(1)
    } finally {
      child.kill('SIGINT')
    }
    expect(await exited).toBe(0)
    expect(await ok(['log', '--store', server, '--json'])).toBe(await ok(['log', '--store', client, '--json']))

    const unreachable = await cairn(['sync', 'http://127.0.0.1:9/cairn', '--store', client])
    expect(unreachable.code).toBe(8)
    expect(unreachable.stderr).toContain('CAIRN_SYNC')
  }, 180_000)
})

describe('cairn: progress and Ctrl-C', () => {
  test('a large import draws a progress bar in a pseudo-terminal, and none without one', async () => {
    const dir = await fresh()
    const car = await bigCar(dir, 6000)
    const tty = join(dir, 'tty')
    const plain = join(dir, 'plain')
    await ok(['init', tty])
    await ok(['init', plain])
    // util-linux `script` runs the command on a pseudo-terminal and copies what it writes.
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} import ${JSON.stringify(car)} --store ${JSON.stringify(tty)}`
    const seen = await new Promise<string>((resolveSeen, reject) => {
      const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString()
      })
      child.once('error', reject)
      child.once('close', (code) => (code === 0 ? resolveSeen(out) : reject(new Error(`script exited ${code}: ${out}`))))
      child.stdin.end()
    })
    const frames = seen.split('\r').filter((f) => f.startsWith('import  '))
    expect(frames.length).toBeGreaterThanOrEqual(2) // the first frame, then updates over the same line
    expect(frames[0]).toMatch(/^import {2}\[-+\] {3}0%/)
    const last = frames.at(-1)!
    expect(last).toMatch(/\[#{24}\] 100%/)
    expect(last).toMatch(/ \/ \d+\.\d MiB/)
    expect(last).toContain('6,000 blocks')
    expect(last).toMatch(/\/s /)
    expect(seen).toContain('Imported 6,000 events')

    const quiet = await cairn(['import', car, '--store', plain])
    expect(quiet.code).toBe(0)
    expect(quiet.stderr).toBe('')
    expect(quiet.stdout).toMatch(/^Imported 6,000 events/)
  }, 180_000)

  test('Ctrl-C during an import exits 130 and imports nothing', async () => {
    const dir = await fresh()
    const car = await readFile(await bigCar(dir, 3000))
    const store = join(dir, 'store')
    await ok(['init', store])
    const child = spawn(process.execPath, [MAIN, 'import', '--store', store], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)))
    child.stdin.on('error', () => {})
    // Half the CAR, then Ctrl-C while the import waits for the rest (which never comes). The write
    // completes once the child has read all but a pipe's worth of it, so by then the import runs and
    // Ctrl-C is handled. (A fixed wait could end before the child had set up its handler: on a
    // loaded machine the signal then killed it outright, exit code null.)
    const half = car.subarray(0, car.length >> 1)
    expect(half.length).toBeGreaterThan(4 * 65_536) // far more than a pipe holds
    await new Promise<void>((resolve, reject) => child.stdin.write(half, (err) => (err ? reject(err) : resolve())))
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    expect(stderr).toContain('interrupted')
    child.stdin.destroy()
    expect(await ok(['log', '--store', store])).toBe('')
  }, 120_000)
})

describe('cairn under Deno', () => {
  test('deno run -A dist/cli/main.js: init, append, log', async () => {
    const dir = await fresh()
    await ok(['init', dir], { runtime: 'deno' })
    await ok(['append', '--store', dir, '--stream', 's', '--type', 't', '{"from": "deno"}'], { runtime: 'deno' })
    await ok(['append', '--store', dir, '--stream', 's', '--type', 't'], { runtime: 'deno', input: '{"line": 1}\n{"line": 2}\n' })
    const log = lines(await ok(['log', '--store', dir, '--json'], { runtime: 'deno' })) as { data: unknown }[]
    expect(log.map((e) => e.data)).toEqual([{ from: 'deno' }, { line: 1 }, { line: 2 }])
    // The same folder reads the same from Node.
    expect(await ok(['log', '--store', dir, '--json'])).toBe(await ok(['log', '--store', dir, '--json'], { runtime: 'deno' }))
    const missing = await cairn(['get', 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', '--store', dir], { runtime: 'deno' })
    expect(missing.code).toBe(3)
  }, 120_000)

  test('deno run -A npm:cairndb/cairn runs the bin of an installed cairndb', async () => {
    // A project that installed cairndb (here: linked to this checkout); Deno resolves npm: from its node_modules.
    const project = await fresh()
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'uses-cairn', private: true, dependencies: { cairndb: '*' } }))
    await mkdir(join(project, 'node_modules'))
    await symlink(ROOT, join(project, 'node_modules', 'cairndb'), 'dir')
    const deno = (args: string[]): Promise<Run> => run(DENO, ['run', '-A', 'npm:cairndb/cairn', ...args], { cwd: project })
    const version = await deno(['--version'])
    expect(version.stdout.trim()).toBe(JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version)
    expect((await deno(['init'])).code).toBe(0)
    expect((await deno(['append', '--stream', 's', '--type', 't', '1'])).code).toBe(0)
    expect(lines((await deno(['log', '--json'])).stdout)).toHaveLength(1)
    expect(existsSync(join(project, '.cairn'))).toBe(true)
  }, 120_000)
})
