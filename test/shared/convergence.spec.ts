// Convergence, as a property: replicas that append, put objects and files on their own
// (wandering) clocks and exchange CARs in any order — exact, full or from stale heads — end,
// after one full round of exchanges, with equal heads and equal projections.
import { describe, expect, test } from 'vitest'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { engineKinds, type EngineFixture, type EngineKind } from '../support/engines.ts'
import { collect, manualClock } from '../support/stores.ts'
import { CairnStore } from '../../src/store/store.ts'
import type { StoredEvent } from '../../src/log/event/interface.ts'

const kinds = await engineKinds()
const memory = kinds.find((k) => k.name === 'memory')!
// the runtime's own persistent engine: files in Node/Deno, IndexedDB in the browser
const persistent = kinds.find((k) => k.name === 'files' || k.name === 'indexeddb')!

const T0 = 1_700_000_000_000
const STREAMS = ['a', 'b', 'c'] as const
const ALL_STREAMS = [...STREAMS, '$objects']

type Op =
  | { op: 'append'; r: number; stream: string; n: number }
  | { op: 'many'; r: number; items: { stream: string; n: number }[] }
  | { op: 'put'; r: number; n: number; type: string }
  | { op: 'file'; r: number; bytes: Uint8Array }
  | { op: 'clock'; r: number; delta: number }
  | { op: 'sync'; from: number; to: number; since: 'exact' | 'full' | 'stale'; pick: number }

const replica = fc.nat(3)
const stream = fc.constantFrom(...STREAMS)
const small = fc.nat(4) // few distinct payloads: equal events and objects on several replicas happen
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('append' as const), r: replica, stream, n: small }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('many' as const), r: replica, items: fc.array(fc.record({ stream, n: small }), { minLength: 1, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('put' as const), r: replica, n: small, type: fc.constantFrom('doc', 'note') }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('file' as const), r: replica, bytes: fc.uint8Array({ maxLength: 48 }) }) },
  // small steps, both ways: equal wall times (tc ties) and clocks stepping back
  { weight: 3, arbitrary: fc.record({ op: fc.constant('clock' as const), r: replica, delta: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -5_000, max: 5_000 })) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('sync' as const), from: replica, to: replica, since: fc.constantFrom('exact' as const, 'full' as const, 'stale' as const), pick: fc.nat(50) }) },
)
const scenarioArb = (maxOps: number): fc.Arbitrary<{ n: number; ops: Op[] }> => fc.record({ n: fc.integer({ min: 3, max: 4 }), ops: fc.array(opArb, { minLength: 1, maxLength: maxOps, size: 'max' }) })

interface Replica {
  store: CairnStore
  fx: EngineFixture
  clock: { now: () => number; set(ms: number): void }
  /** Heads this replica had at earlier points: the "stale" since a peer might remember. */
  history: CID[][]
}

async function exchange(from: Replica, to: Replica, since: readonly CID[]): Promise<void> {
  const report = await to.store.import(from.store.export({ since }))
  expect(report.heads.map(String)).toEqual(to.store.heads.map(String))
  to.history.push(to.store.heads)
}

async function run(kind: EngineKind, scenario: { n: number; ops: Op[] }): Promise<void> {
  const rs: Replica[] = []
  try {
    for (let i = 0; i < scenario.n; i++) {
      const fx = await kind.create()
      const clock = manualClock(T0)
      rs.push({ fx, clock, store: await CairnStore.open(await fx.open(), { clock: clock.now }), history: [[]] })
    }
    for (const step of scenario.ops) {
      switch (step.op) {
        case 'append': {
          const r = rs[step.r % rs.length]!
          await r.store.append({ stream: step.stream, type: 'set', data: { n: step.n } })
          r.history.push(r.store.heads)
          break
        }
        case 'many': {
          const r = rs[step.r % rs.length]!
          await r.store.appendMany(step.items.map((it) => ({ stream: it.stream, type: 'add', data: { n: it.n } })))
          r.history.push(r.store.heads)
          break
        }
        case 'put': {
          const r = rs[step.r % rs.length]!
          await r.store.put({ n: step.n }, { type: step.type })
          r.history.push(r.store.heads)
          break
        }
        case 'file': {
          const r = rs[step.r % rs.length]!
          await r.store.putFile(step.bytes)
          r.history.push(r.store.heads)
          break
        }
        case 'clock': {
          const r = rs[step.r % rs.length]!
          r.clock.set(r.clock.now() + step.delta)
          break
        }
        case 'sync': {
          const from = rs[step.from % rs.length]!
          const to = rs[step.to % rs.length]!
          if (from === to) break
          const since = step.since === 'exact' ? to.store.heads : step.since === 'full' ? [] : to.history[step.pick % to.history.length]!
          await exchange(from, to, since)
          break
        }
      }
    }
    // a full round: everyone into the first, then the first into everyone
    const [hub, ...others] = rs as [Replica, ...Replica[]]
    for (const r of others) await exchange(r, hub, hub.store.heads)
    for (const r of others) await exchange(hub, r, r.store.heads)

    const reference = await stateOf(hub.store)
    for (const r of others) expect(await stateOf(r.store)).toEqual(reference)
    // a replica built from one full CAR, and (when the engine keeps data) a reopened replica,
    // compute the same state: it depends on the blocks, not on their arrival order
    const fx = await kind.create()
    try {
      const fresh = await CairnStore.open(await fx.open())
      await fresh.import(hub.store.export())
      expect(await stateOf(fresh)).toEqual(reference)
      await fresh.close()
    } finally {
      await fx.dispose()
    }
    if (kind.persistent) {
      const last = rs.at(-1)!
      await last.store.close()
      last.store = await CairnStore.open(await last.fx.open(), { clock: last.clock.now })
      expect(await stateOf(last.store)).toEqual(reference)
    }
    expect((await hub.store.verify()).dangling).toEqual([])
  } finally {
    for (const r of rs) {
      await r.store.close().catch(() => {})
      await r.fx.dispose()
    }
  }
}

const plain = (e: StoredEvent): string => `${e.version}|${e.cid}|${e.ts}.${e.tc}|${e.type}|${dagCbor.encode(e.data ?? null).join(',')}`

async function stateOf(store: CairnStore): Promise<unknown> {
  const streams: Record<string, string[]> = {}
  const reduced: Record<string, unknown> = {}
  for (const s of ALL_STREAMS) {
    const events = await collect(store.read(s))
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1))
    expect(store.version(s)).toBe(events.length)
    streams[s] = events.map(plain)
    // an order-sensitive fold: equal only if the same events come in the same order
    reduced[s] = await store.reduce(s, (acc: { h: number; count: number }, e) => ({ h: (acc.h * 31 + ((e.data as { n?: number } | null)?.n ?? 7) + e.tc) % 1_000_000_007, count: acc.count + 1 }), { h: 17, count: 0 })
  }
  const objects = (await collect(store.objects())).map((o) => `${o.cid}|${o.type}|${o.size}`).sort()
  return { heads: store.heads.map(String), streams, reduced, objects }
}

describe('convergence', () => {
  test('memory replicas: random appends, puts, files, clocks and exchanges converge', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb(50), (s) => run(memory, s)),
      { numRuns: 100 },
    )
  })

  test(`${persistent.name} replicas: the same property, fewer runs`, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb(25), (s) => run(persistent, s)),
      { numRuns: 20 },
    )
  })
})
