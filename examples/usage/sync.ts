// README, "Sync": the fragment below compiles here as it stands in README (npm run typecheck;
// npm run check:readme keeps the two equal). The names it leaves open are declared first.

import * as http from 'node:http'
import { type CairnStore, type CID, createIdentity, createSyncHandler, exportToBlob, exportToFile, importFromBlob, importFromFile, sync, toNodeListener } from 'cairndb'

declare const store: CairnStore
declare const peerHeads: CID[]
declare const since: CID[]
declare const carBytesOrStreamOrIterable: Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>
declare const fileTheUserPicked: Blob
declare const readers: Set<string>
declare const writers: Set<string>
declare function send(chunk: Uint8Array): void

// Archives: a CARv1 whose roots are our heads. `since` = what the receiver holds (its heads,
// or its syncHints() when its newest heads are unknown here) → exactly the blocks it lacks.
for await (const chunk of store.export({ since: peerHeads })) send(chunk)
const report = await store.import(carBytesOrStreamOrIterable)   // { blocks, events, heads, roots, foreign }

// Files (Node/Deno) and Blobs (browsers)
await exportToFile(store, './out.car', { since })                // written to .tmp, fsynced, renamed
await importFromFile(store, './in.car')
const blob = await exportToBlob(store)                            // download it
await importFromBlob(store, fileTheUserPicked)

// HTTP: a fetch-API handler (Node via toNodeListener, Deno.serve, workers) and a client
const handler = createSyncHandler(store, { basePath: '/cairn' })  // (Request) => Promise<Response>
http.createServer(toNodeListener(handler)).listen(8787, '127.0.0.1')   // Node; Deno: Deno.serve({ hostname: '127.0.0.1' }, handler)
const r = await sync(store, 'http://127.0.0.1:8787/cairn')        // both ways, two round trips

// Signed requests: the server knows each caller's did; unsigned, stale, replayed or unknown
// callers are refused (CAIRN_UNAUTHORIZED). CORS for browser apps on other origins.
createSyncHandler(store, {
  auth: {
    requireSignedRequests: true, canRead: (did) => readers.has(did), canPush: (did) => writers.has(did),
    audience: 'https://sync.example.org',   // the origin clients address (needed behind a proxy that changes the host)
  },
  cors: { origins: ['https://app.example.org'] },
})
await sync(store, 'https://sync.example.org/cairn', { signer: await createIdentity() })
