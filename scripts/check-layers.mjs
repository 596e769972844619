// Fails when an import in src/ runs against the layers of docs/design.md, or when code outside
// the Node/Deno-only places imports a Node built-in. Run by `npm test` (`npm run check:layers`).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'

const SRC = new URL('../src/', import.meta.url).pathname

/** Layers from the bottom up: a file may import its own folder and any lower layer, nothing else. */
const LAYERS = [
  ['errors'],
  ['block'],
  ['identity'],
  ['car', 'fs'],
  ['storage', 'storage/files'],
  ['objects'],
  ['log/event'],
  ['log/rules'],
  ['log/views'],
  ['log'],
  ['projections'],
  ['store'],
  ['transports', 'transports/http'],
  ['.'], // the entry points: index.ts, index.node.ts, exports.ts
  ['cli'], // the `cairn` command line, on the Node/Deno entry alone
]
/** Within one layer, which folders may import which (e.g. the files engine uses the storage contract). */
const SIBLINGS = { 'storage/files': ['storage'], 'transports/http': ['transports'] }
/** The only places that may import Node built-ins (reached through the Node/Deno entry alone). */
const NODE_ONLY = [/^storage\/files\//, /^fs\//, /^transports\/car-file\.ts$/, /^transports\/node-http\.ts$/, /^index\.node\.ts$/, /^cli\//]

const rankOf = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank])))
/** The layer folder a file belongs to: its own folder, or the nearest one above it that is a layer. */
const folderOf = (file) => {
  let d = dirname(file)
  while (!rankOf.has(d) && d.includes('/')) d = dirname(d)
  return d
}

function* walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* walk(p)
    else if (e.name.endsWith('.ts')) yield p
  }
}

const problems = []
for (const abs of walk(SRC)) {
  const file = relative(SRC, abs)
  const from = folderOf(file)
  if (!rankOf.has(from)) {
    problems.push(`${file}: folder "${from}" is in no layer (add it to scripts/check-layers.mjs and docs/design.md)`)
    continue
  }
  const text = readFileSync(abs, 'utf8')
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = m[1] ?? m[2]
    if (spec.startsWith('node:')) {
      if (!NODE_ONLY.some((r) => r.test(file))) problems.push(`${file}: imports ${spec}, but only Node/Deno-only files may use Node built-ins`)
      continue
    }
    if (!spec.startsWith('.')) continue
    const target = normalize(join(dirname(file), spec))
    const to = folderOf(target)
    if (to === from) continue
    const ok = rankOf.get(to) < rankOf.get(from) || (SIBLINGS[from] ?? []).includes(to)
    if (!ok) problems.push(`${file}: imports ${target} — layer "${to}" is not below "${from}"`)
  }
}
if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} import(s) against the layers of docs/design.md:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`check-layers: every import in src/ runs down the ${LAYERS.length} layers`)
