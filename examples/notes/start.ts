// Runs the notes app with its sync server: `npm run example:notes` (the production build,
// served by `vite preview`, with the service worker) or `npm run example:notes -- --dev`
// (`vite` with hot reload; no service worker). The sync server keeps a memory store unless
// given `--path DIR`; the app reaches it at /cairn through Vite's proxy.
import { type ChildProcess, spawn } from 'node:child_process'

const dev = process.argv.includes('--dev')
const pathAt = process.argv.indexOf('--path')
const port = process.env['PORT'] ?? '5173'
const syncPort = process.env['CAIRN_SYNC_PORT'] ?? '8787'

const children: ChildProcess[] = []
function run(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, ...env } })
  child.once('exit', (code) => stop(code ?? 1))
  children.push(child)
  return child
}
function stop(code: number): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
  process.exitCode = code
}
process.once('SIGINT', () => stop(0))
process.once('SIGTERM', () => stop(0))

const syncArgs = ['examples/node-server/server.ts', '--port', syncPort, ...(pathAt > 0 ? ['--path', process.argv[pathAt + 1]!] : [])]
run('tsx', syncArgs)
const viteArgs = dev ? ['examples/notes'] : ['preview', 'examples/notes']
run('vite', [...viteArgs, '--host', '127.0.0.1', '--port', port, '--strictPort'], { CAIRN_SYNC_ORIGIN: `http://127.0.0.1:${syncPort}` })
