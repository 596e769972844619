// Node only: every `@example` in the public typings typechecks, so an example cannot rot when
// the API changes. Reads the built declarations (dist/*.d.ts, from `npm run build`) that the two
// entries re-export, takes each doc comment's `@example` blocks, and compiles each block as a
// module of its own against the built package, the way a user's code sees it: `cairndb`
// resolved through node_modules by its export map, strict mode, with the repository's tsc.
//
// An example is a fragment: it names the store, an identity or a CID it does not declare. Each
// module therefore starts with a prelude: every export of the entry (bar those the example
// imports itself), a few Node modules for the Node examples, and a typed `declare` for each free
// name the examples use (FREE below; a new name in an example needs a line there). The block
// itself runs inside an async function, so `await` works and its own `const store` shadows the
// prelude's. Examples of modules only the browser entry exports (openStore's browser doc,
// loadIdentity) compile against `cairndb/browser`, without @types/node; all others against
// `cairndb/node`. The only rewrite: a line starting `export default ` (a worker's module) is
// compiled as a `const`. It fails at once, asking for a build, when a file of src/ is newer than
// the declarations built from it (it checks, rather than builds: other specs read dist/ meanwhile).
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'

const run = promisify(execFile)
const ROOT = process.cwd()
const DIST = join(ROOT, 'dist')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

/**
 * The .ts files under `src` that are newer than the .d.ts built from them under `dist`, or that
 * have none: examples checked against those declarations would be checked against an older API.
 */
function staleSources(src: string, dist: string): string[] {
  const stale: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const dts = join(dist, relative(src, path)).replace(/\.ts$/, '.d.ts')
        if (!existsSync(dts) || statSync(dts).mtimeMs < statSync(path).mtimeMs) stale.push(relative(src, path))
      }
    }
  }
  walk(src)
  return stale.sort()
}

/** One `@example` block: its code, the .d.ts it came from and the line its code starts on there. */
interface Example {
  code: string
  file: string
  line: number
}

/** The .d.ts files an entry re-exports from (`export … from './x.js'`), transitively, the entry first. */
function reexported(entry: string, seen = new Set<string>()): Set<string> {
  if (seen.has(entry)) return seen
  seen.add(entry)
  const text = readFileSync(entry, 'utf8')
  for (const m of text.matchAll(/^export\s+(?:type\s+)?(?:\*|\{[^}]*\})\s+from\s+'(\.[^']+)\.js'/gm)) reexported(join(dirname(entry), `${m[1]}.d.ts`), seen)
  return seen
}

/** The names an entry exports: its own declarations and re-exports, transitively (`export *` included). */
function exportedNames(entry: string): Set<string> {
  const names = new Set<string>()
  const visit = (file: string): void => {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
      for (const part of m[1]!.split(',')) {
        const name = part
          .trim()
          .replace(/^type\s+/, '')
          .split(/\s+as\s+/)
          .pop()!
          .trim()
        if (name !== '') names.add(name)
      }
    }
    for (const m of text.matchAll(/^export\s+(?:declare\s+)?(?:abstract\s+)?(?:const|let|function|class|interface|type|enum)\s+([A-Za-z_$][\w$]*)/gm)) names.add(m[1]!)
    for (const m of text.matchAll(/^export\s+\*\s+from\s+'(\.[^']+)\.js'/gm)) visit(join(dirname(file), `${m[1]}.d.ts`))
  }
  visit(entry)
  return names
}

/** Every `@example` block of the doc comments in `file`. */
function examplesIn(file: string): Example[] {
  const text = readFileSync(file, 'utf8')
  const out: Example[] = []
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const startLine = text.slice(0, comment.index).split('\n').length
    const lines = comment[0].split('\n').map((l) => l.replace(/^\s*\/?\*+\/?\s?/, '').replace(/\s*\*\/$/, ''))
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.startsWith('@example')) continue
      const body: string[] = []
      let j = i + 1
      while (j < lines.length && !lines[j]!.startsWith('@')) body.push(lines[j++]!)
      while (body.length > 0 && body.at(-1)!.trim() === '') body.pop()
      out.push({ code: body.join('\n'), file, line: startLine + i + 1 })
      i = j - 1
    }
  }
  return out
}

/** Where an example's line `offset` is in src/ (the comment is the same there), else in dist/. */
function sourceOf(example: Example, offset = 0): string {
  const src = join(ROOT, 'src', relative(DIST, example.file).replace(/\.d\.ts$/, '.ts'))
  if (existsSync(src)) {
    const code = example.code.split('\n').map((l) => l.trim())
    const lines = readFileSync(src, 'utf8')
      .split('\n')
      .map((l) => l.replace(/^\s*\*\s?/, '').trim())
    const at = lines.findIndex((_, i) => code.every((c, j) => lines[i + j] === c))
    if (at >= 0) return `${relative(ROOT, src)}:${at + 1 + offset}`
  }
  return `${relative(ROOT, example.file)}:${example.line + offset}`
}

/**
 * The free names the examples use, each declared with the type it stands for (in some modules
 * a name stands for something else: see IN_MODULE).
 */
const FREE: Record<string, string> = {
  store: 'CairnStore',
  a: 'CairnStore',
  b: 'CairnStore',
  me: 'Identity',
  identity: 'Identity',
  admin: 'Identity',
  writer: 'Identity',
  peer: 'Identity',
  storage: 'StorageEngine',
  cid: 'CID',
  cidA: 'CID',
  cidB: 'CID',
  photoCid: 'CID',
  fileCid: 'CID',
  bytes: 'Uint8Array',
  car: 'Uint8Array',
  carBytes: 'Uint8Array',
  block: 'Block<unknown>',
  event: 'StoredEvent',
  head: 'StoredEvent',
  checkout: 'StoredEvent',
  lastSeen: 'StoredEvent',
  command: 'StoredEvent',
  input: 'AppendInput',
  e: 'AppendInput',
  info: 'ObjectInfo',
  fromA: 'StoredEvent[]',
  fromB: 'StoredEvent[]',
  heads: 'CID[]',
  peerHeads: 'CID[]',
  checkpoint: 'CID',
  err: 'unknown',
  url: 'string',
  digest: 'string',
  nonce: 'string',
  paymentId: 'string',
  reachable: 'Set<string>',
  missing: 'CID[]',
  writers: 'Set<string>',
  readers: 'Set<string>',
  file: 'File',
  response: 'Response',
  controller: 'AbortController',
  label: 'HTMLElement',
  keepButton: 'HTMLElement',
  cancelButton: 'HTMLElement',
  bar: '{ update(fraction: number): void }',
  socket: '{ write(chunk: Uint8Array): void }',
  res: '{ write(chunk: Uint8Array): void }',
  token: '{ publicKey: Uint8Array; sign(bytes: Uint8Array): Promise<Uint8Array> }',
  blockstore: 'Parameters<typeof openBlockstoreStorage>[0] & { close(): Promise<void> }',
  FsBlockstore: 'new (path: string) => Parameters<typeof openBlockstoreStorage>[0] & { open(): Promise<void>; close(): Promise<void> }',
  Deno: '{ serve(handler: (request: Request) => Response | Promise<Response>): unknown }',
  add: 'Reducer<number>',
  count: 'Reducer<number>',
  small: 'Gate',
  carts: 'Projection<number>',
  render: 'ChangeListener',
  retry: '() => void',
  ship: '(e: StoredEvent) => void',
  collect: '<T>(events: AsyncIterable<T>) => Promise<T[]>',
  bytesOf: '(chunks: AsyncIterable<Uint8Array>) => Promise<Uint8Array>',
}
/** Free names that stand for something else in one module's comments: `storage` in an engine's own module is that engine. */
const IN_MODULE: Record<string, Record<string, string>> = {
  'storage/memory.d.ts': { storage: 'MemoryStorage' },
  'storage/indexeddb.d.ts': { storage: 'IndexedDbStorage' },
  'storage/files/engine.d.ts': { storage: 'FileStorage' },
  'transports/blob.d.ts': { input: 'HTMLInputElement' },
}
/** Node modules the Node examples use without importing them. */
const NODE_IMPORTS = ["import * as http from 'node:http'", "import { readFile, writeFile } from 'node:fs/promises'", "import { join } from 'node:path'", "import { homedir } from 'node:os'"]

/** The names an import statement brings in. */
function importedNames(statement: string): string[] {
  const names: string[] = []
  const braces = /\{([^}]*)\}/.exec(statement)
  if (braces)
    for (const part of braces[1]!.split(','))
      names.push(
        part
          .trim()
          .replace(/^type\s+/, '')
          .split(/\s+as\s+/)
          .pop()!
          .trim(),
      )
  const star = /\*\s+as\s+([\w$]+)/.exec(statement)
  if (star) names.push(star[1]!)
  const def = /^import\s+(?:type\s+)?([\w$]+)\s*(?:,|from)/.exec(statement)
  if (def) names.push(def[1]!)
  return names.filter((n) => n !== '')
}

/** The module an example compiles as: its imports, the prelude, its code in an async function. */
function moduleOf(example: Example, entry: 'cairndb/node' | 'cairndb/browser', names: Set<string>): { text: string; codeLine: number } {
  const lines = example.code.split('\n')
  const own = lines.filter((l) => /^import\s/.test(l))
  const body = lines.map((l) => (/^import\s/.test(l) ? '' : l.replace(/^export default /, 'const _default = ')))
  const taken = new Set(own.flatMap(importedNames))
  const head = [...own]
  const fromEntry = [...names].filter((n) => !taken.has(n)).sort()
  head.push(`import { ${fromEntry.join(', ')} } from '${entry}'`)
  if (entry === 'cairndb/node') for (const statement of NODE_IMPORTS) if (!importedNames(statement).some((n) => taken.has(n))) head.push(statement)
  for (const statement of head.slice(own.length)) for (const n of importedNames(statement)) taken.add(n)
  const free = { ...FREE, ...IN_MODULE[relative(DIST, example.file)] }
  for (const [name, type] of Object.entries(free)) if (!taken.has(name)) head.push(`declare const ${name}: ${type}`)
  head.push('export async function example() {')
  return { text: `${head.join('\n')}\n${body.join('\n')}\n}\n`, codeLine: head.length + 1 }
}

const work = await mkdtemp(join(tmpdir(), 'cairn-doc-examples-'))
afterAll(() => rm(work, { recursive: true, force: true }))

describe('dist/ against src/', () => {
  test('staleSources names each src file newer than its declarations, or without any', async () => {
    const root = join(work, 'stale')
    const src = join(root, 'src')
    const dist = join(root, 'dist')
    await mkdir(join(src, 'store'), { recursive: true })
    await mkdir(join(dist, 'store'), { recursive: true })
    for (const name of ['index', 'store/store', 'store/open']) await writeFile(join(src, `${name}.ts`), '')
    for (const name of ['index', 'store/store', 'store/open']) await writeFile(join(dist, `${name}.d.ts`), '')
    const built = new Date(Date.now() - 60_000)
    for (const name of ['index', 'store/store', 'store/open']) {
      await utimes(join(src, `${name}.ts`), new Date(built.getTime() - 60_000), new Date(built.getTime() - 60_000))
      await utimes(join(dist, `${name}.d.ts`), built, built)
    }
    expect(staleSources(src, dist)).toEqual([])
    // An edit after the build, and a file never built.
    await utimes(join(src, 'store/open.ts'), new Date(), new Date())
    await writeFile(join(src, 'store/import-options.ts'), '')
    expect(staleSources(src, dist)).toEqual(['store/import-options.ts', 'store/open.ts'])
  })
})

describe('the @example blocks of the public typings', () => {
  test('every one typechecks against the built package', async () => {
    if (!existsSync(join(DIST, 'index.node.d.ts'))) throw new Error('dist/ is missing: run `npm run build` first')
    const stale = staleSources(join(ROOT, 'src'), DIST)
    if (stale.length > 0) throw new Error(`dist/ is older than src/: run npm run build (changed since: ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? `, and ${stale.length - 5} more` : ''})`)
    const nodeFiles = reexported(join(DIST, 'index.node.d.ts'))
    const browserFiles = reexported(join(DIST, 'index.d.ts'))
    const programs = {
      node: { entry: 'cairndb/node' as const, names: exportedNames(join(DIST, 'index.node.d.ts')), files: [...nodeFiles], types: ['node'] },
      browser: { entry: 'cairndb/browser' as const, names: exportedNames(join(DIST, 'index.d.ts')), files: [...browserFiles].filter((f) => !nodeFiles.has(f)), types: [] as string[] },
    }
    await mkdir(join(work, 'node_modules'), { recursive: true })
    await symlink(ROOT, join(work, 'node_modules', 'cairndb'), 'dir')

    const where = new Map<string, { example: Example; codeLine: number }>()
    let count = 0
    for (const [name, program] of Object.entries(programs)) {
      const dir = join(work, name)
      await mkdir(dir)
      const files: string[] = []
      for (const file of program.files) {
        for (const example of examplesIn(file)) {
          const path = join(dir, `example-${++count}.ts`)
          const { text, codeLine } = moduleOf(example, program.entry, program.names)
          await writeFile(path, text)
          where.set(path, { example, codeLine })
          files.push(path)
        }
      }
      const compilerOptions = {
        noEmit: true,
        strict: true,
        skipLibCheck: true,
        target: 'es2022',
        module: 'esnext',
        moduleResolution: 'bundler',
        customConditions: name === 'node' ? ['node'] : [],
        lib: ['es2022', 'dom', 'dom.iterable', 'dom.asynciterable'],
        types: program.types,
        typeRoots: [join(ROOT, 'node_modules', '@types')],
      }
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }, null, 2))
    }
    console.log(
      `doc examples: ${count} @example blocks (${Object.values(programs)
        .map((p) => `${p.files.length} modules for ${p.entry}`)
        .join(', ')})`,
    )
    expect(count).toBeGreaterThan(150)

    const failures: string[] = []
    for (const name of Object.keys(programs)) {
      const output = await run(process.execPath, [TSC, '-p', join(work, name, 'tsconfig.json')], { cwd: work, maxBuffer: 16 << 20 }).then(
        () => '',
        (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
      )
      for (const m of output.matchAll(/^(.+?\.ts)\((\d+),(\d+)\): (error TS\d+: .*)$/gm)) {
        const found = where.get(resolve(work, m[1]!))
        if (found === undefined) {
          failures.push(`${m[1]}(${m[2]},${m[3]}): ${m[4]}`)
          continue
        }
        const offset = Number(m[2]) - found.codeLine
        const at = offset < 0 ? `the prelude of ${sourceOf(found.example)}` : sourceOf(found.example, offset)
        failures.push(`${at}: ${m[4]}\n    ${found.example.code.split('\n').join('\n    ')}`)
      }
      if (output !== '' && failures.length === 0) failures.push(output)
    }
    expect(failures, `${failures.length} example(s) do not typecheck:\n${failures.join('\n')}`).toEqual([])
  })
})
