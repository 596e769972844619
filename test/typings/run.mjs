// Compiles small consumer projects against the built typings (dist/*.d.ts) of cairndb with the
// oldest supported TypeScript and the newest ones, under each moduleResolution a user may pick.
// Run by `npm run test:typings` after `npm run build`; installs its compilers in this folder.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const HERE = dirname(fileURLToPath(import.meta.url))
const ROOT = join(HERE, '..', '..')
const CASES_DIR = join(HERE, '.cases')

/**
 * The compilers: the oldest supported (5.0, the first with moduleResolution bundler; 4.9 passes
 * the node16/nodenext programs), the newest 5.x and the repo's own (7.x, the native port).
 */
const COMPILERS = [
  { name: '5.0', tsc: join(HERE, 'node_modules/typescript-5.0/bin/tsc') },
  { name: '5.9', tsc: join(HERE, 'node_modules/typescript-5.9/bin/tsc') },
  { name: '7.0', tsc: join(ROOT, 'node_modules/typescript/bin/tsc') },
]
/** moduleResolution settings (`module: preserve` came in TypeScript 5.4). */
const MODES = [
  { name: 'node16', module: 'node16', moduleResolution: 'node16' },
  { name: 'nodenext', module: 'nodenext', moduleResolution: 'nodenext' },
  { name: 'bundler', module: 'esnext', moduleResolution: 'bundler' },
  { name: 'preserve', module: 'preserve', moduleResolution: 'bundler', since: '5.4' },
]
const NODE = { types: ['node'], lib: ['es2022'] }
const BROWSER = { types: [], lib: ['es2022', 'dom', 'dom.iterable'] }
/** Consumer programs (consumers/); `fails` names the error a program must fail with. */
const PROGRAMS = [
  { name: 'node', ...NODE },
  { name: 'node-root', ...NODE, modes: ['node16', 'nodenext'] },
  { name: 'browser', ...BROWSER },
  { name: 'browser-root', ...BROWSER, modes: ['bundler', 'preserve'] },
  { name: 'browser-node-only', ...BROWSER, fails: /error TS(2305|2724): [^\n]*exportToFile/ },
]
/**
 * Most projects skip checking .d.ts files (`skipLibCheck`, on in `tsc --init`); these also
 * check every .d.ts of cairndb and its dependencies, with the newer compilers. A Node program
 * needs the DOM lib here: the IndexedDB engine's typings name IDBDatabase.
 */
const FULL_CHECKS = [
  { compilers: ['5.9', '7.0'], mode: 'nodenext', program: { name: 'node', types: ['node'], lib: ['es2022', 'dom'] } },
  { compilers: ['5.9', '7.0'], mode: 'bundler', program: { name: 'browser', ...BROWSER } },
]

const versionAtLeast = (version, min) => {
  const [a, b] = version.split('.').map(Number)
  const [c, d] = min.split('.').map(Number)
  return a > c || (a === c && b >= d)
}

function install() {
  if (!COMPILERS.every((c) => existsSync(c.tsc))) {
    return run('npm', ['install', '--no-audit', '--no-fund', '--silent'], { cwd: HERE })
  }
}

/** Consumers import `cairndb` through node_modules, as an installed package would be. */
function linkPackage() {
  if (!existsSync(join(ROOT, 'dist', 'index.node.d.ts'))) throw new Error('dist/ is missing: run `npm run build` first')
  const link = join(HERE, 'node_modules', 'cairndb')
  rmSync(link, { force: true, recursive: false })
  mkdirSync(dirname(link), { recursive: true })
  symlinkSync(join('..', '..', '..'), link, 'dir')
}

async function check(compiler, mode, program, skipLibCheck = true) {
  const config = join(CASES_DIR, `${compiler.name}-${mode.name}-${program.name}${skipLibCheck ? '' : '-full'}.json`)
  const compilerOptions = {
    noEmit: true,
    strict: true,
    skipLibCheck,
    target: 'es2022',
    module: mode.module,
    moduleResolution: mode.moduleResolution,
    lib: program.lib,
    types: program.types,
  }
  writeFileSync(config, JSON.stringify({ compilerOptions, files: [join(HERE, 'consumers', `${program.name}.ts`)] }, null, 2))
  let output = ''
  let ok = true
  try {
    await run(process.execPath, [compiler.tsc, '-p', config], { cwd: HERE })
  } catch (error) {
    ok = false
    output = `${error.stdout ?? ''}${error.stderr ?? ''}`
  }
  const passed = program.fails === undefined ? ok : !ok && program.fails.test(output)
  return { label: `TypeScript ${compiler.name} · ${mode.name} · ${program.name}${skipLibCheck ? '' : ' · skipLibCheck off'}${program.fails ? ' (must fail)' : ''}`, passed, output }
}

const started = performance.now()
await install()
linkPackage()
rmSync(CASES_DIR, { recursive: true, force: true })
mkdirSync(CASES_DIR)
const jobs = []
for (const compiler of COMPILERS) {
  for (const mode of MODES) {
    if (mode.since && !versionAtLeast(compiler.name, mode.since)) continue
    for (const program of PROGRAMS) {
      if (program.modes && !program.modes.includes(mode.name)) continue
      jobs.push(() => check(compiler, mode, program))
    }
  }
}
for (const full of FULL_CHECKS) {
  for (const compiler of COMPILERS.filter((c) => full.compilers.includes(c.name))) {
    jobs.push(() =>
      check(
        compiler,
        MODES.find((m) => m.name === full.mode),
        full.program,
        false,
      ),
    )
  }
}
const selected = jobs
const results = []
let next = 0
const workers = Array.from({ length: 2 }, async () => {
  while (next < selected.length) {
    const result = await selected[next++]()
    results.push(result)
    console.log(`${result.passed ? 'ok  ' : 'FAIL'} ${result.label}`)
    if (!result.passed) console.log(result.output.trim() || '  compiled, but it must fail with the named error')
  }
})
await Promise.all(workers)
const failed = results.filter((r) => !r.passed).length
console.log(`typings: ${results.length - failed} passed, ${failed} failed (${((performance.now() - started) / 1000).toFixed(1)} s)`)
process.exitCode = failed === 0 ? 0 : 1
