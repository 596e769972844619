// `get`, `put`, `put-file`, `cat`: objects and files.
import type { Command } from 'commander'
import { parseCid } from '../args.ts'
import { type CommonOptions, interrupt, withCommon, withIdentity, withStore } from '../context.ts'
import { UsageError } from '../exit-codes.ts'
import { checkAborted, readFileChunks, readStdin, readStdinText, sizeOf, stdinIsTTY, writeStdout } from '../io.ts'
import { parseJsonValue } from '../json.ts'
import { print, prettyValue } from '../output.ts'
import { apiProgress, counted, Progress } from '../progress.ts'

interface TypeOptions extends CommonOptions {
  type?: string
}

/** Registers the object commands. */
export function objectCommands(program: Command): void {
  withCommon(program.command('get'))
    .argument('<cid>', 'the CID of a value (or any block)')
    .description('print a stored value as JSON (links as {"/": cid}, bytes as {"/": {"bytes"}})')
    .addHelpText('after', '\nExample:\n  $ cairn get bafyreib…')
    .action(async (cid: string, options: CommonOptions) => {
      const link = parseCid(cid)
      await withStore(options, async (store) => {
        const value = await store.get(link)
        await print(options, value, () => prettyValue(value))
      })
    })

  withIdentity(withCommon(program.command('put')))
    .argument('[json]', 'the value as JSON; read from stdin without it')
    .option('--type <type>', 'the object type (default "object")')
    .description('store a JSON value as a dag-cbor block; prints its CID')
    .addHelpText('after', '\nExamples:\n  $ cairn put \'{"title": "Notes"}\'\n  $ cairn put < doc.json')
    .action(async (json: string | undefined, options: TypeOptions) => {
      if (json === undefined && stdinIsTTY()) throw new UsageError('give the value as a JSON argument, or pipe it into stdin')
      const value = parseJsonValue(json ?? (await readStdinText()), json === undefined ? 'stdin' : 'the JSON argument')
      await withStore(options, async (store) => {
        const cid = await store.put(value, options.type === undefined ? {} : { type: options.type })
        await print(options, { cid: cid.toString() }, () => cid.toString())
      })
    })

  withIdentity(withCommon(program.command('put-file')))
    .argument('[file]', 'the file to store; stdin without it')
    .option('--type <type>', 'the object type (default "file")')
    .description('store a file as UnixFS (CIDs equal to IPFS tools’ CIDv1 defaults); prints its CID')
    .addHelpText('after', '\nExamples:\n  $ cairn put-file photo.jpg\n  $ curl -s https://example.org/a.pdf | cairn put-file --type pdf')
    .action(async (file: string | undefined, options: TypeOptions) => {
      if (file === undefined && stdinIsTTY()) throw new UsageError('give a file, or pipe its bytes into stdin')
      const totalBytes = file === undefined ? undefined : await sizeOf(file)
      await withStore(options, async (store) => {
        const progress = new Progress('put-file', totalBytes === undefined ? {} : { totalBytes })
        let cid: Awaited<ReturnType<typeof store.putFile>>
        let bytes = 0
        try {
          const source = counted(file === undefined ? readStdin() : readFileChunks(file), progress, interrupt.signal)
          const sized = (async function* () {
            for await (const chunk of source) {
              bytes += chunk.length
              yield chunk
            }
          })()
          cid = await store.putFile(sized, { ...(options.type === undefined ? {} : { type: options.type }), ...apiProgress(progress, interrupt.signal) })
        } catch (err) {
          progress.clear()
          throw err
        }
        progress.finish()
        await print(options, { cid: cid.toString(), bytes }, () => cid.toString())
      })
    })

  withCommon(program.command('cat'))
    .argument('<cid>', 'the CID of a file')
    .description('write a stored file’s bytes to stdout (each block verified before its bytes leave)')
    .addHelpText('after', '\nExample:\n  $ cairn cat bafybei… > photo.jpg')
    .action(async (cid: string, options: CommonOptions) => {
      const link = parseCid(cid)
      await withStore(options, async (store) => {
        for await (const chunk of store.cat(link)) {
          checkAborted(interrupt.signal)
          await writeStdout(chunk)
        }
      })
    })
}
