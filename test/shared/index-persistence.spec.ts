// Persisted indexes: a reopen loads the snapshot and indexes only newer events, and gives
// exactly what a rebuild from the blocks gives — after tails, mid-history imports and damage.
import { describe, expect, test } from 'vitest'
import { engineKinds, wrapEngine, type EngineFixture, withFixture } from '../support/engines.ts'
import { collect } from '../support/stores.ts'
import { send, T0, withReplicas } from '../support/replicas.ts'
import { CairnStore } from '../../src/store/store.ts'
import type { StoreOptions } from '../../src/store/options.ts'
import type { StorageEngine } from '../../src/storage/interface.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { encodeValue } from '../../src/block/codec.ts'
import { writeCar } from '../../src/car/writer.ts'

const kinds = (await engineKinds()).filter((k) => k.persistent)

/** Everything the indexes answer, as plain values: two stores agree iff these are equal. */
async function fingerprint(store: CairnStore): Promise<unknown> {
  const all = await collect(store.query({}))
  const system = await collect(store.query({ stream: '$objects' }))
  const streams = [...new Set(all.map((e) => e.stream))].sort()
  const types = [...new Set(all.map((e) => e.type))].sort()
  return {
    all: all.map((e) => [e.cid.toString(), e.stream, e.version]),
    system: system.map((e) => [e.cid.toString(), e.version]),
    streams: await Promise.all(streams.map(async (s) => (await collect(store.read(s))).map((e) => [e.cid.toString(), e.version]))),
    reversed: await Promise.all(streams.map(async (s) => (await collect(store.read(s, { reverse: true, limit: 3 }))).map((e) => e.version))),
    types: await Promise.all(types.map(async (t) => (await collect(store.query({ type: t }))).map((e) => e.cid.toString()))),
    correlated: (await collect(store.correlated('corr-1'))).map((e) => e.cid.toString()),
    causedBy: (await collect(store.causedBy('cause-2'))).map((e) => e.cid.toString()),
    objects: (await collect(store.objects())).map((o) => [o.cid.toString(), o.type, o.size, o.event.toString()]),
    stats: await store.stats(),
    stateHash: (await store.stateHash()).toString(),
    heads: store.heads.map(String),
    version: store.version('s1'),
  }
}

/** Opens the fixture's engine, optionally dropping every derived write (a crash before the snapshot). */
async function openStore(fx: EngineFixture, options: StoreOptions & { dropSnapshots?: boolean; damage?: boolean } = {}): Promise<CairnStore> {
  const inner = await fx.open()
  let engine: StorageEngine = inner
  if (options.dropSnapshots === true) engine = wrapEngine(inner, { writeDerived: async () => {} })
  if (options.damage === true) {
    engine = wrapEngine(inner, {
      readDerived: async (name) => {
        const bytes = await inner.readDerived?.(name)
        if (bytes === undefined) return undefined
        const bad = bytes.slice()
        bad[bad.length >> 1]! ^= 0x40
        return bad
      },
    })
  }
  const { dropSnapshots: _d, damage: _x, ...rest } = options
  return CairnStore.open(engine, rest)
}

/** Appends `n` events over a few streams, types, ids and objects. */
async function fill(store: CairnStore, n: number, tag: string): Promise<void> {
  const note = await store.put({ tag, n }, { type: 'note' })
  for (let i = 0; i < n; i += 10) {
    await store.appendMany(
      Array.from({ length: Math.min(10, n - i) }, (_, j) => ({
        stream: `s${(i + j) % 4}`,
        type: `t${(i + j) % 3}`,
        data: (i + j) % 7 === 0 ? { tag, i: i + j, note } : { tag, i: i + j },
        meta: { correlation: `corr-${(i + j) % 2}`, causation: `cause-${(i + j) % 3}`, id: `${tag}-${i + j}` },
      })),
    )
  }
}

async function rebuilt(fx: EngineFixture): Promise<unknown> {
  const store = await openStore(fx, { rebuildIndex: true })
  try {
    expect(store.indexStatus().fromSnapshot).toBe(false)
    return await fingerprint(store)
  } finally {
    await store.close()
  }
}

for (const kind of kinds) {
  describe(`persisted indexes on ${kind.name}`, () => {
    test('a reopen loads the snapshot, indexes nothing, and answers as a rebuild does', async () => {
      await withFixture(kind, async (fx) => {
        const store = await openStore(fx)
        await fill(store, 60, 'a')
        const before = await fingerprint(store)
        await store.close()
        const again = await openStore(fx)
        expect(again.indexStatus()).toEqual({ fromSnapshot: true, indexedOnOpen: 0, snapshotEvents: 61 })
        expect(await fingerprint(again)).toEqual(before)
        // An export from indexes loaded from a snapshot still carries every linked block.
        const copy = await CairnStore.open(new MemoryStorage())
        await copy.import(again.export())
        expect(await copy.verify()).toMatchObject({ dangling: [] })
        expect(await fingerprint(copy)).toEqual(before)
        await copy.close()
        // Appends after a snapshot load land in the right places too.
        await fill(again, 15, 'b')
        const after = await fingerprint(again)
        await again.close()
        expect(await rebuilt(fx)).toEqual(after)
      })
    })

    test('close writes a snapshot however little changed since the last one, and an open that indexed a tail persists it', async () => {
      await withFixture(kind, async (fx) => {
        const first = await openStore(fx)
        await fill(first, 200, 'a')
        await first.close()
        const second = await openStore(fx)
        await second.append({ stream: 's1', type: 't0' })
        await second.close()
        const third = await openStore(fx, { dropSnapshots: true })
        expect(third.indexStatus()).toMatchObject({ fromSnapshot: true, indexedOnOpen: 0 })
        await third.append({ stream: 's1', type: 't0' })
        await third.close()
        const fourth = await openStore(fx)
        expect(fourth.indexStatus()).toMatchObject({ fromSnapshot: true, indexedOnOpen: 1 })
        await fourth.close()
        const fifth = await openStore(fx)
        expect(fifth.indexStatus()).toMatchObject({ fromSnapshot: true, indexedOnOpen: 0 })
        expect(fifth.version('s1')).toBe(52)
        await fifth.close()
      })
    })

    test('after a snapshot load, an export still sends blocks that event data links to but no object records', async () => {
      await withFixture(kind, async (fx) => {
        // A block reached only by an app link, arriving in a CAR beside the event.
        const source = new MemoryStorage()
        const writer = await CairnStore.open(wrapEngine(source, { close: async () => {} }))
        const x = encodeValue({ linked: 'only' })
        const ev = await writer.append({ stream: 'docs', type: 'linked', data: { x: x.cid } })
        const car = writeCar(
          [ev.cid],
          (async function* () {
            yield { cid: ev.cid, bytes: (await source.get(ev.cid))! }
            yield x
          })(),
        )
        const store = await openStore(fx)
        await store.import(car)
        await store.close()
        const again = await openStore(fx)
        expect(again.indexStatus()).toMatchObject({ fromSnapshot: true, indexedOnOpen: 0 })
        const copy = await CairnStore.open(new MemoryStorage())
        await copy.import(again.export())
        expect(await copy.verify()).toMatchObject({ dangling: [] })
        expect(await copy.get(x.cid)).toEqual(x.value)
        await Promise.all([copy.close(), again.close(), writer.close()])
      })
    })

    test('events committed after the last snapshot (a crash before it was written) are indexed from blocks on open', async () => {
      await withFixture(kind, async (fx) => {
        const first = await openStore(fx)
        await fill(first, 40, 'a')
        await first.close()
        const second = await openStore(fx, { dropSnapshots: true })
        await fill(second, 23, 'b')
        const expected = await fingerprint(second)
        await second.close()
        const third = await openStore(fx)
        expect(third.indexStatus()).toMatchObject({ fromSnapshot: true, indexedOnOpen: 24 })
        expect(await fingerprint(third)).toEqual(expected)
        await third.close()
      })
    })

    test('a long tail after the snapshot is found with one scan of the blocks, not a read per event', async () => {
      await withFixture(kind, async (fx) => {
        const first = await openStore(fx)
        await fill(first, 10, 'a')
        await first.close()
        const second = await openStore(fx, { dropSnapshots: true })
        for (let i = 0; i < 5; i++) {
          await second.appendMany(Array.from({ length: 500 }, (_, j) => ({ stream: `t${j % 9}`, type: 'bulk', data: i * 500 + j })))
        }
        const expected = await fingerprint(second)
        await second.close()
        const inner = await fx.open()
        let gets = 0
        const third = await CairnStore.open(
          wrapEngine(inner, {
            get: (cid) => {
              gets++
              return inner.get(cid)
            },
          }),
        )
        expect(third.indexStatus()).toMatchObject({ fromSnapshot: true, indexedOnOpen: 2500 })
        if (!kind.name.startsWith('blockstore')) expect(gets).toBeLessThan(2100)
        expect(await fingerprint(third)).toEqual(expected)
        await third.close()
      })
    })

    test('a damaged snapshot is ignored: the indexes are rebuilt from blocks, with the same answers', async () => {
      await withFixture(kind, async (fx) => {
        const store = await openStore(fx)
        await fill(store, 30, 'a')
        const expected = await fingerprint(store)
        await store.close()
        const damaged = await openStore(fx, { damage: true })
        expect(damaged.indexStatus()).toMatchObject({ fromSnapshot: false, indexedOnOpen: 31 })
        expect(await fingerprint(damaged)).toEqual(expected)
        await damaged.close()
      })
    })

    test('an import that lands older events mid-history is merged into the loaded indexes, versions shift, and the next open agrees', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        b!.clock.set(T0 + 10)
        await fill(b!.store, 20, 'old')
        a!.clock.set(T0 + 1000)
        await fill(a!.store, 20, 'new')
        // Reopen a so its indexes come from a snapshot, then import b's older history.
        await a!.store.close()
        a!.store = await openStore(a!.fx, { clock: a!.clock.now })
        const before = await collect(a!.store.read('s1'))
        await send(b!.store, a!.store)
        const merged = await collect(a!.store.read('s1'))
        expect(merged.length).toBe(before.length + 5)
        expect(merged.at(-1)!.cid.equals(before.at(-1)!.cid)).toBe(true)
        expect(merged.at(-1)!.version).toBe(before.length + 5)
        const expected = await fingerprint(a!.store)
        await send(a!.store, b!.store)
        expect(await fingerprint(b!.store)).toEqual(expected)
        await a!.store.close()
        a!.store = await openStore(a!.fx, { clock: a!.clock.now })
        expect(await fingerprint(a!.store)).toEqual(expected)
        await a!.store.close()
        expect(await rebuilt(a!.fx)).toEqual(expected)
        a!.store = await openStore(a!.fx, { clock: a!.clock.now })
      })
    })

    test('rebuildIndex ignores the snapshot and writes a fresh one', async () => {
      await withFixture(kind, async (fx) => {
        const store = await openStore(fx)
        await fill(store, 12, 'a')
        await store.close()
        const rebuilt = await openStore(fx, { rebuildIndex: true })
        expect(rebuilt.indexStatus()).toMatchObject({ fromSnapshot: false, indexedOnOpen: 13 })
        await rebuilt.close()
        const next = await openStore(fx)
        expect(next.indexStatus()).toMatchObject({ fromSnapshot: true, indexedOnOpen: 0 })
        await next.close()
        await expect(openStore(fx, { rebuildIndex: 'yes' as unknown as boolean })).rejects.toThrow(TypeError)
      })
    })
  })
}
