// `npm run bench:peers`: Cairn beside Fireproof and the atproto repo on Cairn's deterministic
// workload (bench/workload.ts), in one run. Each measurement runs in its own fresh child process
// (this file forked with `--case <name>`, the same Node flags), which loads only its side's
// library, runs the case once untimed (warm-up) and then once timed, and sends its samples back
// over IPC: one side's retained heap and JIT state never touch the other's figures. Each round runs
// every pair, alternating which side goes first; the figures are medians over the rounds and every
// sample is kept in results.json. Writes results.json and results.md beside this file.
// Needs the root package built (`npm run build`); BENCH_ROUNDS sets the rounds (default 3).
import { fork } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bytesOf, fmt, median, timed } from '../measure.ts'
import { withDir } from '../scratch.ts'
import { BATCH, EVENTS, eventAt, type WorkloadEvent } from '../workload.ts'

/** Node's collector when run with --expose-gc (the npm script does): called before the timed pass. */
const gc = (globalThis as { gc?: () => void }).gc
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3)
const SINGLE = Number(process.env['BENCH_SINGLE'] ?? 300)
const READS = 50 // streams read (Cairn) / queried (Fireproof) per round, warm
const HERE = fileURLToPath(new URL('.', import.meta.url))
const COLLECTION = 'com.example.entry' as const
/** Where a child leaves the CAR a later child verifies (set by the parent for its children). */
const HANDOFF = process.env['CAIRN_PEERS_HANDOFF'] ?? ''

// Each side's library is loaded only in the children that measure it.
const cairnLib = () => import('../../dist/index.node.js')
const atRepo = () => import('@atproto/repo')
const atCrypto = () => import('@atproto/crypto')

// ---------- the workload, mapped to each peer's natural record ----------

/** Fireproof: one document per event, the event's data at the top level. */
const docOf = (e: WorkloadEvent) => ({ _id: `e${String(e.data.i).padStart(6, '0')}`, ...e.data, stream: e.stream, type: e.type })
/** atproto: one record per event in one collection, rkey from i (`create` is `WriteOpAction.Create`). */
const createOf = <A>(create: A, e: WorkloadEvent) => ({
  action: create,
  collection: COLLECTION,
  rkey: `e${String(e.data.i).padStart(6, '0')}`,
  record: { $type: COLLECTION, stream: e.stream, type: e.type, ...e.data },
})
const batch = (k: number): WorkloadEvent[] => Array.from({ length: Math.min(BATCH, EVENTS - k) }, (_, j) => eventAt(k + j))

// ---------- helpers ----------

async function duBytes(dir: string): Promise<number> {
  let n = 0
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await stat(join(e.parentPath, e.name))).size
  }
  return n
}

/** Fireproof on its Node file storage, everything (data, index, keybag) under `dir`. */
async function openFireproof(dir: string) {
  const { fireproof } = await import('@fireproof/core')
  process.env['FP_KEYBAG_URL'] = `file://${dir}/keybag`
  return fireproof('bench', { storeUrls: { base: `file://${dir}/db` } })
}

let samples: Record<string, number[]> = {}
let sizes: Record<string, number> = {}
const note = (key: string, ms: number): void => {
  samples[key] ??= []
  samples[key].push(ms)
}

// ---------- the cases, each run in its own child process ----------

async function cairnFilesBatched(): Promise<void> {
  const { openStore } = await cairnLib()
  await withDir('cairn-peers-', async (dir) => {
    const store = await openStore({ path: dir })
    note(
      'cairn.files.batched',
      await timed(async () => {
        for (let k = 0; k < EVENTS; k += BATCH) await store.appendMany(batch(k))
      }),
    )
    // Warm reads: one stream (20 events) at a time, each event verified against its CID.
    const per: number[] = []
    for (let s = 0; s < READS; s++) {
      let n = 0
      per.push(
        await timed(async () => {
          for await (const _ of store.read(`acct-${s}`)) n++
        }),
      )
      if (n !== EVENTS / 1000) throw new Error(`cairn read acct-${s}: ${n} events`)
    }
    note('cairn.read', median(per))
    await store.close()
    sizes['cairn.files'] = await duBytes(dir)
  })
}

async function fireproofBulk(): Promise<void> {
  await withDir('fireproof-peers-', async (dir) => {
    const db = await openFireproof(dir)
    note(
      'fireproof.bulk',
      await timed(async () => {
        for (let k = 0; k < EVENTS; k += BATCH) await db.bulk(batch(k).map(docOf))
      }),
    )
    // The first query builds the index over every document; later ones reuse it.
    let rows = 0
    note(
      'fireproof.query.first',
      await timed(async () => {
        rows = (await db.query('stream', { key: 'acct-999', includeDocs: true })).rows.length
      }),
    )
    if (rows !== EVENTS / 1000) throw new Error(`fireproof first query: ${rows} rows`)
    const per: number[] = []
    for (let s = 0; s < READS; s++) {
      per.push(
        await timed(async () => {
          rows = (await db.query('stream', { key: `acct-${s}`, includeDocs: true })).rows.length
        }),
      )
      if (rows !== EVENTS / 1000) throw new Error(`fireproof query acct-${s}: ${rows} rows`)
    }
    note('fireproof.query', median(per))
    await db.close()
    sizes['fireproof.files'] = await duBytes(dir)
  })
}

async function cairnMemorySigned(): Promise<void> {
  const { createIdentity, openStore } = await cairnLib()
  const store = await openStore({ memory: true, signer: await createIdentity() })
  note(
    'cairn.memory.signed.batched',
    await timed(async () => {
      for (let k = 0; k < EVENTS; k += BATCH) await store.appendMany(batch(k))
    }),
  )
  let car: Uint8Array = new Uint8Array()
  note(
    'cairn.export',
    await timed(async () => {
      car = await bytesOf(store.export())
    }),
  )
  await store.close()
  sizes['cairn.car'] = car.length
  await writeFile(join(HANDOFF, 'cairn.car'), car)
}

async function cairnImport(): Promise<void> {
  const { openStore } = await cairnLib()
  const car = new Uint8Array(await readFile(join(HANDOFF, 'cairn.car')))
  const store = await openStore({ memory: true, requireSignatures: true })
  note('cairn.import.signed', await timed(() => store.import(car)))
  let n = 0
  for await (const _ of store.read('acct-0')) n++
  if (n !== EVENTS / 1000) throw new Error(`cairn import: ${n} events in acct-0`)
  await store.close()
}

async function cairnMemoryUnsigned(): Promise<void> {
  const { openStore } = await cairnLib()
  const store = await openStore({ memory: true })
  note(
    'cairn.memory.batched',
    await timed(async () => {
      for (let k = 0; k < EVENTS; k += BATCH) await store.appendMany(batch(k))
    }),
  )
  await store.close()
}

async function atprotoApplyWrites(): Promise<void> {
  const { getFullRepo, MemoryBlockstore, Repo, WriteOpAction } = await atRepo()
  const { Secp256k1Keypair } = await atCrypto()
  const atKey = await Secp256k1Keypair.create()
  const atDid = 'did:example:cairn-bench'
  const storage = new MemoryBlockstore()
  let repo = await Repo.create(storage, atDid, atKey)
  note(
    'atproto.applyWrites',
    await timed(async () => {
      for (let k = 0; k < EVENTS; k += BATCH)
        repo = await repo.applyWrites(
          batch(k).map((e) => createOf(WriteOpAction.Create, e)),
          atKey,
        )
    }),
  )
  let car: Uint8Array = new Uint8Array()
  note(
    'atproto.getFullRepo',
    await timed(async () => {
      car = await bytesOf(getFullRepo(storage, repo.cid))
    }),
  )
  sizes['atproto.car'] = car.length
  await writeFile(join(HANDOFF, 'atproto.car'), car)
  await writeFile(join(HANDOFF, 'atproto.json'), JSON.stringify({ did: atDid, key: atKey.did() }))
}

async function atprotoVerify(): Promise<void> {
  const { verifyRepoCar } = await atRepo()
  const car = new Uint8Array(await readFile(join(HANDOFF, 'atproto.car')))
  const { did, key } = JSON.parse(await readFile(join(HANDOFF, 'atproto.json'), 'utf8')) as { did: string; key: string }
  let n = 0
  note(
    'atproto.verifyRepoCar',
    await timed(async () => {
      n = (await verifyRepoCar(car, did, key)).creates.length
    }),
  )
  if (n !== EVENTS) throw new Error(`verifyRepoCar: ${n} records`)
}

async function cairnSingle(): Promise<void> {
  const { openStore } = await cairnLib()
  await withDir('cairn-peers-', async (dir) => {
    const store = await openStore({ path: dir })
    note(
      'cairn.files.single',
      await timed(async () => {
        for (let i = 0; i < SINGLE; i++) await store.append(eventAt(i))
      }),
    )
    await store.close()
  })
}

async function fireproofPut(): Promise<void> {
  await withDir('fireproof-peers-', async (dir) => {
    const db = await openFireproof(dir)
    note(
      'fireproof.put',
      await timed(async () => {
        for (let i = 0; i < SINGLE; i++) await db.put(docOf(eventAt(i)))
      }),
    )
    await db.close()
  })
}

const CASES = {
  cairnFilesBatched,
  fireproofBulk,
  cairnMemorySigned,
  atprotoApplyWrites,
  cairnImport,
  atprotoVerify,
  cairnSingle,
  fireproofPut,
  cairnMemoryUnsigned,
} satisfies Record<string, () => Promise<void>>
type Case = keyof typeof CASES
type Report = { samples: Record<string, number[]>; sizes: Record<string, number> }

if (process.argv[2] === '--case') {
  // The child: one untimed pass of the case (warm-up: JIT, module init, caches), its samples
  // dropped, a collection, then the timed pass; its samples go back to the parent over IPC.
  const fn = CASES[process.argv[3] as Case]
  if (fn === undefined || process.send === undefined) throw new Error(`unknown case ${process.argv[3]} or no IPC channel`)
  await fn()
  samples = {}
  sizes = {}
  gc?.()
  await fn()
  const report: Report = { samples, sizes }
  // Some peers keep timers or handles open: leave once the report is sent.
  process.send(report, () => process.exit(0))
  await new Promise(() => {})
}

/** Runs one case in a fresh child process (this file, the same Node flags) and merges its samples. */
function runCase(name: Case, handoff: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let report: Report | undefined
    const child = fork(fileURLToPath(import.meta.url), ['--case', name], { env: { ...process.env, CAIRN_PEERS_HANDOFF: handoff } })
    child.on('message', (m) => {
      report = m as Report
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (report === undefined) return reject(new Error(`case ${name}: child exited with ${code} and no report`))
      for (const [k, xs] of Object.entries(report.samples)) for (const x of xs) note(k, x)
      Object.assign(sizes, report.sizes)
      resolve()
    })
  })
}

// Pairs run back to back; odd rounds run the peer first.
const pairs: [string, Case, Case][] = [
  ['batched append + reads (files)', 'cairnFilesBatched', 'fireproofBulk'],
  ['batched append + export (memory, signed)', 'cairnMemorySigned', 'atprotoApplyWrites'],
  ['verified import', 'cairnImport', 'atprotoVerify'],
  ['single appends (files)', 'cairnSingle', 'fireproofPut'],
]

const handoff = await mkdtemp(join(tmpdir(), 'cairn-peers-handoff-'))
const load0 = loadavg()
const t0 = performance.now()
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, cairn, peer] of pairs) {
      for (const c of r % 2 === 0 ? [cairn, peer] : [peer, cairn]) await runCase(c, handoff)
      process.stderr.write(`round ${r + 1}/${ROUNDS}: ${name} done (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`)
    }
    await runCase('cairnMemoryUnsigned', handoff)
  }
} finally {
  await rm(handoff, { recursive: true, force: true })
}
const load1 = loadavg()

// ---------- the table ----------

const med = (k: string): number => median(samples[k]!)
const perSec = (n: number, k: string): number => (n / med(k)) * 1000
const kind = (k: string): string => {
  const xs = samples[k]!
  return `${fmt(Math.min(...xs), 'ms')}–${fmt(Math.max(...xs), 'ms')}`
}

type Row = { what: string; cairn: string; peer: string; peerName: string; ratio: number; target?: number; met?: boolean; cairnKey: string; peerKey: string }
const rows: Row[] = []
function row(what: string, cairnKey: string, cairn: string, peerName: string, peerKey: string, peer: string, target?: number): void {
  const ratio = med(peerKey) / med(cairnKey)
  rows.push({ what, cairn, peer, peerName, ratio, cairnKey, peerKey, ...(target === undefined ? {} : { target, met: ratio >= target }) })
}
const evs = (k: string, n = EVENTS): string => fmt(perSec(n, k), 'events/s')
const recs = (k: string, n = EVENTS): string => fmt(perSec(n, k), 'records/s')
const docs = (k: string, n = EVENTS): string => fmt(perSec(n, k), 'docs/s')
const usPer = (k: string, n = EVENTS): string => fmt((med(k) * 1000) / n, 'µs/record')

row('batched append, 20 × 1,000 (Cairn files engine, fsync per batch)', 'cairn.files.batched', evs('cairn.files.batched'), 'Fireproof `bulk` (file storage)', 'fireproof.bulk', docs('fireproof.bulk'), 10)
row(
  'batched append, 20 × 1,000, signed (Cairn memory, 1 signature per batch)',
  'cairn.memory.signed.batched',
  evs('cairn.memory.signed.batched'),
  'atproto `applyWrites` (MemoryBlockstore, 1 signed commit per batch)',
  'atproto.applyWrites',
  recs('atproto.applyWrites'),
  50,
)
row(`single awaited append ×${SINGLE} (Cairn files engine, fsync each)`, 'cairn.files.single', evs('cairn.files.single', SINGLE), 'Fireproof `put` (file storage)', 'fireproof.put', docs('fireproof.put', SINGLE), 20)
row('verified import of 20k, signatures required, per record', 'cairn.import.signed', usPer('cairn.import.signed'), 'atproto `verifyRepoCar`', 'atproto.verifyRepoCar', usPer('atproto.verifyRepoCar'), 10)
row(
  'full export of 20k to a CAR (memory)',
  'cairn.export',
  `${fmt(med('cairn.export'), 'ms')} (${(sizes['cairn.car']! / 1e6).toFixed(1)} MB)`,
  'atproto `getFullRepo`',
  'atproto.getFullRepo',
  `${fmt(med('atproto.getFullRepo'), 'ms')} (${(sizes['atproto.car']! / 1e6).toFixed(1)} MB)`,
)
row(`read one stream of 20 events, warm, median of ${READS}`, 'cairn.read', fmt(med('cairn.read'), 'ms'), 'Fireproof `query("stream", { key, includeDocs })`, index built', 'fireproof.query', fmt(med('fireproof.query'), 'ms'))

const versions: Record<string, string> = {}
for (const p of ['@fireproof/core', '@atproto/repo', '@atproto/crypto']) versions[p] = JSON.parse(await readFile(join(HERE, 'node_modules', p, 'package.json'), 'utf8')).version
versions['cairndb'] = JSON.parse(await readFile(join(HERE, '..', '..', 'package.json'), 'utf8')).version

const date = new Date().toISOString().slice(0, 10)
const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
const machine = `Node ${process.version.slice(1)}, ${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform}`
/** The ratio within each round (the two sides ran back to back): shows how noisy the machine was. */
const paired = (r: Row): number[] => samples[r.peerKey]!.map((p, i) => p / samples[r.cairnKey]![i]!)
const mark = (r: Row): string => (r.target === undefined ? '' : `≥ ${r.target}× ${r.met ? '✓' : '✗'}`)
const md = [
  `Measured ${date}, ${machine}; medians of ${ROUNDS} rounds, sides interleaved; load average ${load0[0]!.toFixed(2)} before, ${load1[0]!.toFixed(2)} after.`,
  "Each side runs in its own fresh Node process per round (one child per measurement, loading only that side's library), so neither side's heap, caches or JIT state reaches the other. Warm-up, the same for both sides: the child runs the whole case once untimed, collects garbage, then runs it again timed; only the second pass counts.",
  `Versions: cairndb ${versions['cairndb']}, @fireproof/core ${versions['@fireproof/core']}, @atproto/repo ${versions['@atproto/repo']}, @atproto/crypto ${versions['@atproto/crypto']}.`,
  '',
  '| what | Cairn | peer | peer is | ratio of medians | each round | target |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.what} | ${r.cairn} | ${r.peer} | ${r.peerName} | ${r.ratio.toFixed(1)}× | ${paired(r)
        .map((x) => x.toFixed(1))
        .join(', ')} | ${mark(r)} |`,
  ),
  '',
  `Also measured: Cairn memory engine, unsigned, batched ${evs('cairn.memory.batched')}; Fireproof's first \`query\` on the fresh 20k database (builds the index) ${fmt(med('fireproof.query.first'), 'ms')}.`,
  `Storage after 20k events: Cairn files engine ${(sizes['cairn.files']! / 1e6).toFixed(1)} MB, Fireproof files (data, index, keybag) ${(sizes['fireproof.files']! / 1e6).toFixed(1)} MB.`,
  '',
  'What each side does:',
  '- Workload: `eventAt(i)` of bench/workload.ts, 20,000 events (~300-byte blocks) over 1,000 streams, batches of 1,000. Fireproof stores each as the doc `{ _id, i, memo, amount, stream, type }`; atproto as a record of `com.example.entry` with rkey `e000123`.',
  "- Cairn files engine: a fresh temp dir per round; each append/`appendMany` returns after its blocks and head are on disk (fdatasync). Memory engine: nothing written. Signed: an Ed25519 did:key identity, one signature per batch (at its last event). Reads (`store.read(stream)`) verify each event's block against its CID.",
  '- Fireproof: Node file storage (data CARs, WAL, meta, index and keybag) pointed at a fresh temp dir (`storeUrls.base` and `FP_KEYBAG_URL`); blocks encrypted with AES-GCM (its default); `put`/`bulk` await their CAR and head written with `writeFile`, no fsync; not signed. `query` builds a map index on first use, then updates it.',
  '- atproto: `Repo.create` on a `MemoryBlockstore` (nothing written), a secp256k1 keypair from @atproto/crypto; each `applyWrites` of 1,000 creates updates the MST and signs one commit. `getFullRepo` streams the latest commit, MST nodes and records as a CAR. `verifyRepoCar` rehashes every block, checks the one commit signature and the DID, walks the MST and returns every record.',
  '- Cairn verified import: `openStore({ memory: true, requireSignatures: true }).import(car)` of the signed CAR: every block rehashed, every event decoded strictly, re-encoded and validated, each of the 20 batch signatures verified, indexes built.',
  '',
].join('\n')

const results = {
  date,
  node: process.version,
  cpu,
  cores: cpus().length,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  platform: process.platform,
  loadavg: { before: load0, after: load1 },
  versions,
  workload: { events: EVENTS, batch: BATCH, streams: 1000, single: SINGLE, reads: READS, eventAt: 'bench/workload.ts' },
  rounds: ROUNDS,
  isolation: "each measurement in its own fresh child process, loading only its side's library",
  warmUp: 'one untimed pass of the same case in the child, then gc, then the timed pass (both sides)',
  seconds: Math.round((performance.now() - t0) / 1000),
  rows: rows.map((r) => ({ ...r, cairnMedianMs: med(r.cairnKey), peerMedianMs: med(r.peerKey), eachRound: paired(r) })),
  spread: Object.fromEntries(Object.keys(samples).map((k) => [k, kind(k)])),
  samplesMs: samples,
  sizes,
}
await writeFile(join(HERE, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
await writeFile(join(HERE, 'results.md'), `# Cairn beside its peers\n\n${md}`)
console.log(`\n${md}`)
