// A Cairn sync server for Node: `tsx examples/node-server/server.ts [--path ./data] [--port 8787] [--host 127.0.0.1]`.
// Memory store by default; with --path, the file engine. Clients call sync(store, 'http://host:port/cairn').
import { createServer } from 'node:http'
import { createSyncHandler, openStore, toNodeListener } from 'cairndb'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const path = arg('path')
const port = Number(arg('port') ?? 8787)
const host = arg('host') ?? '127.0.0.1'

const store = await openStore(path === undefined ? { memory: true } : { path })
const handler = createSyncHandler(store, { onError: (err) => console.error('sync handler failed:', err) })
const server = createServer(toNodeListener(handler))
server.listen(port, host, () => {
  console.log(`cairn sync server on http://${host}:${port}/cairn (${store.engine} store, ${store.heads.length} head(s))`)
})

const stop = (): void => {
  server.close()
  server.closeAllConnections()
  void store.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
