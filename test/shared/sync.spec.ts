// CAR export and import: full and incremental exports (checked against a brute-force walk),
// verified atomic imports, tampered and foreign CARs, merges. Run on every engine of the runtime.
import { describe, expect, test } from 'vitest'
import { CID } from 'multiformats/cid'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { CarReader } from '@ipld/car/reader'
import { CarWriter } from '@ipld/car/writer'
import { importer } from 'ipfs-unixfs-importer'
import { engineKinds, wrapEngine, type EngineFixture, type EngineKind } from '../support/engines.ts'
import { bytesOf, collect, manualClock, pattern, sameBytes } from '../support/stores.ts'
import { CairnStore } from '../../src/store/store.ts'
import type { StorageEngine } from '../../src/storage/interface.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { concatBytes, encodeValue } from '../../src/block/codec.ts'
import { CairnError, type CairnErrorCode } from '../../src/errors/cairn-error.ts'
import { encodeEvent } from '../../src/log/event/format.ts'
import type { EventBlock, StoredEvent } from '../../src/log/event/interface.ts'
import { compareEvents } from '../../src/log/event/order.ts'

const kinds = await engineKinds()

const T0 = 1_700_000_000_000
const DAY = 24 * 60 * 60 * 1000
const CHUNK = 256 * 1024

// ---------------------------------------------------------------------------------------------
// helpers

interface Replica {
  store: CairnStore
  engine: StorageEngine
  fx: EngineFixture
  clock: { now: () => number; set(ms: number): void }
}

/** Opens `n` replicas on fresh places of one engine kind, each on its own manual clock. */
async function withReplicas(kind: EngineKind, n: number, body: (r: Replica[]) => Promise<void>): Promise<void> {
  const fixtures: EngineFixture[] = []
  const replicas: Replica[] = []
  try {
    for (let i = 0; i < n; i++) {
      const fx = await kind.create()
      fixtures.push(fx)
      const engine = await fx.open()
      const clock = manualClock(T0)
      replicas.push({ store: await CairnStore.open(engine, { clock: clock.now }), engine, fx, clock })
    }
    await body(replicas)
  } finally {
    for (const r of replicas) await r.store.close().catch(() => {})
    for (const fx of fixtures) await fx.dispose()
  }
}

/** Closes a replica's store and opens it again on the same place. */
async function reopen(r: Replica): Promise<void> {
  await r.store.close()
  r.engine = await r.fx.open()
  r.store = await CairnStore.open(r.engine, { clock: r.clock.now })
}

async function parseCar(bytes: Uint8Array): Promise<{ roots: CID[]; blocks: BlockRecord[] }> {
  const reader = await CarReader.fromBytes(bytes)
  const blocks: BlockRecord[] = []
  for await (const b of reader.blocks()) blocks.push({ cid: b.cid as unknown as CID, bytes: b.bytes })
  return { roots: (await reader.getRoots()) as unknown as CID[], blocks }
}

function varint(n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** A CARv1 written by hand, so tests can put anything in it (CarWriter would too, but this is plainer). */
function carHeader(roots: readonly CID[]): Uint8Array {
  const header = dagCbor.encode({ version: 1, roots: [...roots] })
  return concatBytes([varint(header.length), header])
}

function encodeCar(roots: readonly CID[], blocks: readonly BlockRecord[]): Uint8Array {
  const parts = [carHeader(roots)]
  for (const b of blocks) parts.push(varint(b.cid.bytes.length + b.bytes.length), b.cid.bytes, b.bytes)
  return concatBytes(parts)
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s)
const keys = (cids: Iterable<CID | string>): string[] => [...cids].map(String).sort()

/** Every CID inside a decoded dag-cbor value. */
function linksIn(value: unknown, out: CID[] = []): CID[] {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return out
  const cid = CID.asCID(value)
  if (cid !== null) {
    out.push(cid)
    return out
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) linksIn(v, out)
  return out
}

/**
 * Brute force, independent of the store's indexes: every block reachable from `from` over
 * every IPLD link there is (an event's parents, prev, data and meta links — which include an
 * `object.put`'s data.cid —, dag-cbor links, dag-pb links). Blocks the engine lacks are skipped.
 */
async function reachable(engine: StorageEngine, from: readonly CID[]): Promise<Set<string>> {
  const seen = new Set<string>()
  const stack = [...from]
  while (stack.length > 0) {
    const cid = stack.pop()!
    const key = cid.toString()
    if (seen.has(key)) continue
    const bytes = await engine.get(cid)
    if (bytes === undefined) continue
    seen.add(key)
    if (cid.code === dagCbor.code) stack.push(...linksIn(dagCbor.decode(bytes)))
    else if (cid.code === dagPb.code) stack.push(...dagPb.decode(bytes).Links.map((l) => l.Hash))
  }
  return seen
}

/**
 * Exports `since` and checks the CAR against the brute force: roots = heads, and the blocks
 * are exactly reachable(heads) − reachable(since), each once, bytes intact.
 */
async function expectExactExport(r: Replica, since: readonly CID[]): Promise<{ car: Uint8Array; blocks: BlockRecord[] }> {
  const car = await bytesOf(r.store.export({ since }))
  const parsed = await parseCar(car)
  expect(keys(parsed.roots)).toEqual(keys(r.store.heads))
  const got = keys(parsed.blocks.map((b) => b.cid))
  expect(new Set(got).size).toBe(got.length) // no block twice
  const ours = await reachable(r.engine, r.store.heads)
  const theirs = await reachable(r.engine, since)
  expect(got).toEqual(keys([...ours].filter((k) => !theirs.has(k))))
  for (const b of parsed.blocks) expect(sameBytes(b.bytes, (await r.engine.get(b.cid))!)).toBe(true)
  return { car, blocks: parsed.blocks }
}

/** A plain view of an event for equality across replicas. */
function plain(e: StoredEvent): unknown {
  return {
    cid: e.cid.toString(),
    stream: e.stream,
    type: e.type,
    ts: e.ts,
    tc: e.tc,
    version: e.version,
    prev: e.prev?.toString() ?? null,
    parents: e.parents.map(String),
    data: dagCbor.encode(e.data ?? null),
  }
}

async function streamsOf(store: CairnStore, streams: readonly string[]): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {}
  for (const s of streams) out[s] = (await collect(store.read(s))).map(plain)
  return out
}

interface Snapshot {
  heads: string[]
  streams: Record<string, unknown[]>
  blocks: BlockRecord[]
}

/** Heads, every stream's events and every block the engine holds: "byte-for-byte" state. */
async function snapshot(r: Replica, streams: readonly string[]): Promise<Snapshot> {
  const blocks = (await collect(r.engine.blocks())).sort((a, b) => (a.cid.toString() < b.cid.toString() ? -1 : 1))
  return { heads: r.store.heads.map(String), streams: await streamsOf(r.store, streams), blocks }
}

function expectSameSnapshot(after: Snapshot, before: Snapshot): void {
  expect(after.heads).toEqual(before.heads)
  expect(after.streams).toEqual(before.streams)
  expect(after.blocks.map((b) => b.cid.toString())).toEqual(before.blocks.map((b) => b.cid.toString()))
  after.blocks.forEach((b, i) => {
    expect(sameBytes(b.bytes, before.blocks[i]!.bytes)).toBe(true)
  })
}

/** Runs an import that must fail with `code` (naming `cid` when given) and leave `r` untouched. */
async function expectRefused(r: Replica, streams: readonly string[], attempt: () => Promise<unknown>, code: CairnErrorCode, cid?: CID, message?: RegExp): Promise<CairnError> {
  const before = await snapshot(r, streams)
  let error: unknown
  try {
    await attempt()
  } catch (err) {
    error = err
  }
  expect(error, `expected ${code}`).toBeInstanceOf(CairnError)
  const e = error as CairnError
  expect(e.code, e.message).toBe(code)
  if (cid !== undefined) {
    expect(e.cid?.toString()).toBe(cid.toString())
    expect(e.message).toContain(cid.toString())
  }
  if (message !== undefined) expect(e.message).toMatch(message)
  expectSameSnapshot(await snapshot(r, streams), before)
  return e
}

const byCid = (blocks: readonly BlockRecord[], cid: CID): BlockRecord => blocks.find((b) => b.cid.equals(cid))!
const without = (blocks: readonly BlockRecord[], cid: CID): BlockRecord[] => blocks.filter((b) => !b.cid.equals(cid))
const sumReducer = (sum: number, e: StoredEvent): number => sum + (typeof (e.data as { n?: unknown })?.n === 'number' ? (e.data as { n: number }).n : 0)
const traceReducer = (trace: string[], e: StoredEvent): string[] => [...trace, `${e.version}:${e.type}:${e.cid}`]

// ---------------------------------------------------------------------------------------------

for (const kind of kinds) {
  describe(`sync on ${kind.name}`, () => {
    test('full export → import into an empty store: same heads, streams, reductions, objects, files; verify clean', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const big = pattern(700_000, 3) // three leaves under a dag-pb root
        const photo = await a!.store.putFile(big, { type: 'photo' })
        const hello = await a!.store.putFile(utf8('hello world'))
        const doc = await a!.store.put({ title: 'x', cover: photo, tags: ['a'] }, { type: 'doc' })
        await a!.store.append({ stream: 'cart-1', type: 'created', data: { doc, n: 0 }, meta: { id: 'c1' } })
        for (let i = 1; i <= 12; i++) {
          a!.clock.set(T0 + (i % 4) * 10) // repeats and steps back: tc breaks the ties
          await a!.store.append({ stream: `cart-${i % 3}`, type: 'added', data: { n: i } })
        }
        await a!.store.appendMany([
          { stream: 'cart-0', type: 'closed', data: { n: 100 } },
          { stream: 'cart-2', type: 'closed' },
        ])
        const streams = ['cart-0', 'cart-1', 'cart-2', '$objects']

        const car = await bytesOf(a!.store.export())
        const parsed = await parseCar(car)
        expect(keys(parsed.roots)).toEqual(keys(a!.store.heads))
        const reach = await reachable(a!.engine, a!.store.heads)
        expect(keys(parsed.blocks.map((x) => x.cid))).toEqual(keys(reach)) // every reachable block, each once
        const verifyA = await a!.store.verify()
        expect(parsed.blocks.length).toBe(verifyA.blocks)

        const eventCount = streams.reduce((n, s) => n + a!.store.version(s), 0)
        const report = await b!.store.import(car)
        expect(report.events).toBe(eventCount)
        expect(report.blocks).toBe(parsed.blocks.length)
        expect(report.foreign).toEqual([])
        expect(keys(report.heads)).toEqual(keys(a!.store.heads))
        expect(keys(report.roots)).toEqual(keys(a!.store.heads))

        const check = async (): Promise<void> => {
          expect(b!.store.heads.map(String)).toEqual(a!.store.heads.map(String))
          expect(await streamsOf(b!.store, streams)).toEqual(await streamsOf(a!.store, streams))
          for (const s of streams) {
            expect(await b!.store.reduce(s, sumReducer, 0)).toBe(await a!.store.reduce(s, sumReducer, 0))
            expect(await b!.store.reduce(s, traceReducer, [])).toEqual(await a!.store.reduce(s, traceReducer, []))
          }
          expect(await b!.store.get(doc)).toEqual({ title: 'x', cover: photo, tags: ['a'] })
          expect(sameBytes(concatBytes(await collect(b!.store.cat(photo))), big)).toBe(true)
          expect(concatBytes(await collect(b!.store.cat(hello)))).toEqual(utf8('hello world'))
          const objs = async (s: CairnStore): Promise<string[]> => (await collect(s.objects())).map((o) => `${o.cid}|${o.type}|${o.size}`).sort()
          expect(await objs(b!.store)).toEqual(await objs(a!.store))
          expect((await collect(b!.store.referrers(photo))).map((r) => r.cid.toString())).toEqual([doc.toString()])
          expect(await b!.store.verify()).toEqual({ ...verifyA, dangling: [] })
        }
        await check()
        if (kind.persistent) {
          await reopen(b!)
          await check()
        }

        // import also takes the export stream directly, and a second time it is a no-op
        const again = await b!.store.import(a!.store.export())
        expect(again).toMatchObject({ blocks: 0, events: 0, foreign: [] })
      })
    })

    test('incremental export holds exactly reachable(ours) − reachable(since): shared chunks, re-put objects, unknown and old since', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const X = pattern(CHUNK, 11)
        const Y = pattern(CHUNK, 12)
        const Z = pattern(CHUNK, 13)
        // common base: events, an object and a two-chunk file X+Y
        const first = await a!.store.append({ stream: 's1', type: 'created', data: { n: 1 } })
        await a!.store.append({ stream: 's2', type: 'created', data: { n: 2 } })
        const obj = await a!.store.put({ shared: true, n: 1 }, { type: 'doc' })
        const f1 = await a!.store.putFile(concatBytes([X, Y]))
        await a!.store.append({ stream: 's1', type: 'linked', data: { obj, f1 } })
        await expectExactExport(a!, [])
        await b!.store.import(a!.store.export({ since: b!.store.heads }))
        expect(b!.store.heads.map(String)).toEqual(a!.store.heads.map(String))
        const base = a!.store.heads

        // divergence
        a!.clock.set(T0 + 1_000)
        b!.clock.set(T0 + 900)
        const f2 = await a!.store.putFile(concatBytes([X, Z])) // shares chunk X with f1
        await a!.store.put({ shared: true, n: 1 }, { type: 'note' }) // same object, another type
        const fresh = await a!.store.put({ fresh: true, f1, f2 }, { type: 'doc' }) // links to old and new
        await a!.store.append({ stream: 's1', type: 'linked', data: { obj, f1, fresh } })
        const g = pattern(300_000, 14) // the same file put on both replicas
        const gA = await a!.store.putFile(g, { type: 'g' })
        const gB = await b!.store.putFile(g, { type: 'g' })
        expect(gA.equals(gB)).toBe(true)
        await b!.store.append({ stream: 's2', type: 'b-only', data: { n: 5 } })
        await b!.store.put({ from: 'b' })

        // A never saw B's heads: they are ignored and A sends all it has
        const blind = await expectExactExport(a!, b!.store.heads)
        expect(blind.blocks.length).toBe((await reachable(a!.engine, a!.store.heads)).size)
        // B → A with A's (unknown to B) heads: a full export of B
        await a!.store.import(b!.store.export({ since: a!.store.heads }))
        // now A knows B's heads: exact diff, and neither X, nor g's blocks, nor the re-put object travel
        const diff = await expectExactExport(a!, b!.store.heads)
        const sent = new Set(diff.blocks.map((x) => x.cid.toString()))
        const xLeaf = (await collect(b!.engine.blocks())).find((blk) => blk.bytes.length === CHUNK && sameBytes(blk.bytes, X))!
        expect(xLeaf).toBeDefined()
        expect(sent.has(xLeaf.cid.toString())).toBe(false)
        expect(sent.has(f2.toString())).toBe(true)
        expect(sent.has(fresh.toString())).toBe(true)
        expect(sent.has(obj.toString())).toBe(false)
        expect(sent.has(gA.toString())).toBe(false)
        expect(diff.blocks.filter((blk) => blk.bytes.length === CHUNK)).toHaveLength(1) // only Z
        // since = unknown CIDs (ignored) mixed with known heads, or alone
        const unknown = [encodeValue({ never: 'stored' }).cid, (await encodeEventLike('ghost')).cid]
        const withUnknown = await expectExactExport(a!, [...unknown, ...b!.store.heads])
        expect(keys(withUnknown.blocks.map((x) => x.cid))).toEqual(keys(diff.blocks.map((x) => x.cid)))
        await expectExactExport(a!, unknown)
        // since = our own heads: the header and nothing else
        const none = await expectExactExport(a!, a!.store.heads)
        expect(none.blocks).toEqual([])
        expect(none.car.length).toBe(carHeader(a!.store.heads).length)
        // since = an old ancestor, alone or with a newer head
        await expectExactExport(a!, [first.cid])
        await expectExactExport(a!, [first.cid, ...base])
        await expectExactExport(a!, base)
        // B has only what the exact diff gave it and ends equal to A
        const report = await b!.store.import(diff.car)
        expect(report.blocks).toBe(diff.blocks.length)
        expect(b!.store.heads.map(String)).toEqual(a!.store.heads.map(String))
        const streams = ['s1', 's2', '$objects']
        expect(await streamsOf(b!.store, streams)).toEqual(await streamsOf(a!.store, streams))
        expect(sameBytes(concatBytes(await collect(b!.store.cat(f2))), concatBytes([X, Z]))).toBe(true)
        expect((await b!.store.verify()).dangling).toEqual([])
        expect((await b!.store.verify()).blocks).toBe((await a!.store.verify()).blocks)
        // and B → A is now empty
        expect((await expectExactExport(b!, a!.store.heads)).blocks).toEqual([])
      })
    })

    test('export cost grows with what is new: 5 events back in a 2,000-event log reads 5 blocks', async () => {
      const fx = await kind.create()
      try {
        let gets = 0
        const counted = (inner: StorageEngine): StorageEngine =>
          wrapEngine(inner, {
            get: (cid) => {
              gets++
              return inner.get(cid)
            },
          })
        let store = await CairnStore.open(counted(await fx.open()))
        const events = await store.appendMany(Array.from({ length: 2000 }, (_, i) => ({ stream: `s${i % 10}`, type: 'tick', data: { i } })))
        const since = [events[1994]!.cid]
        const expected = keys(events.slice(1995).map((e) => e.cid))
        const incremental = async (): Promise<void> => {
          gets = 0
          const car = await bytesOf(store.export({ since }))
          const parsed = await parseCar(car)
          expect(keys(parsed.blocks.map((x) => x.cid))).toEqual(expected)
          expect(gets).toBeLessThanOrEqual(10)
          expect(car.length).toBeLessThan(2_000)
        }
        await incremental()
        // for contrast, a full export reads the whole log
        gets = 0
        expect((await parseCar(await bytesOf(store.export()))).blocks).toHaveLength(2000)
        expect(gets).toBeGreaterThanOrEqual(2000)
        if (kind.persistent) {
          await store.close()
          store = await CairnStore.open(counted(await fx.open()))
          await incremental()
        }
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('import is idempotent and order-independent (three CARs in every order give equal heads)', async () => {
      await withReplicas(kind, 3 + 6, async (rs) => {
        const [a, b, c] = rs as [Replica, Replica, Replica]
        const targets = rs.slice(3)
        await a.store.append({ stream: 'shared', type: 'a', data: { n: 1 } })
        await a.store.put({ by: 'a' }, { type: 'doc' })
        await b.store.import(a.store.export())
        b.clock.set(T0 + 5)
        await b.store.append({ stream: 'shared', type: 'b', data: { n: 2 } })
        await b.store.append({ stream: 'y', type: 'b', data: { n: 3 } })
        c.clock.set(T0 + 5)
        await c.store.append({ stream: 'shared', type: 'c', data: { n: 4 } })
        await c.store.putFile(pattern(1000, 5))
        await c.store.put({ by: 'a' }, { type: 'doc' }) // the same object as A's, recorded by C
        const cars = [await bytesOf(a.store.export()), await bytesOf(b.store.export()), await bytesOf(c.store.export())]
        const orders = [
          [0, 1, 2],
          [0, 2, 1],
          [1, 0, 2],
          [1, 2, 0],
          [2, 0, 1],
          [2, 1, 0],
        ]
        const streams = ['shared', 'y', '$objects']
        const expectedHeads = keys([...b.store.heads, ...c.store.heads])
        let reference: Record<string, unknown[]> | undefined
        for (const [i, order] of orders.entries()) {
          const t = targets[i]!
          for (const which of order) {
            const first = await t.store.import(cars[which]!)
            const headsAfter = t.store.heads.map(String)
            const second = await t.store.import(cars[which]!)
            expect(second).toMatchObject({ blocks: 0, events: 0, foreign: [] })
            expect(second.heads.map(String)).toEqual(headsAfter)
            expect(first.heads.map(String)).toEqual(headsAfter)
          }
          expect(keys(t.store.heads)).toEqual(expectedHeads)
          const state = await streamsOf(t.store, streams)
          expect(state['shared']!.map((e) => (e as { version: number }).version)).toEqual([1, 2, 3])
          if (reference === undefined) reference = state
          else expect(state).toEqual(reference)
          expect((await t.store.verify()).dangling).toEqual([])
        }
      })
    })

    test('concurrent appends to one stream merge into the same canonical order on both sides', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        await a!.store.append({ stream: 'cart', type: 'opened', data: { n: 0 } }, { expectedVersion: 0 })
        await b!.store.import(a!.store.export())
        a!.clock.set(T0 + 10)
        b!.clock.set(T0 + 10) // equal wall clocks: the CID breaks ties
        const fromA = [await a!.store.append({ stream: 'cart', type: 'added', data: { n: 1, by: 'a' } }, { expectedVersion: 1 })]
        a!.clock.set(T0 + 30)
        fromA.push(await a!.store.append({ stream: 'cart', type: 'added', data: { n: 2, by: 'a' } }, { expectedVersion: 2 }))
        const fromB: StoredEvent[] = []
        for (let i = 0; i < 3; i++) {
          b!.clock.set(T0 + 10 + i * 15)
          fromB.push(await b!.store.append({ stream: 'cart', type: 'added', data: { n: 10 + i, by: 'b' } }, { expectedVersion: 1 + i }))
        }
        await b!.store.append({ stream: 'other', type: 'noise' })
        await b!.store.import(a!.store.export({ since: b!.store.heads }))
        await a!.store.import(b!.store.export({ since: a!.store.heads }))
        expect(a!.store.heads.map(String)).toEqual(b!.store.heads.map(String))
        expect(a!.store.heads).toHaveLength(2)

        const readA = await collect(a!.store.read('cart'))
        const readB = await collect(b!.store.read('cart'))
        expect(readA.map(plain)).toEqual(readB.map(plain))
        expect(readA.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6])
        const all = [readA[0]!, ...fromA, ...fromB]
        expect(keys(readA.map((e) => e.cid))).toEqual(keys(all.map((e) => e.cid))) // nothing dropped
        const canonical = [...all].sort(compareEvents).map((e) => e.cid.toString())
        expect(readA.map((e) => e.cid.toString())).toEqual(canonical)
        expect(a!.store.version('cart')).toBe(6)
        expect(await a!.store.reduce('cart', sumReducer, 0)).toBe(0 + 1 + 2 + 10 + 11 + 12)

        await expect(a!.store.append({ stream: 'cart', type: 'late' }, { expectedVersion: 3 })).rejects.toMatchObject({ code: 'CAIRN_VERSION_CONFLICT', expectedVersion: 3, actualVersion: 6 })
        const headsBefore = a!.store.heads
        const after = await a!.store.append({ stream: 'cart', type: 'checked-out' }, { expectedVersion: 6 })
        expect(after.version).toBe(7)
        expect(after.parents.map(String)).toEqual(headsBefore.map(String))
        expect(after.prev?.toString()).toBe(readA[5]!.cid.toString())
        expect(a!.store.heads.map(String)).toEqual([after.cid.toString()])
        await b!.store.import(a!.store.export({ since: b!.store.heads }))
        expect(b!.store.heads.map(String)).toEqual([after.cid.toString()])
        expect((await collect(b!.store.read('cart'))).map(plain)).toEqual((await collect(a!.store.read('cart'))).map(plain))
      })
    })

    test('a foreign CAR (UnixFS file, no Cairn events) is kept as an object of type "car"', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const content = pattern(600_000, 21)
        const blocks: BlockRecord[] = []
        let root: CID | undefined
        const sink = {
          put: async (cid: CID, bytes: Uint8Array) => {
            blocks.push({ cid, bytes })
            return cid
          },
        }
        for await (const entry of importer([{ content: [content] }], sink, { cidVersion: 1, rawLeaves: true })) root = entry.cid as unknown as CID
        const { writer, out } = CarWriter.create([root! as never])
        const collecting = bytesOf(out)
        for (const blk of blocks) await writer.put(blk as never)
        await writer.close()
        const car = await collecting

        await a!.store.append({ stream: 'notes', type: 'written', data: { n: 1 } })
        await b!.store.import(a!.store.export())
        const before = a!.store.heads
        const report = await a!.store.import(car)
        expect(report.foreign.map(String)).toEqual([root!.toString()])
        expect(report.events).toBe(0)
        expect(report.roots.map(String)).toEqual([root!.toString()])
        expect(report.blocks).toBe(blocks.length + 1) // the DAG plus the $objects event
        expect(sameBytes(concatBytes(await collect(a!.store.cat(root!))), content)).toBe(true)
        const listed = await collect(a!.store.objects({ type: 'car' }))
        expect(listed.map((o) => o.cid.toString())).toEqual([root!.toString()])
        expect(a!.store.heads).toHaveLength(1)
        expect(a!.store.heads[0]!.equals(listed[0]!.event)).toBe(true)
        expect((await a!.store.getEvent(listed[0]!.event)).parents.map(String)).toEqual(before.map(String))

        const heads = a!.store.heads.map(String)
        const again = await a!.store.import(car)
        expect(again).toMatchObject({ blocks: 0, events: 0, foreign: [] })
        expect(a!.store.heads.map(String)).toEqual(heads)
        expect(await collect(a!.store.objects({ type: 'car' }))).toHaveLength(1)

        // the $objects event makes the next export carry the DAG
        const diff = await expectExactExport(a!, b!.store.heads)
        expect(keys(diff.blocks.map((x) => x.cid))).toEqual(keys([...blocks.map((x) => x.cid), a!.store.heads[0]!]))
        await b!.store.import(diff.car)
        expect(b!.store.heads.map(String)).toEqual(heads)
        expect(sameBytes(concatBytes(await collect(b!.store.cat(root!))), content)).toBe(true)
        expect((await collect(b!.store.objects({ type: 'car' }))).map((o) => o.cid.toString())).toEqual([root!.toString()])
        expect((await b!.store.verify()).dangling).toEqual([])
      })
    })

    test('an export read after later writes still carries every block its events need', async () => {
      // export() is lazy: nothing is decided before the consumer pulls. A write made in between
      // (the app keeps working while the CAR streams out) must not change what the CAR holds.
      await withReplicas(kind, 2, async ([a, b]) => {
        await a!.store.append({ stream: 's', type: 'created' })
        await b!.store.import(a!.store.export())
        const doc = await a!.store.put({ title: 'new doc' }, { type: 'doc' })
        const file = await a!.store.putFile(pattern(CHUNK + 10, 41))
        const since = b!.store.heads
        const heads = a!.store.heads
        const theirs = await reachable(a!.engine, since)
        const exact = keys([...(await reachable(a!.engine, heads))].filter((k) => !theirs.has(k)))
        const pending = a!.store.export({ since })
        const pendingFull = a!.store.export()
        await a!.store.append({ stream: 's', type: 'shared', data: { doc, file } }) // links the new objects again
        await a!.store.put({ title: 'new doc' }, { type: 'note' }) // and re-puts one
        const car = await bytesOf(pending)
        const parsed = await parseCar(car)
        expect(keys(parsed.roots)).toEqual(keys(heads))
        expect(keys(parsed.blocks.map((x) => x.cid))).toEqual(exact)
        await b!.store.import(car)
        expect(b!.store.heads.map(String)).toEqual(heads.map(String))
        await withReplicas(kind, 1, async ([c]) => {
          await c!.store.import(await bytesOf(pendingFull))
          expect(c!.store.heads.map(String)).toEqual(heads.map(String))
        })
      })
    })

    test('put of a value linking to a block the store lacks never leaves the store unexportable or unopenable', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        await a!.store.append({ stream: 's', type: 'created' })
        const heads = a!.store.heads.map(String)
        const ghost = encodeValue({ never: 'stored' }).cid
        let putError: unknown
        try {
          await a!.store.put({ ref: ghost }, { type: 'doc' })
        } catch (err) {
          putError = err
        }
        if (putError !== undefined) {
          // refusing is fine, but then nothing may have been written
          expect(putError).toBeInstanceOf(CairnError)
          expect(a!.store.heads.map(String)).toEqual(heads)
        }
        // either way: the store exports, the CAR imports, verify passes, a reopen works
        const car = await bytesOf(a!.store.export())
        await b!.store.import(car)
        expect(b!.store.heads.map(String)).toEqual(a!.store.heads.map(String))
        await a!.store.verify()
        if (kind.persistent) {
          await reopen(a!)
          expect(a!.store.heads.map(String)).toEqual(b!.store.heads.map(String))
        }
      })
    })

    test('objects() is a projection of the log: equal heads give equal objects() (order and recording event), also after a reopen', async () => {
      await withReplicas(kind, 3, async ([a, b, c]) => {
        b!.clock.set(T0 + 5)
        await a!.store.put({ x: 1 }, { type: 'doc' }) // A records {x:1} first in canonical order
        await b!.store.put({ y: 2 }, { type: 'doc' })
        await b!.store.put({ x: 1 }, { type: 'doc' }) // B records the same object later
        await a!.store.import(b!.store.export())
        await b!.store.import(a!.store.export({ since: b!.store.heads }))
        await c!.store.import(a!.store.export()) // a fresh replica, built from one CAR
        expect(b!.store.heads.map(String)).toEqual(a!.store.heads.map(String))
        const list = async (s: CairnStore): Promise<string[]> => (await collect(s.objects())).map((o) => `${o.cid}|${o.type}|${o.size}|${o.event}`)
        const reference = await list(c!.store)
        expect(await list(a!.store)).toEqual(reference)
        expect(await list(b!.store)).toEqual(reference)
        if (kind.persistent) {
          await reopen(b!)
          expect(await list(b!.store)).toEqual(reference)
        }
      })
    })

    test('an imported object.put whose data is not { cid, type: string, size: int } is refused: CAIRN_INVALID_EVENT', async () => {
      await withReplicas(kind, 1, async ([t]) => {
        const obj = encodeValue({ hi: 1 })
        for (const data of [
          { cid: obj.cid, type: 7, size: 1 },
          { cid: obj.cid, type: 'doc', size: 'big' },
          { cid: obj.cid, type: '', size: -1 },
        ]) {
          const ev = encodeEvent({ v: 1, stream: '$objects', type: 'object.put', ts: T0, tc: 0, prev: null, parents: [], data })
          await expectRefused(t!, ['$objects'], () => t!.store.import(encodeCar([ev.cid], [ev, obj])), 'CAIRN_INVALID_EVENT', ev.cid)
        }
        expect(await collect(t!.store.objects())).toEqual([])
      })
    })

    describe('tampered CARs are refused with a typed error naming the CID, and change nothing', () => {
      const streams = ['s1', 's2', '$objects']

      /** B holds a base; A holds the base plus new events and a two-chunk file; `good` is A's exact diff. */
      async function setup(body: (t: Replica, a: Replica, good: { car: Uint8Array; roots: CID[]; blocks: BlockRecord[] }, ctx: { base: StoredEvent[]; file: CID; leaves: CID[]; newer: StoredEvent }) => Promise<void>): Promise<void> {
        await withReplicas(kind, 2, async ([a, b]) => {
          const base = [
            await a!.store.append({ stream: 's1', type: 'created', data: { n: 1 } }),
            await a!.store.append({ stream: 's2', type: 'created', data: { n: 2 } }),
            await a!.store.append({ stream: 's1', type: 'renamed', data: { n: 3 } }),
          ]
          await b!.store.import(a!.store.export())
          a!.clock.set(T0 + 50)
          const newer = await a!.store.append({ stream: 's1', type: 'updated', data: { n: 4 } })
          const fileBytes = pattern(CHUNK + 1000, 31)
          const file = await a!.store.putFile(fileBytes)
          const car = await bytesOf(a!.store.export({ since: b!.store.heads }))
          const parsed = await parseCar(car)
          const leaves = parsed.blocks.filter((x) => x.cid.code === 0x55).map((x) => x.cid)
          expect(leaves).toHaveLength(2)
          await body(b!, a!, { car, roots: parsed.roots, blocks: parsed.blocks }, { base, file, leaves, newer })
          // the refusals poisoned nothing: the good CAR still imports
          const report = await b!.store.import(car)
          expect([0, 2]).toContain(report.events) // `newer` and the file's object.put, unless the body imported them
          for (const h of a!.store.heads) expect((await b!.store.getEvent(h)).cid.equals(h)).toBe(true)
          expect(sameBytes(concatBytes(await collect(b!.store.cat(file))), fileBytes)).toBe(true)
        })
      }

      /** A valid next event on top of B's state, to be altered. */
      async function nextEvent(t: Replica, over: Partial<EventBlock> = {}): Promise<EventBlock> {
        const head = await t.store.getEvent(t.store.heads[0]!)
        const s1 = await collect(t.store.read('s1'))
        return { v: 1, stream: 's1', type: 'forged', ts: head.ts + 10, tc: 0, prev: s1.at(-1)!.cid, parents: t.store.heads, data: { n: 9 }, ...over }
      }

      test('a block whose bytes do not match its CID (event or file leaf): CAIRN_INVALID_BLOCK', async () => {
        await setup(async (t, _a, good, { newer, leaves }) => {
          const other = encodeValue({ not: 'the event' }).bytes
          const forged = good.blocks.map((x) => (x.cid.equals(newer.cid) ? { cid: x.cid, bytes: other } : x))
          await expectRefused(t, streams, () => t.store.import(encodeCar(good.roots, forged)), 'CAIRN_INVALID_BLOCK', newer.cid)
          const leaf = byCid(good.blocks, leaves[0]!)
          const flipped = Uint8Array.from(leaf.bytes)
          flipped[100] = flipped[100]! ^ 1
          const forgedLeaf = good.blocks.map((x) => (x.cid.equals(leaf.cid) ? { cid: x.cid, bytes: flipped } : x))
          await expectRefused(t, streams, () => t.store.import(encodeCar(good.roots, forgedLeaf)), 'CAIRN_INVALID_BLOCK', leaf.cid)
        })
      })

      test('a missing parent, a missing file chunk, a missing root: CAIRN_MISSING_BLOCK', async () => {
        await setup(async (t, a, good, { newer, leaves, file }) => {
          await expectRefused(t, streams, () => t.store.import(encodeCar(good.roots, without(good.blocks, newer.cid))), 'CAIRN_MISSING_BLOCK', newer.cid, /parent/)
          await expectRefused(t, streams, () => t.store.import(encodeCar(good.roots, without(good.blocks, leaves[1]!))), 'CAIRN_MISSING_BLOCK', leaves[1]!, new RegExp(`object ${file}`))
          await expectRefused(t, streams, () => t.store.import(encodeCar(good.roots, without(good.blocks, file))), 'CAIRN_MISSING_BLOCK', file)
          // a root that is neither in the CAR nor in the store
          const ghost = encodeEvent(await nextEvent(t))
          await expectRefused(t, streams, () => t.store.import(encodeCar([ghost.cid], [])), 'CAIRN_MISSING_BLOCK', ghost.cid, /root/)
          await expectRefused(t, streams, () => t.store.import(encodeCar([...good.roots, ghost.cid], good.blocks)), 'CAIRN_MISSING_BLOCK', ghost.cid)
          // an incremental CAR into a store that lacks its base
          await withReplicas(kind, 1, async ([empty]) => {
            await expectRefused(empty!, streams, () => empty!.store.import(good.car), 'CAIRN_MISSING_BLOCK')
          })
          expect(a.store.heads.map(String)).toEqual(good.roots.map(String))
        })
      })

      test('events stamped at or below a parent or predecessor, or with a prev in another stream: CAIRN_INVALID_EVENT', async () => {
        await setup(async (t) => {
          const head = await t.store.getEvent(t.store.heads[0]!)
          for (const over of [
            { ts: head.ts, tc: head.tc },
            { ts: head.ts - 1, tc: 5 },
          ]) {
            const bad = encodeEvent(await nextEvent(t, over))
            await expectRefused(t, streams, () => t.store.import(encodeCar([bad.cid], [bad])), 'CAIRN_INVALID_EVENT', bad.cid, /stamped above its parent/)
          }
          const s2 = await collect(t.store.read('s2'))
          const crossed = encodeEvent(await nextEvent(t, { prev: s2[0]!.cid }))
          await expectRefused(t, streams, () => t.store.import(encodeCar([crossed.cid], [crossed])), 'CAIRN_INVALID_EVENT', crossed.cid, /predecessor/)
          // a valid event built the same way is accepted (the forgeries failed for their fault alone)
          const ok = encodeEvent(await nextEvent(t))
          const report = await t.store.import(encodeCar([ok.cid], [ok]))
          expect(report.events).toBe(1)
          expect(t.store.heads.map(String)).toEqual([ok.cid.toString()])
        })
      })

      test('an event more than maxClockDrift ahead is refused, and accepted with a larger maxClockDrift', async () => {
        await setup(async (t) => {
          t.clock.set(T0 + 1_000)
          const future = encodeEvent(await nextEvent(t, { ts: T0 + 1_000 + DAY + 1 }))
          const car = encodeCar([future.cid], [future])
          await expectRefused(t, streams, () => t.store.import(car), 'CAIRN_INVALID_EVENT', future.cid, /ahead/)
          await expectRefused(t, streams, () => t.store.import(car, { maxClockDrift: 1000 }), 'CAIRN_INVALID_EVENT', future.cid)
          const report = await t.store.import(car, { maxClockDrift: 2 * DAY })
          expect(report.events).toBe(1)
          // the next local event stamps above it, even though the wall clock is behind
          const next = await t.store.append({ stream: 's1', type: 'after' })
          expect([next.ts, next.tc]).toEqual([T0 + 1_000 + DAY + 1, 1])
          // (the tail of setup then imports A's diff, which merges under it)
        })
      })

      test('an event with an unknown field or wrong types: CAIRN_INVALID_EVENT', async () => {
        await setup(async (t) => {
          const valid = await nextEvent(t)
          const forgeries: [Record<string, unknown>, RegExp][] = [
            [{ ...valid, extra: true }, /unknown field "extra"/],
            [{ ...valid, ts: String(valid.ts) }, /"ts"/],
            [{ ...valid, tc: -1 }, /"tc"/],
            [{ ...valid, v: 2 }, /version/],
            [{ ...valid, stream: '' }, /"stream"/],
            [{ ...valid, parents: [...valid.parents, valid.parents[0]!] }, /sorted/],
            [{ ...valid, prev: 'not a cid' }, /"prev"/],
            [{ ...valid, meta: { id: 7 } }, /meta\.id/],
          ]
          for (const [value, message] of forgeries) {
            const block = encodeValue(value)
            await expectRefused(t, streams, () => t.store.import(encodeCar([block.cid], [block])), 'CAIRN_INVALID_EVENT', block.cid, message)
          }
          // a forged event reached as a parent, not a root
          const badParent = encodeValue({ ...valid, extra: 1 })
          const child = encodeEvent({ ...valid, ts: valid.ts + 1, prev: null, parents: [badParent.cid] })
          await expectRefused(t, streams, () => t.store.import(encodeCar([child.cid], [child, badParent])), 'CAIRN_INVALID_EVENT', badParent.cid)
        })
      })

      test('truncated CARs, garbage headers: CAIRN_INVALID_CAR', async () => {
        await setup(async (t, _a, good) => {
          for (const cut of [good.car.length - 5, good.car.length - 300_000, 20, 1]) {
            await expectRefused(t, streams, () => t.store.import(good.car.subarray(0, cut)), 'CAIRN_INVALID_CAR')
          }
          const garbage = [
            new Uint8Array(0),
            Uint8Array.from([0x05, 0xde, 0xad, 0xbe, 0xef, 0xff]),
            concatBytes([varint(dagCbor.encode({ version: 2, roots: [] }).length), dagCbor.encode({ version: 2, roots: [] })]),
            concatBytes([varint(dagCbor.encode({ version: 1, roots: ['x'] }).length), dagCbor.encode({ version: 1, roots: ['x'] })]),
            concatBytes([varint(dagCbor.encode([1, 2]).length), dagCbor.encode([1, 2])]),
            utf8('{"version":1,"roots":[]}'),
          ]
          for (const g of garbage) await expectRefused(t, streams, () => t.store.import(g), 'CAIRN_INVALID_CAR')
          // a frame that does not start with a CID
          const noCid = concatBytes([carHeader(good.roots), varint(4), Uint8Array.from([0xff, 0xff, 0xff, 0xff])])
          await expectRefused(t, streams, () => t.store.import(noCid), 'CAIRN_INVALID_CAR')
        })
      })

      test('an absurd length prefix is refused from the prefix alone (nothing more is read): CAIRN_TOO_LARGE', async () => {
        await setup(async (t, _a, good) => {
          let readPastPrefix = false
          async function* source(): AsyncGenerator<Uint8Array> {
            yield carHeader(good.roots)
            yield varint(2 ** 40)
            readPastPrefix = true
            throw new Error('the importer read past an absurd length prefix')
          }
          await expectRefused(t, streams, () => t.store.import(source()), 'CAIRN_TOO_LARGE')
          expect(readPastPrefix).toBe(false)
        })
      })

      test('a block over maxBlockBytes (by its prefix or by its bytes) and a CAR over maxBytes: CAIRN_TOO_LARGE', async () => {
        await setup(async (t, _a, good, { leaves }) => {
          const big = byCid(good.blocks, leaves.find((l) => byCid(good.blocks, l).bytes.length === CHUNK)!)
          await expectRefused(t, streams, () => t.store.import(good.car, { maxBlockBytes: 100_000 }), 'CAIRN_TOO_LARGE')
          await expectRefused(t, streams, () => t.store.import(good.car, { maxBlockBytes: CHUNK - 1 }), 'CAIRN_TOO_LARGE', big.cid)
          await expectRefused(t, streams, () => t.store.import(good.car, { maxBytes: good.car.length - 100 }), 'CAIRN_TOO_LARGE')
          const report = await t.store.import(good.car, { maxBlockBytes: CHUNK, maxBytes: good.car.length })
          expect(report.events).toBeGreaterThan(0)
        })
      })
    })
  })
}

/** An event-shaped block nobody stores. */
async function encodeEventLike(tag: string): Promise<{ cid: CID }> {
  return encodeEvent({ v: 1, stream: tag, type: tag, ts: 1, tc: 0, prev: null, parents: [], data: null })
}
