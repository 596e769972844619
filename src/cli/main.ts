#!/usr/bin/env node
// The `cairn` command line (the package's bin). Node ≥ 20, or Deno: `deno run -A dist/cli/main.js`.
import process from 'node:process'
import { interrupt } from './context.ts'
import { EXIT } from './exit-codes.ts'
import { run } from './program.ts'

// Ctrl-C (or SIGTERM) aborts the running command cleanly: an import changes nothing, an export
// leaves no file, `serve` closes. A second one exits at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupt.signal.aborted) process.exit(EXIT.aborted)
    interrupt.abort()
  })
}
// A closed pipe (`cairn log | head`) ends the run quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.ok)
  throw err
})

const code = await run(process.argv.slice(2))
// After an interrupt, a source may still hold the event loop (stdin waiting for data): leave now.
if (code === EXIT.aborted) process.exit(code)
process.exitCode = code
