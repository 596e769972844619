// `init`, `stats`, `verify`: the store folder itself.
import { mkdir, readdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Command } from 'commander'
import { openStore, type VerifyReport } from '../../index.node.ts'
import { DEFAULT_STORE, type CommonOptions, interrupt, isStoreFolder, withCommon, withStore } from '../context.ts'
import { UsageError } from '../exit-codes.ts'
import { fileError } from '../io.ts'
import { print, reportJson, table } from '../output.ts'
import { apiProgress, Progress } from '../progress.ts'

/** Registers the store commands. */
export function storeCommands(program: Command): void {
  withCommon(program.command('init'))
    .argument('[dir]', `the folder to create (default: --store, or ${DEFAULT_STORE})`)
    .description('create a store folder (an existing store is left as it is)')
    .addHelpText('after', '\nExamples:\n  $ cairn init              # ./.cairn\n  $ cairn init ./data && cairn stats --store ./data')
    .action(async (dir: string | undefined, options: CommonOptions) => {
      const folder = dir ?? options.store
      const path = resolve(folder)
      let existing: string[] = []
      try {
        existing = await readdir(path)
      } catch (cause) {
        if ((cause as { code?: unknown }).code !== 'ENOENT') throw fileError('reading', folder, cause)
      }
      const created = !(await isStoreFolder(path))
      if (created && existing.length > 0) throw new UsageError(`${folder} is a folder that holds other files, not a Cairn store; pick an empty or new folder`)
      try {
        await mkdir(path, { recursive: true })
      } catch (cause) {
        throw fileError('creating', folder, cause)
      }
      const store = await openStore({ path })
      await store.close()
      await print(options, { store: path, created }, () => (created ? `Created a Cairn store in ${folder}` : `${folder} already holds a Cairn store; left as it is`))
    })

  withCommon(program.command('stats'))
    .description('counts of events, streams, types, objects and bytes; the heads')
    .addHelpText('after', '\nExample:\n  $ cairn stats --json')
    .action(async (options: CommonOptions) => {
      await withStore(options, async (store) => {
        const stats = await store.stats()
        const index = store.indexStatus()
        const value = reportJson({ ...stats, heads: store.heads, engine: store.engine, index })
        await print(options, value, () =>
          table([
            ['events', stats.events],
            ['streams', stats.streams],
            ['types', stats.types],
            ['objects', stats.objects],
            ['bytes', stats.bytes],
            ['engine', store.engine],
            ['heads', store.heads.length === 0 ? '(none)' : store.heads.join(' ')],
            ['index', index.fromSnapshot ? `from its snapshot (+${index.indexedOnOpen} events)` : `rebuilt (${index.indexedOnOpen} events)`],
          ]),
        )
      })
    })

  withCommon(program.command('verify'))
    .description('re-hash every block reachable from the heads; exits 4 on a missing or damaged block')
    .addHelpText('after', '\nExample:\n  $ cairn verify && echo intact')
    .action(async (options: CommonOptions) => {
      await withStore(options, async (store) => {
        const progress = new Progress('verify')
        let report: VerifyReport
        try {
          report = await store.verify(apiProgress(progress, interrupt.signal, true))
        } catch (err) {
          progress.clear()
          throw err
        }
        progress.finish({ blocks: report.blocks, bytes: report.bytes })
        await print(
          options,
          reportJson(report),
          () =>
            `OK: ${report.blocks.toLocaleString('en-US')} blocks (${report.bytes.toLocaleString('en-US')} bytes) verified${report.dangling.length === 0 ? '' : `; ${report.dangling.length} dangling link(s) in event data: ${report.dangling.join(' ')}`}`,
        )
      })
    })
}
