// README, "Trust: signed events, access rules, policy gates": the fragment below compiles here as it stands in README (npm run typecheck;
// npm run check:readme keeps the two equal). The names it leaves open are declared first.

import { createIdentity, exportIdentity, importIdentity, openStore } from 'cairndb'

const admin = await createIdentity()            // Ed25519; admin.did is a did:key (did:key:z6Mk…)
const writer = await createIdentity()
// In browsers: `await loadIdentity({ name: 'me' })` keeps a non-extractable key in IndexedDB.
// Node/Deno: `await exportIdentity(admin)` gives bytes to keep in a file; `importIdentity(bytes)` reads them.

const access = { admins: [admin.did] }          // the same list on every replica of this store
const hq = await openStore({ memory: true, signer: admin, access })
await hq.grant(writer.did, { streams: 'orders/' })   // a signed event in `$access`

const laptop = await openStore({ memory: true, signer: writer, access })
await laptop.import(hq.export())                 // the grant arrives with the log
await laptop.append({ stream: 'orders/7', type: 'order.placed', data: { total: 12 } })   // signed by writer
await hq.import(laptop.export())                 // verified: signature, then the access rule
console.log(hq.can(writer.did, 'orders/8'), hq.can(writer.did, 'payroll'))   // true false

await hq.revoke(writer.did)                      // writer's events made after seeing this are refused everywhere
