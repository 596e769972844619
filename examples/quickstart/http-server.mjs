// A Cairn sync server: `CAIRN_PEERS="did:key:z6Mk…" node http-server.mjs` (Node ≥ 20).
// Listens on 127.0.0.1 only and takes signed requests from the dids in CAIRN_PEERS alone.
import { createServer } from 'node:http'
import { createSyncHandler, openStore, toNodeListener } from 'cairndb'

const port = Number(process.env.PORT ?? 8787)
const origin = `http://127.0.0.1:${port}`
const peers = new Set((process.env.CAIRN_PEERS ?? '').split(/[\s,]+/).filter(Boolean))

const store = await openStore({ path: './server-store' })
const handler = createSyncHandler(store, {
  auth: {
    requireSignedRequests: true, // unsigned, stale, replayed or unknown callers get 401/403
    canRead: (did) => peers.has(did),
    canPush: (did) => peers.has(did),
    audience: origin, // the origin clients sign for
  },
})
const server = createServer(toNodeListener(handler))
server.listen(port, '127.0.0.1', () => console.log(`serving ${origin}/cairn to ${peers.size} peer(s)`))

process.once('SIGINT', () => server.close(() => store.close()))
process.once('SIGTERM', () => server.close(() => store.close()))
