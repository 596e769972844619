// `identity new`, `identity show`: the Ed25519 key that signs events and sync requests.
import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import process from 'node:process'
import type { Command } from 'commander'
import { createIdentity, exportIdentity } from '../../index.node.ts'
import { defaultIdentityFile, loadIdentity } from '../context.ts'
import { UsageError } from '../exit-codes.ts'
import { fileError } from '../io.ts'
import { print } from '../output.ts'

/** Registers `identity new` and `identity show`. */
export function identityCommands(program: Command): void {
  const identity = program
    .command('identity')
    .description('make or show the identity (an Ed25519 did:key) that --identity signs with')
    .addHelpText('after', "\nExamples:\n  $ cairn identity new\n  $ cairn append --identity ~/.cairn/identity --stream s --type t '{}'")

  identity
    .command('new')
    .argument('[file]', 'where to write the key (default $CAIRN_IDENTITY or ~/.cairn/identity); it is created with mode 0600')
    .option('--force', 'overwrite an existing file (its key is lost)')
    .option('--json', 'print JSON')
    .description('make a new identity file; prints its did')
    .addHelpText('after', '\nExample:\n  $ cairn identity new ./me.key')
    .action(async (file: string | undefined, options: { force?: boolean; json?: boolean }) => {
      const path = file ?? defaultIdentityFile()
      const me = await createIdentity()
      const bytes = await exportIdentity(me)
      try {
        await mkdir(dirname(path), { recursive: true, mode: 0o700 })
        const fh = await open(path, options.force ? 'w' : 'wx', 0o600)
        try {
          await fh.writeFile(bytes)
          await fh.sync()
        } finally {
          await fh.close()
        }
      } catch (cause) {
        if ((cause as { code?: unknown }).code === 'EEXIST') throw new UsageError(`${path} exists already; pass --force to replace it (its key is then lost)`)
        throw fileError('writing identity file', path, cause)
      }
      // stdout carries the did alone (`DID=$(cairn identity new)`); the note goes to stderr.
      if (options.json !== true) process.stderr.write(`cairn: written to ${path}; keep it private\n`)
      await print(options, { did: me.did, file: path }, () => me.did)
    })

  identity
    .command('show')
    .argument('[file]', 'the identity file (default $CAIRN_IDENTITY or ~/.cairn/identity)')
    .option('--json', 'print JSON')
    .description('print the did:key of an identity file')
    .addHelpText('after', '\nExample:\n  $ cairn identity show ./me.key')
    .action(async (file: string | undefined, options: { json?: boolean }) => {
      const path = file ?? defaultIdentityFile()
      const me = await loadIdentity(path)
      await print(options, { did: me.did, file: path }, () => me.did)
    })
}
