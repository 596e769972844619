// Node only: scripts/check-readme.mjs, run as `npm test` runs it, on small made-up repositories
// (one per rule it enforces) and on this one.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, test } from 'vitest'

const run = promisify(execFile)
const script = join(process.cwd(), 'scripts/check-readme.mjs')
const roots: string[] = []
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true })
})

const fence = '```'
const node = "import { openStore } from 'cairndb'\nconst store = await openStore({ memory: true })\n"
const usage = '// setup\ndeclare const store: unknown\nawait store.close()\nexport {}\n'

/** A made-up repository: README.md and files, then the check's exit code and what it printed. */
async function check(readme: string, files: Record<string, string>): Promise<{ ok: boolean; out: string }> {
  const root = await mkdtemp(join(tmpdir(), 'cairn-check-readme-'))
  roots.push(root)
  await writeFile(join(root, 'README.md'), readme)
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true })
    await writeFile(join(root, path), text)
  }
  try {
    const { stdout } = await run('node', [script, '--root', root])
    return { ok: true, out: stdout }
  } catch (err) {
    return { ok: false, out: String((err as { stderr?: string }).stderr) }
  }
}

const good = `# x\n\n<!-- file: examples/quickstart/node.mjs -->\n${fence}js\n${node}${fence}\n\n<!-- fragment: examples/usage/a.ts -->\n\n${fence}ts\nawait store.close()\n${fence}\n\n${fence}sh\nnpm test\n${fence}\n`
const goodFiles = { 'examples/quickstart/node.mjs': node, 'examples/usage/a.ts': usage }

describe('scripts/check-readme.mjs', () => {
  test('passes when every block equals its file (sh blocks need no marker)', async () => {
    expect(await check(good, goodFiles)).toEqual({ ok: true, out: 'README: every code block matches its file\n' })
  })

  test('fails on a ts/js/html block without a marker', async () => {
    const r = await check(`${good}\n${fence}ts\nconst x = 1\n${fence}\n`, goodFiles)
    expect(r.ok).toBe(false)
    expect(r.out).toMatch(/README\.md:\d+: a ```ts block without a <!-- file: … --> or <!-- fragment: … --> marker/)
  })

  test('fails when a file block differs from its file, naming the line that differs', async () => {
    const r = await check(good, { ...goodFiles, 'examples/quickstart/node.mjs': node.replace('memory: true', "path: './data'") })
    expect(r.ok).toBe(false)
    expect(r.out).toContain('README.md:4: the block differs from examples/quickstart/node.mjs (its line 2 is not in the file')
  })

  test('fails when a marked file is missing', async () => {
    const r = await check(good, { 'examples/quickstart/node.mjs': node })
    expect(r.ok).toBe(false)
    expect(r.out).toContain('examples/usage/a.ts (its fragment marker) does not exist')
  })

  test('fails when a fragment is not one run of lines of its file', async () => {
    const r = await check(good.replace('await store.close()\n', 'await store.close()\nawait store.verify()\n'), goodFiles)
    expect(r.ok).toBe(false)
    expect(r.out).toContain("the fragment's lines are not one run of lines in examples/usage/a.ts")
  })

  test('fails when a quick start file is shown by no block', async () => {
    const r = await check(good, { ...goodFiles, 'examples/quickstart/deno.ts': node })
    expect(r.ok).toBe(false)
    expect(r.out).toContain('no block shows examples/quickstart/deno.ts')
  })

  test("this repository's README passes", async () => {
    const { stdout } = await run('node', [script])
    expect(stdout).toBe('README: every code block matches its file\n')
  })
})
