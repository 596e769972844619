// The Chromium page of the browser benchmark (bench/browser/run.ts): Cairn on IndexedDB beside
// the floor of what a minimal correct commit must do — the same number of blocks put into one
// object store in ONE readwrite transaction with durability 'strict', plus a heads record.
// Each step is a call to `globalThis.cairnBrowserBench`, timed inside the page with
// performance.now(); the driver interleaves Cairn and floor rounds and takes medians.
import { CarBlockIterator } from '@ipld/car'
import { deleteIndexedDbStorage, openIndexedDbStorage, openStore, type StorageEngine } from 'cairndb'
import { BATCH, eventAt } from '../workload.ts'

type Input = ReturnType<typeof eventAt>

export interface BrowserBenchApi {
  /** appendMany of `events` workload events in batches of `batch` into a new IndexedDB store; resolves the ms spent appending (open and close not timed). */
  appendCairn(name: string, events: number, batch: number): Promise<number>
  /** The floor: `events / batch` strict readwrite transactions, each putting `batch` blocks of `blockBytes` bytes (36-byte keys) plus a heads record. */
  appendFloor(name: string, events: number, batch: number, blockBytes: number): Promise<number>
  /** Builds the workload in a memory store and exports it as a CAR kept in the page; resolves its size, block count and mean block size. */
  makeCar(events: number): Promise<{ bytes: number; blocks: number; meanBlock: number }>
  /** Verified import of the page's CAR into a new IndexedDB store; resolves the ms of `store.import` (open and close not timed). */
  importCairn(name: string): Promise<number>
  /** The floor: the CAR's blocks (parsed before timing) put raw in one strict readwrite transaction, plus a heads record. */
  importFloor(name: string): Promise<number>
  /** appendCairn through an engine whose calls are timed: wall ms per engine method (nested calls overlap) and the total. */
  appendPhases(name: string, events: number, batch: number): Promise<Record<string, number>>
  /** Whether the page is cross-origin isolated (performance.now() precise to ~5 µs). */
  isolated(): boolean
}

const batches = (events: number, batch: number): Input[][] => {
  const out: Input[][] = []
  for (let at = 0; at < events; at += batch) out.push(Array.from({ length: Math.min(batch, events - at) }, (_, k) => eventAt(at + k)))
  return out
}

/** Opens a new database with the floor's schema: `blocks` (binary keys) and `meta`. */
function openRaw(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1)
    req.onupgradeneeded = () => {
      req.result.createObjectStore('blocks')
      req.result.createObjectStore('meta')
    }
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

function deleteRaw(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name)
    req.onsuccess = () => resolve()
    req.onerror = () => reject(req.error)
  })
}

/** One strict readwrite transaction: every block put, then the heads record; resolves on `complete`. */
function putAll(db: IDBDatabase, keys: readonly Uint8Array[], values: readonly Uint8Array[], heads: readonly Uint8Array[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(['blocks', 'meta'], 'readwrite', { durability: 'strict' })
    tx.oncomplete = () => resolve()
    tx.onabort = () => reject(tx.error)
    const blocks = tx.objectStore('blocks')
    for (let i = 0; i < keys.length; i++) blocks.put(values[i], keys[i] as BufferSource)
    tx.objectStore('meta').put([...heads], 'heads')
  })
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n)
  crypto.getRandomValues(out)
  return out
}

let car: Uint8Array | undefined
let carBlocks: { keys: Uint8Array[]; values: Uint8Array[]; roots: Uint8Array[] } | undefined

const api: BrowserBenchApi = {
  async appendCairn(name, events, batch) {
    const inputs = batches(events, batch)
    const store = await openStore({ name })
    let stored = 0
    const t = performance.now()
    for (const b of inputs) {
      const out = await store.appendMany(b)
      stored += out.length
    }
    const ms = performance.now() - t
    if (stored !== events) throw new Error(`appended ${stored} of ${events}`)
    await store.close()
    await deleteIndexedDbStorage(name)
    return ms
  },
  async appendFloor(name, events, batch, blockBytes) {
    const rounds: { keys: Uint8Array[]; values: Uint8Array[] }[] = []
    for (let at = 0; at < events; at += batch) {
      const n = Math.min(batch, events - at)
      rounds.push({ keys: Array.from({ length: n }, () => randomBytes(36)), values: Array.from({ length: n }, () => randomBytes(blockBytes)) })
    }
    const db = await openRaw(name)
    const t = performance.now()
    for (const r of rounds) await putAll(db, r.keys, r.values, [r.keys.at(-1)!])
    const ms = performance.now() - t
    db.close()
    await deleteRaw(name)
    return ms
  },
  async makeCar(events) {
    const mem = await openStore({ memory: true })
    for (const b of batches(events, BATCH)) await mem.appendMany(b)
    const parts: Uint8Array[] = []
    let n = 0
    for await (const c of mem.export()) {
      parts.push(c)
      n += c.length
    }
    await mem.close()
    car = new Uint8Array(n)
    let at = 0
    for (const p of parts) {
      car.set(p, at)
      at += p.length
    }
    const it = await CarBlockIterator.fromBytes(car)
    const keys: Uint8Array[] = []
    const values: Uint8Array[] = []
    for await (const b of it) {
      keys.push(b.cid.bytes.slice())
      values.push(b.bytes.slice())
    }
    carBlocks = { keys, values, roots: (await it.getRoots()).map((c) => c.bytes.slice()) }
    return { bytes: car.length, blocks: keys.length, meanBlock: values.reduce((n, v) => n + v.length, 0) / values.length }
  },
  async importCairn(name) {
    if (car === undefined) throw new Error('makeCar first')
    const store = await openStore({ name })
    const t = performance.now()
    const report = await store.import(car)
    const ms = performance.now() - t
    if (report.blocks !== carBlocks!.keys.length) throw new Error(`imported ${report.blocks} blocks of ${carBlocks!.keys.length}`)
    await store.close()
    await deleteIndexedDbStorage(name)
    return ms
  },
  async importFloor(name) {
    if (carBlocks === undefined) throw new Error('makeCar first')
    const db = await openRaw(name)
    const t = performance.now()
    await putAll(db, carBlocks.keys, carBlocks.values, carBlocks.roots)
    const ms = performance.now() - t
    db.close()
    await deleteRaw(name)
    return ms
  },
  async appendPhases(name, events, batch) {
    const inputs = batches(events, batch)
    const times: Record<string, number> = {}
    const engine = await openIndexedDbStorage(name)
    const timedEngine = new Proxy(engine, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown
        if (typeof v !== 'function' || typeof prop !== 'string') return v
        return (...args: unknown[]) => {
          const t = performance.now()
          const out = (v as (...a: unknown[]) => unknown).apply(target, args)
          const done = () => {
            times[prop] = (times[prop] ?? 0) + performance.now() - t
          }
          if (out instanceof Promise) return out.finally(done)
          done()
          return out
        }
      },
    }) as StorageEngine
    const store = await openStore({ storage: timedEngine })
    for (const k of Object.keys(times)) delete times[k]
    const t = performance.now()
    for (const b of inputs) await store.appendMany(b)
    times['total'] = performance.now() - t
    await store.close()
    await deleteIndexedDbStorage(name)
    return times
  },
  isolated() {
    return globalThis.crossOriginIsolated === true
  },
}

;(globalThis as { cairnBrowserBench?: BrowserBenchApi }).cairnBrowserBench = api
