// README, "Browsers (IndexedDB)": the fragment below compiles here as it stands in README (npm run typecheck;
// npm run check:readme keeps the two equal). The names it leaves open are declared first.

import { openStore } from 'cairndb'                           // the `browser` export: no Node built-ins
const store = await openStore({ name: 'notes' })            // one IndexedDB database; 'strict' durability
await store.persist()                                       // ask the browser not to evict it (true when granted)
