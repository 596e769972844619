// A Cairn sync server for Deno: `deno run --allow-net --allow-env --allow-read --allow-write examples/deno-server/server.ts [--path ./data] [--port 8787] [--host 127.0.0.1]`,
// with the same flags and CAIRN_* variables as the Node server (examples/shared/server-config.ts).
// The sync handler is a fetch-API handler, so Deno.serve takes it as is.
import { createSyncHandler, openStore } from 'cairndb'
import { serverConfig } from '../shared/server-config.ts'

// Deno's globals, typed here so `tsc` (which has no Deno lib) checks this file too.
interface DenoLike {
  args: string[]
  env: { get(name: string): string | undefined }
  serve(options: { port: number; hostname: string; onListen?: (addr: { hostname: string; port: number }) => void }, handler: (request: Request) => Promise<Response>): { shutdown(): Promise<void> }
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void
  exit(code?: number): never
}
const Deno: DenoLike = (globalThis as unknown as { Deno: DenoLike }).Deno

let config: ReturnType<typeof serverConfig>
try {
  config = serverConfig(Deno.args, (name) => Deno.env.get(name))
} catch (err) {
  console.error((err as Error).message)
  Deno.exit(2)
}

const store = await openStore(config.path === undefined ? { memory: true } : { path: config.path })
const handler = createSyncHandler(store, { ...config.handler, onError: (err) => console.error('sync handler failed:', err) })
const auth = config.handler.auth?.requireSignedRequests === true ? 'signed requests only' : 'no auth'
const server = Deno.serve(
  { port: config.port, hostname: config.host, onListen: ({ hostname, port }) => console.log(`cairn sync server on http://${hostname}:${port}/cairn (${store.engine} store, ${store.heads.length} head(s), ${auth})`) },
  handler,
)

const stop = async (): Promise<void> => {
  await server.shutdown()
  await store.close()
  Deno.exit(0)
}
Deno.addSignalListener('SIGINT', () => void stop())
Deno.addSignalListener('SIGTERM', () => void stop())
