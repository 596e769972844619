// Writes the block format v1 vectors (test/fixtures/v1/*.car and vectors.json) from the
// construction in test/fixtures/v1/build.ts, run on the current code.
//
//   npx tsx scripts/format-vectors.ts            write them; refuses to change existing bytes
//   npx tsx scripts/format-vectors.ts --check    only compare, exit 1 on any difference
//   npx tsx scripts/format-vectors.ts --force    overwrite even when the bytes change
//
// Idempotent: on unchanged code it rewrites identical bytes. The checked-in bytes are the
// contract: --force is only for a format version bump (see test/fixtures/v1/README.md).
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { buildVectors } from '../test/fixtures/v1/build.ts'

const dir = new URL('../test/fixtures/v1/', import.meta.url)
const args = new Set(process.argv.slice(2))
for (const a of args) if (a !== '--check' && a !== '--force') throw new Error(`unknown argument ${a} (expected --check or --force)`)
const checkOnly = args.has('--check')
const force = args.has('--force')

const built = await buildVectors()
const files = new Map<string, Uint8Array>(built.cars)
files.set('vectors.json', new TextEncoder().encode(`${JSON.stringify(built.vectors, null, 2)}\n`))

async function existing(name: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(new URL(name, dir)))
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined
    throw err
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

const stale = (await readdir(dir)).filter((f) => f.endsWith('.car') && !files.has(f))
const changed: string[] = []
const added: string[] = []
for (const [name, bytes] of files) {
  const old = await existing(name)
  if (old === undefined) added.push(name)
  else if (!same(old, bytes)) changed.push(name)
}

const report = (label: string, names: string[]): void => {
  if (names.length > 0) console.log(`${label}: ${names.join(', ')}`)
}
report('new', added)
report('changed', changed)
report('no longer built', stale)

if (checkOnly) {
  if (changed.length + added.length + stale.length > 0) {
    console.error('format v1 vectors differ from what the current code writes')
    process.exit(1)
  }
  console.log(`format v1 vectors match (${files.size} files)`)
} else if ((changed.length > 0 || stale.length > 0) && !force) {
  console.error('refusing to change checked-in format v1 vectors: they are the contract. A change of these bytes needs a format version bump; rerun with --force only then.')
  process.exit(1)
} else {
  for (const [name, bytes] of files) await writeFile(new URL(name, dir), bytes)
  for (const name of stale) await rm(new URL(name, dir))
  let total = 0
  for (const bytes of files.values()) total += bytes.length
  console.log(`wrote ${files.size} files (${total} bytes) to test/fixtures/v1/`)
}
