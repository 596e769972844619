import { MemoryBlockstore } from 'blockstore-core/memory'
import { exporter } from 'ipfs-unixfs-exporter'
import { importer } from 'ipfs-unixfs-importer'
import { openStore, type CairnStore } from 'cairndb'
import { appendHeader, runAppendBench } from './append.ts'
import { runSyncBench } from './sync.ts'
import { runTrustBench } from './trust.ts'
import { runIndexBench } from './index/bench.ts'
import { runBrowserBench } from './browser/run.ts'
import { runImportMemoryBench } from './import-memory.ts'
import { fmt, median, timed } from './measure.ts'
import { withDir } from './scratch.ts'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5)

async function rounds(fn: () => Promise<number>): Promise<number> {
  const xs: number[] = []
  for (let i = 0; i < ROUNDS; i++) xs.push(await fn())
  return median(xs)
}

const rows: string[][] = []
function row(what: string, cairn: string, baseline: string, ratio: number, baselineName: string): void {
  rows.push([what, cairn, baseline, `${ratio.toFixed(2)}×`, baselineName])
  console.log(`${what}: ${cairn} | ${baselineName}: ${baseline} | ratio ${ratio.toFixed(2)}`)
}

// 1–2. Appends on the files engine beside same-run floors, interleaved (bench/append.ts):
//    single awaited appends vs write+fsync, appendMany ×1000 vs the durable floor (encode +
//    sha-256 + CAR frames + one write and one fdatasync per 1000), 16 in flight vs one at a time.
console.log(appendHeader())
await runAppendBench(row, ROUNDS)

// 3. Opening a store of 20,000 events: from the index snapshot, and rebuilding the indexes
//    from blocks. Baseline: reading every block of it through the engine without decoding.
{
  await withDir('cairn-bench-', async (dir) => {
    let store = await openStore({ path: dir })
    for (let k = 0; k < 20; k++) await store.appendMany(Array.from({ length: 1000 }, (_, i) => ({ stream: `s${i % 100}`, type: 'tick', data: { k, i } })))
    await store.close()
    const openWith = (rebuildIndex: boolean): Promise<number> =>
      rounds(async () => {
        let s: CairnStore | undefined
        const ms = await timed(async () => {
          s = await openStore({ path: dir, rebuildIndex })
        })
        await s!.close()
        return ms
      })
    const rebuildMs = await openWith(true)
    const openMs = await openWith(false)
    const { openFileStorage } = await import('cairndb')
    const scanMs = await rounds(async () => {
      const ms = await timed(async () => {
        const engine = await openFileStorage(dir)
        for await (const _ of engine.blocks()) {
          /* read only */
        }
        await engine.close()
      })
      return ms
    })
    store = await openStore({ path: dir })
    await store.close()
    row('open 20k events (index snapshot)', fmt(openMs, 'ms'), fmt(scanMs, 'ms'), scanMs / openMs, 'open + read all blocks')
    row('open 20k events (rebuildIndex: every event read and indexed)', fmt(rebuildMs, 'ms'), fmt(scanMs, 'ms'), scanMs / rebuildMs, 'open + read all blocks')
  })
}

// 4. Files in and out. Baseline: ipfs-unixfs-importer/exporter on a MemoryBlockstore
//    (no durability, no verification on read).
{
  const size = 32 * 1024 * 1024
  // Bytes that never repeat: every 256 KiB leaf is its own block (a file of zeros is one leaf
  // 128 times, which flatters both sides).
  const bytes = new Uint8Array(size)
  for (let i = 0, x = 1; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    bytes[i] = x >>> 24
  }
  const chunks = function* () {
    for (let i = 0; i < size; i += 1 << 20) yield bytes.subarray(i, i + (1 << 20))
  }
  let fileCid: unknown
  const putMs = await rounds(() =>
    withDir('cairn-bench-', async (dir) => {
      const store = await openStore({ path: dir })
      const ms = await timed(async () => {
        fileCid = await store.putFile(chunks())
      })
      await store.close()
      return ms
    }),
  )
  const bs = new MemoryBlockstore()
  let refCid: unknown
  const impMs = await rounds(() =>
    timed(async () => {
      for await (const e of importer([{ content: chunks() }], bs, { cidVersion: 1, rawLeaves: true })) refCid = e.cid
    }),
  )
  if (String(fileCid) !== String(refCid)) throw new Error(`putFile CID ${fileCid} differs from the importer's ${refCid}`)
  row('putFile 32 MiB, files engine', fmt(size / putMs / 1000, 'MB/s'), fmt(size / impMs / 1000, 'MB/s'), impMs / putMs, 'importer → MemoryBlockstore')

  await withDir('cairn-bench-', async (dir) => {
    const store = await openStore({ path: dir })
    const cid = await store.putFile(chunks())
    const catMs = await rounds(() =>
      timed(async () => {
        let n = 0
        for await (const c of store.cat(cid)) n += c.length
        if (n !== size) throw new Error('short read')
      }),
    )
    const expMs = await rounds(() =>
      timed(async () => {
        const entry = await exporter(refCid as never, bs)
        if (entry.type !== 'file') throw new Error('not a file')
        let n = 0
        for await (const c of entry.content()) n += c.length
        if (n !== size) throw new Error('short read')
      }),
    )
    await store.close()
    row('cat 32 MiB (verified), files engine', fmt(size / catMs / 1000, 'MB/s'), fmt(size / expMs / 1000, 'MB/s'), expMs / catMs, 'exporter ← MemoryBlockstore, unverified')
  })
}

// 5. CAR export/import, incremental export and HTTP sync (bench/sync.ts).
await runSyncBench(row, ROUNDS)

// 6. Signed appends and signed verified imports beside unsigned ones (bench/trust.ts).
await runTrustBench(row, ROUNDS)

// 7. Chromium: appendMany ×1000 into IndexedDB and a verified CAR import, each beside raw
//    IndexedDB puts in one strict transaction (bench/browser/run.ts; alone: npx tsx bench/browser/run.ts).
await runBrowserBench(row, ROUNDS)

// 8. Import memory: a 2 GiB CAR of one file into the files engine, peak RSS of the importing
//    process beside the streaming floor's (bench/import-memory.ts; CAIRN_BENCH_IMPORT_MB sets the size).
await runImportMemoryBench(row, Number(process.env['CAIRN_BENCH_IMPORT_MB'] ?? 2048))

console.log(`\n| what | Cairn | baseline | Cairn ÷ baseline speed | baseline |\n|---|---|---|---|---|`)
for (const r of rows) console.log(`| ${r.join(' | ')} |`)
console.log(`\n${new Date().toISOString().slice(0, 10)}, Node ${process.versions.node}, median of ${ROUNDS} rounds (Chromium rows: at least 3); ${appendHeader()}`)

// 9. Index and query (issue 4): open, memory, reads, queries and reduces on 1M events (files)
//    and 100k (IndexedDB), with its own table (bench/index/bench.ts; alone: npx tsx bench/index.ts).
await runIndexBench()
