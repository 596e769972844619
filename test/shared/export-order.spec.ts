// What an export writes, block by block, does not depend on how the engine reads: the same log
// gives the same CAR bytes on every engine of the runtime and on an engine without batched
// reads, for a full export and for exports since any earlier heads. The order itself: the new
// events first, newest first in canonical order, then every other block after one that links
// to it (the objects, files and linked values, depth first).
import { CarBlockIterator } from '@ipld/car'
import fc from 'fast-check'
import type { CID } from 'multiformats/cid'
import { describe, expect, test } from 'vitest'
import { blockLinks } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { decodeEvent } from '../../src/log/event/format.ts'
import { compareEvents } from '../../src/log/event/order.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { engineKinds, wrapEngine, type EngineFixture } from '../support/engines.ts'
import { bytesOf, manualClock, sameBytes } from '../support/stores.ts'

const kinds = await engineKinds()

type Op = { op: 'append'; who: number; n: number; stream: number; link: boolean } | { op: 'put'; who: number; link: boolean } | { op: 'file'; who: number; size: number } | { op: 'sync'; from: number } | { op: 'mark' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('append' as const), who: fc.nat(1), n: fc.integer({ min: 1, max: 40 }), stream: fc.nat(4), link: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('put' as const), who: fc.nat(1), link: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('file' as const), who: fc.nat(1), size: fc.oneof(fc.nat(3000), fc.integer({ min: 262_145, max: 600_000 })) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('sync' as const), from: fc.nat(1) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'mark' as const }) },
)

async function blocksOf(car: Uint8Array): Promise<BlockRecord[]> {
  const out: BlockRecord[] = []
  for await (const b of await CarBlockIterator.fromBytes(car)) out.push(b)
  return out
}

/** Checks the order rules on one CAR: events first, newest first; then each block after a block that links to it. */
async function expectExportOrder(car: Uint8Array): Promise<void> {
  const blocks = await blocksOf(car)
  const events: { cid: CID; ts: number; tc: number }[] = []
  let k = 0
  for (; k < blocks.length; k++) {
    const b = blocks[k]!
    const event = await decodeEvent(b.cid, b.bytes).catch(() => undefined)
    if (event === undefined) break
    events.push({ cid: b.cid, ts: event.ts, tc: event.tc })
  }
  for (let i = 1; i < events.length; i++) expect(compareEvents(events[i - 1]!, events[i]!)).toBeGreaterThan(0)
  const linked = new Set<string>()
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!
    if (i >= k) {
      expect(await decodeEvent(b.cid, b.bytes).catch(() => undefined), 'an event after the first other block').toBeUndefined()
      expect(linked.has(b.cid.toString()), `${b.cid} comes before any block linking to it`).toBe(true)
    }
    for (const link of blockLinks(b.cid, b.bytes)) linked.add(link.toString())
  }
}

describe('export order', () => {
  test('the same bytes on every engine and without batched reads; events newest first, then each block after one linking to it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), async (ops) => {
        const clock = manualClock()
        const tick = (): void => clock.set(clock.now() + 7)
        const replicas = [await CairnStore.open(new MemoryStorage(), { clock: clock.now }), await CairnStore.open(new MemoryStorage(), { clock: clock.now })]
        const fixtures: EngineFixture[] = []
        const opened: CairnStore[] = []
        try {
          // What each replica holds to link to (a put must not link to a block its store lacks).
          const objects: CID[][] = [[], []]
          const marks: CID[][] = [[]]
          let counter = 0
          for (const o of ops) {
            tick()
            if (o.op === 'append') {
              const store = replicas[o.who]!
              const held = objects[o.who]!
              const link = o.link && held.length > 0 ? held[counter % held.length] : undefined
              await store.appendMany(Array.from({ length: o.n }, (_, i) => ({ stream: `s${o.stream}`, type: 't', data: { i: counter++, ...(link === undefined || i % 3 !== 0 ? {} : { link }) } })))
            } else if (o.op === 'put') {
              const held = objects[o.who]!
              const link = o.link && held.length > 0 ? held[counter % held.length] : undefined
              held.push(await replicas[o.who]!.put({ n: counter++, ...(link === undefined ? {} : { link }) }))
            } else if (o.op === 'file') {
              const bytes = new Uint8Array(o.size).map((_, i) => (i * 31 + counter) & 255)
              counter++
              objects[o.who]!.push(await replicas[o.who]!.putFile(bytes))
            } else if (o.op === 'sync') {
              const [from, to] = [replicas[o.from]!, replicas[1 - o.from]!]
              await to.import(from.export({ since: to.heads }))
              objects[1 - o.from]!.push(...objects[o.from]!)
            } else marks.push([...replicas[0]!.heads])
          }
          const [a, b] = replicas as [CairnStore, CairnStore]
          await a.import(b.export({ since: a.heads }))
          const sinces = [...marks, [...b.heads]]
          const expected: Uint8Array[] = []
          for (const since of sinces) expected.push(await bytesOf(a.export({ since })))
          for (const car of expected) await expectExportOrder(car)
          // The same log on every engine, and on one that only reads a block at a time.
          const full = expected[0]!
          const engines: { name: string; open: () => Promise<CairnStore> }[] = kinds.map((kind) => ({
            name: kind.name,
            open: async () => {
              const fx = await kind.create()
              fixtures.push(fx)
              return CairnStore.open(await fx.open())
            },
          }))
          engines.push({
            name: 'memory, one read per block',
            open: () => {
              const inner = new MemoryStorage()
              // Overriding get leaves getMany out (see wrapEngine).
              return CairnStore.open(wrapEngine(inner, { get: (cid) => inner.get(cid) }))
            },
          })
          for (const engine of engines) {
            const store = await engine.open()
            opened.push(store)
            await store.import(
              (async function* () {
                yield full
              })(),
            )
            for (let i = 0; i < sinces.length; i++) {
              const car = await bytesOf(store.export({ since: sinces[i]! }))
              expect(sameBytes(car, expected[i]!), `${engine.name}, since #${i}`).toBe(true)
            }
          }
        } finally {
          for (const s of [...replicas, ...opened]) await s.close().catch(() => {})
          for (const fx of fixtures) await fx.dispose()
        }
      }),
      { numRuns: 8 },
    )
  })
})
