// The base corpora the mutators start from, built with the store's public API (append, put,
// putFile, export, import), plus one CAR packed by "other tools" (foreign roots). Each corpus is
// a CAR and the CARs that bring the importing store to its starting state (`prep`).
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { bytesOf } from '../support/stores.ts'
import { cidOf, headerBytes, parseCar, writeParts, type CarLayout, type CarParts } from './car.ts'
import { apply, DEFAULT_LIMITS, judge, Model, type Block, type EventValue } from './oracle.ts'

/** Wall clock of the corpora's writers at their first event. */
export const T0 = 1_700_000_000_000
/** Wall clock of the importing store: after every corpus event. */
export const NOW: number = T0 + 3_600_000

export interface Corpus {
  readonly name: string
  /** CARs imported first, into a fresh store: the state the variants are imported into. */
  readonly prep: readonly Uint8Array[]
  readonly car: Uint8Array
}

/** A corpus with what the mutators need to know of it. */
export interface CorpusInfo {
  readonly corpus: Corpus
  readonly parts: CarParts
  readonly layout: CarLayout
  readonly roots: CID[]
  /** The importing store's state after `prep`, as the oracle sees it. */
  readonly model: Model
  /** Events of the CAR and of the model: stamps and streams, for making events on top. */
  readonly events: ReadonlyMap<string, { cid: CID; ts: number; tc: number; stream: string; type: string }>
  /** Blocks of the CAR that are not events. */
  readonly others: readonly Block[]
}

function writer(start = T0): { store: Promise<CairnStore>; tick(ms?: number): void } {
  let t = start
  return {
    store: CairnStore.open(new MemoryStorage(), { clock: () => t }),
    tick(ms = 1) {
      t += ms
    },
  }
}

/** Deterministic bytes (a file's content). */
function content(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 255
  }
  return out
}

async function logCorpus(): Promise<{ car: Uint8Array; store: CairnStore }> {
  const w = writer()
  const s = await w.store
  await s.append({ stream: 'user-1', type: 'user.created', data: { name: 'Ada' }, meta: { id: 'req-1', correlation: 'signup-9' } })
  await s.append({ stream: 'user-1', type: 'user.renamed', data: { name: 'Ada L.' } })
  w.tick(5)
  await s.append({ stream: 'user-2', type: 'user.created', data: { name: 'Grace', tags: ['x', 1, null, true, -3, 1.5] } })
  const notes = await s.put({ title: 'Notes' }, { type: 'doc' })
  w.tick(2)
  const index = await s.put({ title: 'Index', refs: [notes], blob: new Uint8Array([1, 2, 3]) }, { type: 'doc' })
  const dangling = await cidOf(new TextEncoder().encode('never stored'))
  await s.append({ stream: 'doc-1', type: 'doc.linked', data: { doc: index, gone: dangling }, meta: { causation: 'x' } })
  w.tick(1)
  await s.appendMany([
    { stream: 'cart-1', type: 'item.added', data: { sku: 'a' } },
    { stream: 'cart-1', type: 'item.added', data: { sku: 'b' } },
  ])
  return { car: await bytesOf(s.export()), store: s }
}

async function fileCorpus(): Promise<Uint8Array> {
  const w = writer(T0 + 10)
  const s = await w.store
  const big = await s.putFile(content(300 * 1024, 7))
  w.tick(3)
  const small = await s.putFile(new TextEncoder().encode('hello\n'))
  await s.append({ stream: 'upload-1', type: 'upload.done', data: { file: big, small } })
  const car = await bytesOf(s.export())
  await s.close()
  return car
}

/** Two replicas fork from a common base and one merges: full CARs of both, and the merge as an increment. */
async function mergeCorpora(): Promise<Corpus[]> {
  const wa = writer(T0 + 100)
  const wb = writer(T0 + 100)
  const a = await wa.store
  const b = await wb.store
  await a.append({ stream: 'doc-9', type: 'doc.created', data: { v: 0 } })
  await b.import(await bytesOf(a.export()))
  wa.tick(10)
  await a.append({ stream: 'doc-9', type: 'doc.edited', data: { by: 'a' } })
  await a.put({ note: 'from a' })
  wb.tick(20)
  await b.append({ stream: 'doc-9', type: 'doc.edited', data: { by: 'b' } })
  await b.append({ stream: 'doc-7', type: 'doc.created', data: null })
  await a.import(await bytesOf(b.export({ since: a.heads })))
  wa.tick(50)
  await a.append({ stream: 'doc-9', type: 'doc.merged', data: { heads: a.heads.length } })
  const full = await bytesOf(a.export())
  const bFull = await bytesOf(b.export())
  const increment = await bytesOf(a.export({ since: b.heads }))
  await a.close()
  await b.close()
  return [
    { name: 'merge', prep: [], car: full },
    { name: 'merge-incremental', prep: [bFull], car: increment },
  ]
}

async function incrementalCorpus(): Promise<Corpus> {
  const w = writer(T0 + 1000)
  const s = await w.store
  await s.append({ stream: 'acct-1', type: 'opened', data: { owner: 'x' } })
  const obj = await s.put({ kind: 'terms', version: 1 }, { type: 'terms' })
  const base = await bytesOf(s.export())
  const since = s.heads
  w.tick(100)
  await s.append({ stream: 'acct-1', type: 'deposited', data: { amount: 10, terms: obj } })
  await s.put({ kind: 'terms', version: 2, previous: obj }, { type: 'terms' })
  w.tick(1)
  await s.putFile(content(1000, 3))
  await s.append({ stream: 'acct-2', type: 'opened', data: null, meta: { id: 'open-2' } })
  const car = await bytesOf(s.export({ since }))
  await s.close()
  return { name: 'incremental', prep: [base], car }
}

/** A CAR packed by other tools: a dag-cbor commit-like root over a tree and a raw leaf, and a raw root. */
async function foreignCorpus(): Promise<Uint8Array> {
  const leafBytes = new TextEncoder().encode("a leaf of someone else's tree")
  const leaf = await cidOf(leafBytes, 0x55)
  const treeBytes = dagCbor.encode({ entries: [{ k: 'a', v: leaf }], n: 1 })
  const tree = await cidOf(treeBytes)
  const commitBytes = dagCbor.encode({ did: 'did:plc:x', version: 3, prev: null, rev: 'a', data: tree })
  const commit = await cidOf(commitBytes)
  const rawBytes = new TextEncoder().encode('hello\n')
  const raw = await cidOf(rawBytes, 0x55)
  return writeParts({
    header: headerBytes([commit, raw]),
    frames: [
      { cid: commit.bytes, bytes: commitBytes },
      { cid: tree.bytes, bytes: treeBytes },
      { cid: leaf.bytes, bytes: leafBytes },
      { cid: raw.bytes, bytes: rawBytes },
    ],
  })
}

/**
 * A store holding part of a DAG: an app event links a block whose child never came (app links
 * may dangle). Recording that block as an object later must still find the child missing.
 */
async function partialCorpus(logCar: Uint8Array): Promise<Corpus> {
  const missing = await cidOf(new TextEncoder().encode('a child that never came'), 0x55)
  const partBytes = dagCbor.encode({ part: 1, child: missing })
  const part = await cidOf(partBytes)
  const eventBytes = dagCbor.encode({ v: 1, tc: 0, ts: T0 + 500, data: { doc: part }, prev: null, type: 'linked', stream: 'app-1', parents: [] })
  const event = await cidOf(eventBytes)
  const prep = writeParts({
    header: headerBytes([event]),
    frames: [
      { cid: event.bytes, bytes: eventBytes },
      { cid: part.bytes, bytes: partBytes },
    ],
  })
  return { name: 'partial', prep: [prep], car: logCar }
}

export async function buildCorpora(): Promise<Corpus[]> {
  const log = await logCorpus()
  const logCar = log.car
  await log.store.close()
  return [
    { name: 'log', prep: [], car: logCar },
    { name: 'file', prep: [], car: await fileCorpus() },
    ...(await mergeCorpora()),
    await incrementalCorpus(),
    { name: 'foreign', prep: [], car: await foreignCorpus() },
    { name: 'held', prep: [logCar], car: logCar },
    await partialCorpus(logCar),
  ]
}

/** Builds the oracle's model of the store after `prep` and what the mutators need to know. */
export async function describeCorpus(corpus: Corpus): Promise<CorpusInfo> {
  const model = new Model()
  for (const car of corpus.prep) {
    const verdict = await judge(model, car, { ...DEFAULT_LIMITS, now: NOW })
    if (!verdict.ok) throw new Error(`corpus ${corpus.name}: a prep CAR is not valid: ${verdict.problems.map((p) => p.why).join('; ')}`)
    apply(model, verdict)
  }
  const { parts, layout, roots } = parseCar(corpus.car)
  const events = new Map<string, { cid: CID; ts: number; tc: number; stream: string; type: string }>()
  for (const [k, e] of model.events) events.set(k, e)
  const verdict = await judge(model, corpus.car, { ...DEFAULT_LIMITS, now: NOW })
  if (!verdict.ok) throw new Error(`corpus ${corpus.name} is not valid: ${verdict.problems.map((p) => p.why).join('; ')}`)
  const fresh = new Map<string, { cid: CID; ev: EventValue }>(verdict.fresh)
  for (const [k, { cid, ev }] of fresh) events.set(k, { cid, ts: ev.ts, tc: ev.tc, stream: ev.stream, type: ev.type })
  const others = [...verdict.car.values()].filter((b) => !events.has(b.cid.toString()))
  return { corpus, parts, layout, roots, model, events, others }
}
