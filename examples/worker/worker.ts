// A Cairn sync server as a Cloudflare-style worker: the same fetch-API handler, inside workerd.
// The store is opened on the first request (workers may not do async work at load time) and
// lives as long as the isolate: a memory store here; durable edge storage is a later step.
import { createSyncHandler, isDidKey, openStore, type SyncHandler } from 'cairndb'

/** The bindings config.capnp gives the worker (text bindings; empty means unset). */
interface Env {
  CAIRN_ALLOW?: string
  CAIRN_CORS?: string
}

let handler: Promise<SyncHandler> | undefined

function start(env: Env): Promise<SyncHandler> {
  const allowed = new Set(
    (env.CAIRN_ALLOW ?? '')
      .split(',')
      .map((d) => d.trim())
      .filter((d) => d !== ''),
  )
  const cors = (env.CAIRN_CORS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '')
  const bad = [...allowed].find((did) => !isDidKey(did))
  // Every request then answers 500 with this in the log: a typo never serves the store open.
  if (bad !== undefined) return Promise.reject(new TypeError(`CAIRN_ALLOW expected did:keys, got ${JSON.stringify(bad)}`))
  const admit = (did: string): boolean => allowed.has(did)
  return openStore({ memory: true }).then((store) =>
    createSyncHandler(store, {
      ...(allowed.size > 0 ? { auth: { requireSignedRequests: true, canRead: admit, canPush: admit } } : {}),
      ...(cors.length > 0 ? { cors: { origins: cors.includes('*') ? '*' : cors } } : {}),
      onError: (err) => console.error('sync handler failed:', err),
    }),
  )
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    handler ??= start(env)
    return (await handler)(request)
  },
}
