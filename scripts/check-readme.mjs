// Keeps README's code equal to files that run or compile. Run by `npm test` (`npm run check:readme`).
//
// Every ```ts, ```js, ```mjs or ```html block in README.md carries a marker on the line before
// its fence (blank lines between are allowed):
//   <!-- file: examples/quickstart/node.mjs -->      the block is that whole file, byte for byte
//   <!-- fragment: examples/usage/files.ts -->      the block's lines appear, in one run, in that file
// Fails when a block has no marker, a marked file is missing, a block differs from its file, or
// a file under examples/quickstart/ is not shown whole by some block.
// `node scripts/check-readme.mjs [--root DIR]` (DIR defaults to the repository).
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const CHECKED = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs', 'html'])
const MARKER = /^<!--\s*(file|fragment):\s*(\S+)\s*-->$/
const QUICKSTART = 'examples/quickstart'

/** The fenced blocks of a markdown text: `{ lang, body, line, marker }` (marker: `{ kind, path }` or undefined). */
export function blocksOf(markdown) {
  const lines = markdown.split('\n')
  const blocks = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})([\w-]*)/.exec(lines[i])
    if (open === null) continue
    const [, fence, lang] = open
    let end = i + 1
    while (end < lines.length && lines[end].trimEnd() !== fence) end++
    let j = i - 1
    while (j >= 0 && lines[j].trim() === '') j--
    const m = j >= 0 ? MARKER.exec(lines[j].trim()) : null
    blocks.push({ lang, body: lines.slice(i + 1, end).join('\n'), line: i + 1, marker: m === null ? undefined : { kind: m[1], path: m[2] } })
    i = end
  }
  return blocks
}

function* filesUnder(dir) {
  if (!existsSync(dir)) return
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* filesUnder(p)
    else yield p
  }
}

/** Every problem found in `root`'s README.md, as messages naming the README line. */
export function checkReadme(root) {
  const problems = []
  const blocks = blocksOf(readFileSync(join(root, 'README.md'), 'utf8'))
  const shown = new Set()
  for (const b of blocks) {
    if (!CHECKED.has(b.lang)) continue
    if (b.marker === undefined) {
      problems.push(`README.md:${b.line}: a \`\`\`${b.lang} block without a <!-- file: … --> or <!-- fragment: … --> marker on the line before it`)
      continue
    }
    const file = join(root, b.marker.path)
    if (!existsSync(file)) {
      problems.push(`README.md:${b.line}: ${b.marker.path} (its ${b.marker.kind} marker) does not exist`)
      continue
    }
    const text = readFileSync(file, 'utf8')
    if (b.marker.kind === 'file') {
      shown.add(b.marker.path)
      if (text.replace(/\n$/, '') !== b.body) problems.push(`README.md:${b.line}: the block differs from ${b.marker.path} (${firstDifference(b.body, text.replace(/\n$/, ''))})`)
    } else if (!`\n${text}\n`.includes(`\n${b.body}\n`)) {
      problems.push(`README.md:${b.line}: the fragment's lines are not one run of lines in ${b.marker.path} (${firstDifference(b.body, text)})`)
    }
  }
  for (const f of filesUnder(join(root, QUICKSTART))) {
    const rel = relative(root, f).split('\\').join('/')
    if (!shown.has(rel)) problems.push(`README.md: no block shows ${rel} (mark one with <!-- file: ${rel} -->)`)
  }
  return problems
}

/** Where a block first departs from its file: the block's first line that the file lacks. */
function firstDifference(body, text) {
  const lines = new Set(text.split('\n'))
  const bodyLines = body.split('\n')
  const k = bodyLines.findIndex((l) => !lines.has(l))
  if (k >= 0) return `its line ${k + 1} is not in the file: ${JSON.stringify(bodyLines[k].slice(0, 80))}`
  return 'same lines, other order or extra lines'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--root')
  const root = i >= 0 ? process.argv[i + 1] : fileURLToPath(new URL('..', import.meta.url))
  const problems = checkReadme(root)
  for (const p of problems) console.error(p)
  if (problems.length > 0) process.exit(1)
  console.log('README: every code block matches its file')
}
