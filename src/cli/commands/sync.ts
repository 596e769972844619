// `serve`, `sync`: HTTP sync between stores (the protocol of createSyncHandler and sync).
import { createServer } from 'node:http'
import process from 'node:process'
import type { Command } from 'commander'
import { createSyncHandler, isDidKey, type SyncAuthOptions, type SyncHandlerOptions, sync, toNodeListener } from '../../index.node.ts'
import { collect, parsePort } from '../args.ts'
import { type CommonOptions, interrupt, loadIdentity, openCliStore, withCommon, withIdentity, withStore } from '../context.ts'
import { UsageError } from '../exit-codes.ts'
import { print, reportJson } from '../output.ts'
import { formatBytes, Progress } from '../progress.ts'

interface ServeOptions extends CommonOptions {
  port: string
  host: string
  basePath: string
  requireSigned?: boolean
  allow?: string[]
  audience?: string[]
  cors?: string[]
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** Registers the sync commands. */
export function syncCommands(program: Command): void {
  withCommon(program.command('serve'))
    .description('serve the store to `cairn sync` and `sync()` clients over HTTP (until Ctrl-C)')
    .option('-p, --port <port>', 'the TCP port (0: any free one)', '8787')
    .option('--host <host>', 'the interface to listen on (127.0.0.1: this machine only)', '127.0.0.1')
    .option('--base-path <path>', 'the path prefix of the routes', '/cairn')
    .option('--require-signed', 'refuse unsigned requests (clients sync with --identity)')
    .option('--allow <did>', 'admit this did:key to pull and push (repeatable; implies --require-signed)', collect)
    .option('--audience <origin>', 'the origin clients address this server by, e.g. https://sync.example.org (repeatable)', collect)
    .option('--cors <origin>', 'let browser apps on this origin sync (repeatable; * for any)', collect)
    .addHelpText(
      'after',
      `
The store stays open (locked) while it serves: other cairn commands on the same folder exit 5
until it stops. Ctrl-C or SIGTERM stops it cleanly (exit 0).

Examples:
  $ cairn serve --port 8787                       # http://127.0.0.1:8787/cairn
  $ cairn serve --allow did:key:z6Mk… --audience http://127.0.0.1:8787`,
    )
    .action(async (options: ServeOptions) => {
      const port = parsePort(options.port)
      const auth: SyncAuthOptions = {}
      if (options.requireSigned === true || options.allow !== undefined) auth.requireSignedRequests = true
      if (options.allow !== undefined) {
        const bad = options.allow.find((did) => !isDidKey(did))
        if (bad !== undefined) throw new UsageError(`--allow expected a did:key (e.g. from \`cairn identity show\`), got ${JSON.stringify(bad)}`)
        const allowed = new Set(options.allow)
        auth.canRead = (did) => allowed.has(did)
        auth.canPush = (did) => allowed.has(did)
      }
      if (options.audience !== undefined) auth.audience = options.audience
      const handlerOptions: SyncHandlerOptions = { basePath: options.basePath, auth }
      if (options.cors !== undefined) handlerOptions.cors = { origins: options.cors.includes('*') ? '*' : options.cors }
      const store = await openCliStore(options)
      try {
        const handler = createSyncHandler(store, {
          ...handlerOptions,
          onError: (error) => process.stderr.write(`cairn serve: ${(error as Error)?.stack ?? String(error)}\n`),
        })
        const server = createServer(toNodeListener(handler))
        await new Promise<void>((resolve, reject) => {
          server.once('error', (err) => reject(new UsageError(`cannot listen on ${options.host}:${port} (${(err as Error).message})`)))
          server.listen(port, options.host, () => resolve())
        })
        const address = server.address()
        const actualPort = typeof address === 'object' && address !== null ? address.port : port
        const host = options.host.includes(':') ? `[${options.host}]` : options.host
        const url = `http://${host}:${actualPort}${options.basePath === '/' ? '' : options.basePath}`
        if (!LOOPBACK.has(options.host) && !auth.requireSignedRequests) {
          process.stderr.write(`cairn: warning: serving on ${options.host} with no authentication: anyone who reaches this port can read and write the store (see --allow, --require-signed)\n`)
        }
        await print(options, { url }, () => `Serving ${options.store} at ${url} (Ctrl-C to stop)`)
        await new Promise<void>((resolve) => {
          if (interrupt.signal.aborted) resolve()
          else interrupt.signal.addEventListener('abort', () => resolve(), { once: true })
        })
        server.closeAllConnections?.()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      } finally {
        await store.close()
      }
    })

  withIdentity(withCommon(program.command('sync')))
    .argument('<url>', 'the server, e.g. http://127.0.0.1:8787/cairn')
    .description('pull what the server has and push what it lacks (each side verified, all or nothing)')
    .addHelpText('after', '\nExamples:\n  $ cairn sync http://127.0.0.1:8787/cairn\n  $ cairn sync https://sync.example.org/cairn --identity ~/.cairn/identity')
    .action(async (url: string, options: CommonOptions) => {
      if (!/^https?:\/\//.test(url)) throw new UsageError(`<url> expected an http:// or https:// URL, got ${JSON.stringify(url)}`)
      const signer = options.identity === undefined ? undefined : await loadIdentity(options.identity)
      await withStore(options, async (store) => {
        const progress = new Progress('sync')
        let report: Awaited<ReturnType<typeof sync>>
        try {
          report = await sync(store, url, { signal: interrupt.signal, ...(signer === undefined ? {} : { signer }) })
        } catch (err) {
          progress.clear()
          throw err
        }
        progress.finish({ bytes: report.bytesSent + report.bytesReceived })
        await print(
          options,
          reportJson(report),
          () =>
            `Pulled ${report.pulled.events} events (${report.pulled.blocks} blocks), pushed ${report.pushed.events} events (${report.pushed.blocks} blocks); ${formatBytes(report.bytesReceived)} in, ${formatBytes(report.bytesSent)} out; heads ${report.heads.join(' ')}`,
        )
      })
    })
}
