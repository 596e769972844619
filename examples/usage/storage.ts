// README, "Other storage": the fragment below compiles here as it stands in README (npm run typecheck;
// npm run check:readme keeps the two equal). The names it leaves open are declared first.

import { FsBlockstore } from 'blockstore-fs'
import { openStore, type StorageEngine } from 'cairndb'

declare const myEngine: StorageEngine

await openStore({ memory: true })                           // throwaway
await openStore({ blockstore: new FsBlockstore('./blocks') })   // any interface-blockstore (blockstore-fs/-idb/-core, Helia's)
await openStore({ storage: myEngine })                      // your own StorageEngine
