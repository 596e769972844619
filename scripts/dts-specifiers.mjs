// Rewrites the relative `.ts` import specifiers in dist/**/*.d.ts to `.js`, as
// `rewriteRelativeImportExtensions` already does for the emitted .js (tsc keeps `.ts` in
// declarations). TypeScript before 5.0 and tools reading .d.ts files without TypeScript's
// rules take only `.js` there. Run by `npm run build` after tsc; `--check` fails on any left.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const DIST = new URL('../dist/', import.meta.url).pathname
// `from './x.ts'`, `import('./x.ts')`, `import './x.ts'` and `/// <reference path>` are the
// forms tsc writes; only relative specifiers are touched.
const SPECIFIER = /((?:\bfrom|\bimport\(?)\s*)(['"])(\.\.?\/[^'"]*?)\.ts\2/g

function* declarations(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* declarations(path)
    else if (entry.name.endsWith('.d.ts')) yield path
  }
}

const check = process.argv.includes('--check')
let files = 0
let specifiers = 0
for (const path of declarations(DIST)) {
  const text = readFileSync(path, 'utf8')
  let count = 0
  const rewritten = text.replace(SPECIFIER, (match, head, quote, base) => {
    if (base.endsWith('.d')) return match // a './x.d.ts' specifier names a declaration file
    count++
    return `${head}${quote}${base}.js${quote}`
  })
  if (count === 0) continue
  files++
  specifiers += count
  if (!check) writeFileSync(path, rewritten)
}
if (check && specifiers > 0) {
  console.error(`${specifiers} relative .ts specifiers in ${files} declaration files of dist/`)
  process.exit(1)
}
