// The `cairn` program: commander wiring, the help texts, and turning a command's outcome
// into an exit code (see exit-codes.ts).
import { readFileSync } from 'node:fs'
import process from 'node:process'
import { Command, type CommanderError } from 'commander'
import { carCommands } from './commands/car.ts'
import { eventCommands } from './commands/events.ts'
import { identityCommands } from './commands/identity.ts'
import { objectCommands } from './commands/objects.ts'
import { storeCommands } from './commands/store.ts'
import { syncCommands } from './commands/sync.ts'
import { interrupt } from './context.ts'
import { AbortedError, describeError, EXIT, errorJson, exitCodeHelp, exitCodeOf } from './exit-codes.ts'

/** The package's version, read from its package.json (two folders up from dist/cli/). */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

/** Thrown by commander instead of exiting: carries its exit code. */
class CommanderExit extends Error {
  readonly exitCode: number
  constructor(exitCode: number) {
    super('commander exit')
    this.exitCode = exitCode
  }
}

/** Builds the `cairn` command with every subcommand. */
export function buildProgram(): Command {
  const program = new Command('cairn')
  program
    .description('Cairn: an offline-first event log and object store on IPLD blocks, synced by CAR files')
    .version(version(), '-V, --version')
    .configureOutput({ outputError: (text, write) => write(`cairn: ${text.replace(/^error: /, '')}`) })
    .showHelpAfterError('(add --help for usage)')
    .exitOverride((err: CommanderError) => {
      throw new CommanderExit(err.exitCode === 0 ? EXIT.ok : EXIT.usage)
    })
    .addHelpText(
      'after',
      `
Every command takes --store DIR (default ./.cairn) and --json (machine output: one JSON value,
or one per line for lists). Long operations draw a progress bar on stderr when it is a terminal.
Errors print "cairn: CODE: message (cid …, file …)" on stderr.

${exitCodeHelp()}

Examples:
  $ cairn init
  $ cairn append --stream todo --type added '{"title": "milk"}'
  $ cairn log --stream todo
  $ cairn export backup.car && cairn import backup.car --store ../other`,
    )
  storeCommands(program)
  eventCommands(program)
  objectCommands(program)
  carCommands(program)
  syncCommands(program)
  identityCommands(program)
  return program
}

/** Runs `cairn` with `argv` (the arguments after the program name); resolves to the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return EXIT.ok
  } catch (thrown) {
    if (thrown instanceof CommanderExit) return thrown.exitCode
    const err = interrupt.signal.aborted ? new AbortedError() : thrown
    const json = argv.includes('--json')
    process.stderr.write(json ? `${JSON.stringify(errorJson(err))}\n` : `${describeError(err)}\n`)
    const code = exitCodeOf(err)
    if (code === EXIT.other && err instanceof Error && err.stack !== undefined && process.env['CAIRN_DEBUG'] !== undefined) process.stderr.write(`${err.stack}\n`)
    return code
  }
}
