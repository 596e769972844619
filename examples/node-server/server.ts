// A Cairn sync server for Node: `tsx examples/node-server/server.ts [--path ./data] [--port 8787] [--host 127.0.0.1]`,
// plus --allow DID, --audience URL and --cors ORIGIN (each also from CAIRN_* variables: examples/shared/server-config.ts).
// Memory store by default; with --path, the files engine. Clients call sync(store, 'http://host:port/cairn').
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createSyncHandler, openStore, toNodeListener } from 'cairndb'
import { serverConfig } from '../shared/server-config.ts'

let config: ReturnType<typeof serverConfig>
try {
  config = serverConfig(process.argv.slice(2), (name) => process.env[name])
} catch (err) {
  console.error((err as Error).message)
  process.exit(2)
}

const store = await openStore(config.path === undefined ? { memory: true } : { path: config.path })
const handler = createSyncHandler(store, { ...config.handler, onError: (err) => console.error('sync handler failed:', err) })
const server = createServer(toNodeListener(handler))
server.listen(config.port, config.host, () => {
  const { port } = server.address() as AddressInfo
  const auth = config.handler.auth?.requireSignedRequests === true ? 'signed requests only' : 'no auth'
  console.log(`cairn sync server on http://${config.host}:${port}/cairn (${store.engine} store, ${store.heads.length} head(s), ${auth})`)
})

const stop = (): void => {
  server.close()
  server.closeAllConnections()
  void store.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
