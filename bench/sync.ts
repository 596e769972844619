// Sync figures for `npm run bench`, each beside a baseline measured in the same run (medians):
// CAR export and verified import against @ipld/car on the same bytes, the cost of an
// incremental export as the log grows, and an HTTP sync's bytes on the wire against the bytes
// of the blocks each side actually lacked.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CarBlockIterator, CarWriter } from '@ipld/car'
import type { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import { sha256 } from 'multiformats/hashes/sha2'
import { createSyncHandler, forgetSyncPeer, MemoryStorage, openStore, sync, toNodeListener, type CairnStore, type SyncReport } from 'cairndb'
import { bytesOf, fmt, median, timed } from './measure.ts'
import { withDir } from './scratch.ts'

/** Adds one row to the printed table: what, Cairn's figure, the baseline's, the ratio, the baseline's name. */
export type RowFn = (what: string, cairn: string, baseline: string, ratio: number, baselineName: string) => void

interface Block {
  cid: CID
  bytes: Uint8Array
}

const mbps = (bytes: number, ms: number): string => fmt(bytes / ms / 1000, 'MB/s')

async function drain(it: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0
  for await (const c of it) n += c.length
  return n
}

/** A CAR as a stream of 64 KiB pieces, as it would arrive from a socket or a file. */
function* pieces(car: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < car.length; i += 65536) yield car.subarray(i, i + 65536)
}

async function* asyncPieces(car: Uint8Array): AsyncGenerator<Uint8Array> {
  yield* pieces(car)
}

/** Appends `n` events in batches of 1,000 (appendMany), on `streams` streams named after `tag`. */
async function grow(store: CairnStore, n: number, tag: string, streams = 100): Promise<void> {
  for (let done = 0; done < n; done += 1000) {
    const k = Math.min(1000, n - done)
    await store.appendMany(
      Array.from({ length: k }, (_, i) => ({
        stream: `${tag}-${(done + i) % streams}`,
        type: 'item.added',
        data: { n: done + i, sku: `sku-${((done + i) * 7919) % 100_000}`, qty: 1 + (i % 5) },
      })),
    )
  }
}

/** Every block an engine holds, by CID string, with its size. */
async function blockSizes(engine: MemoryStorage): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for await (const b of engine.blocks()) out.set(b.cid.toString(), b.bytes.length)
  return out
}

/** Bytes of the blocks `from` holds and `to` lacks. */
function lacking(from: Map<string, number>, to: Map<string, number>): number {
  let n = 0
  for (const [k, size] of from) if (!to.has(k)) n += size
  return n
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/cairn`
}

/** Runs the sync benchmarks and adds their rows. */
export async function runSyncBench(row: RowFn, rounds: number): Promise<void> {
  const R = Math.max(3, rounds)

  // 1. Export: a 20k-event log with a few files (memory engine, then the files engine), CAR
  //    streamed out and drained.
  //    Baseline: @ipld/car's CarWriter writing the same blocks, in the same order, from an array.
  // 2. Import with verify into a fresh memory store. Baseline: CarBlockIterator over the same
  //    bytes plus sha2-256 of every block (the floor any verified import pays); second baseline,
  //    the same plus @ipld/dag-cbor's decode of every dag-cbor block (what decoding the events
  //    with the reference decoder adds; Cairn decodes them with its own strict envelope reader).
  {
    const fill = async (store: CairnStore): Promise<void> => {
      await grow(store, 20_000, 'cart')
      for (let i = 0; i < 4; i++) {
        const file = new Uint8Array(2 * 1024 * 1024 + i * 1000)
        let x = 0x9e3779b9 + i
        for (let j = 0; j < file.length; j++) {
          x ^= x << 13
          x ^= x >>> 17
          x ^= x << 5
          file[j] = x & 0xff
        }
        await store.putFile(file)
      }
    }
    /** The store's full export against CarWriter writing the same blocks from an array, interleaved; returns the CAR. */
    const exportRow = async (store: CairnStore, engine: string): Promise<Uint8Array> => {
      const car = await bytesOf(store.export())
      const roots = store.heads
      const blocks: Block[] = []
      for await (const b of await CarBlockIterator.fromIterable(asyncPieces(car))) blocks.push(b)
      const exportMs: number[] = []
      const writerMs: number[] = []
      for (let r = 0; r < R; r++) {
        exportMs.push(
          await timed(async () => {
            if ((await drain(store.export())) !== car.length) throw new Error('export size changed')
          }),
        )
        writerMs.push(
          await timed(async () => {
            const { writer, out } = CarWriter.create(roots)
            const writing = (async () => {
              for (const b of blocks) await writer.put(b)
              await writer.close()
            })()
            if ((await drain(out)) !== car.length) throw new Error('CarWriter wrote a different size')
            await writing
          }),
        )
      }
      const ex = median(exportMs)
      const cw = median(writerMs)
      row(`export, full CAR (${blocks.length} blocks, ${(car.length / 1e6).toFixed(1)} MB), ${engine} engine`, mbps(car.length, ex), mbps(car.length, cw), cw / ex, 'CarWriter, same blocks from an array')
      return car
    }
    const store = await openStore({ memory: true })
    await fill(store)
    const car = await exportRow(store, 'memory')
    const roots = store.heads
    await withDir('cairn-bench-', async (dir) => {
      const onFiles = await openStore({ path: dir })
      try {
        await fill(onFiles)
        await exportRow(onFiles, 'files')
      } finally {
        await onFiles.close()
      }
    })

    const importMs: number[] = []
    const floorMs: number[] = []
    const decodeFloorMs: number[] = []
    /** The floor: every block read and re-hashed; with `decode`, every dag-cbor block also decoded by @ipld/dag-cbor. */
    const floor = (decode: boolean) =>
      timed(async () => {
        for await (const b of await CarBlockIterator.fromIterable(asyncPieces(car))) {
          const digest = (await sha256.digest(b.bytes)).digest
          const want = b.cid.multihash.digest
          for (let i = 0; i < 32; i++) if (digest[i] !== want[i]) throw new Error(`block ${b.cid} does not hash to its CID`)
          if (decode && b.cid.code === dagCbor.code) dagCbor.decode(b.bytes)
        }
      })
    const filesImportMs: number[] = []
    for (let r = 0; r < R; r++) {
      filesImportMs.push(
        await withDir('cairn-bench-import-', async (dir) => {
          const onDisk = await openStore({ path: dir })
          const ms = await timed(async () => {
            await onDisk.import(pieces(car))
          })
          await onDisk.close()
          return ms
        }),
      )
      const fresh = await openStore({ memory: true })
      importMs.push(
        await timed(async () => {
          await fresh.import(pieces(car))
        }),
      )
      if (fresh.heads.map(String).join() !== roots.map(String).join()) throw new Error('import reached other heads')
      await fresh.close()
      floorMs.push(await floor(false))
      decodeFloorMs.push(await floor(true))
    }
    const im = median(importMs)
    const fl = median(floorMs)
    const dfl = median(decodeFloorMs)
    row('import with verify, same CAR, memory engine', mbps(car.length, im), mbps(car.length, fl), fl / im, 'CarBlockIterator + sha2-256 per block')
    row('the same import', mbps(car.length, im), mbps(car.length, dfl), dfl / im, 'CarBlockIterator + sha2-256 + @ipld/dag-cbor decode of every dag-cbor block (reading the events with the reference decoder, no checks)')
    const fim = median(filesImportMs)
    row('import with verify, same CAR, files engine (one commit, fdatasync)', mbps(car.length, fim), mbps(car.length, fl), fl / fim, 'CarBlockIterator + sha2-256 per block (writes nothing)')
    await store.close()
  }

  // 3. Incremental export of 1,000 new events on logs of 10k and 100k events (memory engine):
  //    the cost should follow what is new, not the log's length.
  // 4. HTTP sync over loopback: both sides append 1,000 events to a shared 100k-event log.
  const since = async (store: CairnStore): Promise<{ ms: number; bytes: number }> => {
    const ms: number[] = []
    let bytes = 0
    for (let r = 0; r < 2 * R + 1; r++) {
      // short timings: more rounds for a steadier median
      const before = store.heads
      await grow(store, 1000, `inc${r}`, 10)
      ms.push(
        await timed(async () => {
          bytes = await drain(store.export({ since: before }))
        }),
      )
    }
    return { ms: median(ms), bytes }
  }
  const small = await openStore({ memory: true })
  await grow(small, 10_000, 'log')
  const smallInc = await since(small)
  await small.close()

  const engineA = new MemoryStorage()
  const engineB = new MemoryStorage()
  const a = await openStore({ storage: engineA })
  await grow(a, 100_000, 'log')
  const b = await openStore({ storage: engineB })
  await b.import(a.export())

  // HTTP first, on the shared log of 100k events. Each measured sync starts from a shared
  // history whose last 1,100+ events are linear (as after a long quiet spell), then both
  // sides append 1,000: a merge in the shared tail would hide from the first-parent hints.
  const server = createServer(toNodeListener(createSyncHandler(a)))
  const url = await listen(server)
  type Run = { report: SyncReport; missing: number; withCids: number; ms: number }
  const measure = async (tag: string, options: { gzip: boolean; cold: boolean }): Promise<Run> => {
    if (options.cold) forgetSyncPeer(b)
    await grow(a, 1000, `a-${tag}`, 10)
    await grow(b, 1000, `b-${tag}`, 10)
    const [sa, sb] = [await blockSizes(engineA), await blockSizes(engineB)]
    const missing = lacking(sa, sb) + lacking(sb, sa)
    const count = [...sa.keys()].filter((k) => !sb.has(k)).length + [...sb.keys()].filter((k) => !sa.has(k)).length
    let report: SyncReport | undefined
    const ms = await timed(async () => {
      report = await sync(b, url, { gzip: options.gzip })
    })
    if (a.heads.map(String).join() !== b.heads.map(String).join()) throw new Error('sync did not converge')
    // Settle: one side appends a linear stretch on top of the merge, and both share it.
    await grow(a, 1100, `settle-${tag}`, 10)
    await sync(b, url)
    return { report: report!, missing, withCids: missing + count * 36, ms }
  }
  try {
    await grow(a, 1100, 'settle-0', 10)
    await sync(b, url)
    const runs = { cold: [] as Run[], warm: [] as Run[], gzip: [] as Run[] }
    for (let r = 0; r < R; r++) {
      runs.cold.push(await measure(`c${r}`, { gzip: false, cold: true }))
      runs.warm.push(await measure(`w${r}`, { gzip: false, cold: false }))
      runs.gzip.push(await measure(`g${r}`, { gzip: true, cold: true }))
    }
    const wire = (x: Run): number => x.report.bytesSent + x.report.bytesReceived
    for (const [name, list] of [
      ['first sync with a peer (hints), no gzip', runs.cold],
      ['next sync (agreed heads), no gzip', runs.warm],
      ['first sync, gzip (the default)', runs.gzip],
    ] as const) {
      row(
        `HTTP sync, 1k+1k new events on a shared 100k log, ${name}; ratio = wire ÷ missing (target ≤ 1.05)`,
        `${fmt(median(list.map(wire)) / 1000, 'kB')} on the wire (${median(list.map((x) => wire(x) / x.withCids)).toFixed(2)}× blocks + CIDs), ${median(list.map((x) => x.report.roundTrips))} round trips, ${fmt(median(list.map((x) => x.ms)), 'ms')}`,
        `${fmt(median(list.map((x) => x.missing)) / 1000, 'kB')} missing`,
        median(list.map((x) => wire(x) / x.missing)),
        'bytes of the blocks each side lacked',
      )
    }
  } finally {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  await b.close()

  const bigInc = await since(a)
  await a.close()
  row('incremental export of 1,000 new events, 100k-event log', fmt(bigInc.ms, 'ms'), fmt(smallInc.ms, 'ms'), smallInc.ms / bigInc.ms, 'same on a 10k-event log')
}
