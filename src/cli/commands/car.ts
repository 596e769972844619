// `export`, `import`: CAR files, to and from files or stdout/stdin.
import type { Command } from 'commander'
import { type CairnStore, type CID, type ExportOptions, exportToFile, type ImportOptions, type ImportReport } from '../../index.node.ts'
import { parseCid, parseCidList } from '../args.ts'
import { type CommonOptions, interrupt, withCommon, withStore } from '../context.ts'
import { UsageError } from '../exit-codes.ts'
import { readFileChunks, readStdin, sizeOf, stdinIsTTY, writeStdout } from '../io.ts'
import { print, reportJson } from '../output.ts'
import { apiProgress, counted, formatBytes, Progress } from '../progress.ts'

interface ExportCliOptions extends CommonOptions {
  since?: string
  root?: string
}

/** The store's export options from the command line. `roots` is the API's `export({ roots })`. */
function exportOptions(options: ExportCliOptions): ExportOptions {
  const out: { since?: CID[]; roots?: CID[] } = {}
  if (options.since !== undefined) out.since = parseCidList(options.since, '--since')
  if (options.root !== undefined) {
    if (options.since !== undefined) throw new UsageError('--root exports one object’s DAG; it does not go with --since')
    out.roots = [parseCid(options.root, '--root')]
  }
  return out
}

/** The store seen through a wrapper whose `export` counts the bytes that leave (exportToFile keeps its tmp + fsync + rename). */
function countingStore(store: CairnStore, progress: Progress): CairnStore {
  return Object.create(store, {
    export: { value: (options: ExportOptions) => counted(store.export({ ...options, ...apiProgress(progress, interrupt.signal) }), progress, interrupt.signal) },
  }) as CairnStore
}

/** Registers the CAR commands. */
export function carCommands(program: Command): void {
  withCommon(program.command('export'))
    .argument('[file]', 'the CAR file to write (atomically: a temp file, fsynced, then renamed); stdout without it')
    .option('--since <cids>', 'heads the receiver holds (comma-separated): export only what they lack')
    .option('--root <cid>', 'export one object’s or file’s DAG with it as the CAR’s root (for `ipfs-car unpack`, pinning services)')
    .description('write the store (or part of it) as a CARv1')
    .addHelpText('after', '\nExamples:\n  $ cairn export backup.car\n  $ cairn export --since bafyrei…,bafyrei… > delta.car\n  $ cairn export --root bafybei… photo.car')
    .action(async (file: string | undefined, options: ExportCliOptions) => {
      const exportOpts = exportOptions(options)
      await withStore(options, async (store) => {
        const progress = new Progress('export')
        let bytes = 0
        try {
          if (file === undefined) {
            for await (const chunk of counted(store.export({ ...exportOpts, ...apiProgress(progress, interrupt.signal) }), progress, interrupt.signal)) {
              await writeStdout(chunk)
              bytes += chunk.length
            }
          } else {
            ;({ bytes } = await exportToFile(countingStore(store, progress), file, exportOpts))
          }
        } catch (err) {
          progress.clear()
          throw err
        }
        progress.finish()
        if (file !== undefined) {
          await print(options, { file, bytes, heads: store.heads.map(String) }, () => `Exported ${formatBytes(bytes)} to ${file}`)
        }
      })
    })

  withCommon(program.command('import'))
    .argument('[file]', 'the CAR file to read; stdin without it')
    .option('--max-bytes <n>', 'refuse a CAR larger than n bytes (default 1 GiB)')
    .description('import a CAR: every block verified, all or nothing (exit 4 on a bad CAR, nothing changed)')
    .addHelpText('after', '\nExamples:\n  $ cairn import backup.car\n  $ curl -s https://example.org/data.car | cairn import')
    .action(async (file: string | undefined, options: CommonOptions & { maxBytes?: string }) => {
      if (file === undefined && stdinIsTTY()) throw new UsageError('give a CAR file, or pipe one into stdin')
      const importOpts: ImportOptions = {}
      if (options.maxBytes !== undefined) {
        const n = Number(options.maxBytes)
        if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--max-bytes expected a non-negative integer, got ${JSON.stringify(options.maxBytes)}`)
        importOpts.maxBytes = n
      }
      const totalBytes = file === undefined ? undefined : await sizeOf(file)
      await withStore(options, async (store) => {
        const progress = new Progress('import', totalBytes === undefined ? {} : { totalBytes })
        let report: ImportReport
        try {
          const source = counted(file === undefined ? readStdin() : readFileChunks(file), progress, interrupt.signal)
          report = await store.import(source, { ...importOpts, ...apiProgress(progress, interrupt.signal) })
        } catch (err) {
          progress.clear()
          throw err
        }
        progress.finish({ blocks: report.blocks })
        await print(options, reportJson(report), () => `Imported ${report.events.toLocaleString('en-US')} events (${report.blocks.toLocaleString('en-US')} new blocks); heads ${report.heads.join(' ')}`)
      })
    })
}
