// The event log, run on every engine that exists in the current runtime.
import { describe, expect, test } from 'vitest'
import { CID } from 'multiformats/cid'
import { engineKinds } from '../support/engines.ts'
import { collect, manualClock, openOn } from '../support/stores.ts'
import { compareEvents } from '../../src/log/event/order.ts'

const kinds = await engineKinds()

for (const kind of kinds) {
  describe(`event log on ${kind.name}`, () => {
    test('append and read two streams with versions, prev and parents', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        expect(store.heads).toEqual([])
        const a1 = await store.append({ stream: 'user-1', type: 'user.created', data: { name: 'Ada' } }, { expectedVersion: 0 })
        const b1 = await store.append({ stream: 'user-2', type: 'user.created', data: { name: 'Bob' } })
        const a2 = await store.append({ stream: 'user-1', type: 'user.renamed', data: { name: 'Ada L.' } }, { expectedVersion: 1 })
        expect(a1.version).toBe(1)
        expect(b1.version).toBe(1)
        expect(a2.version).toBe(2)
        expect(a1.prev).toBeNull()
        expect(a1.parents).toEqual([])
        expect(b1.parents.map(String)).toEqual([a1.cid.toString()])
        expect(b1.prev).toBeNull()
        expect(a2.prev?.toString()).toBe(a1.cid.toString())
        expect(a2.parents.map(String)).toEqual([b1.cid.toString()])
        expect(store.heads.map(String)).toEqual([a2.cid.toString()])
        expect(store.version('user-1')).toBe(2)
        expect(store.version('nobody')).toBe(0)
        const read = await collect(store.read('user-1'))
        expect(read.map((e) => e.type)).toEqual(['user.created', 'user.renamed'])
        expect(read.map((e) => e.version)).toEqual([1, 2])
        expect(read[1]!.data).toEqual({ name: 'Ada L.' })
        expect((await collect(store.read('user-1', { fromVersion: 2 }))).map((e) => e.version)).toEqual([2])
        expect((await collect(store.read('user-1', { toVersion: 1 }))).map((e) => e.version)).toEqual([1])
        expect(await collect(store.read('user-1', { limit: 0 }))).toEqual([])
        expect(await collect(store.read('nobody'))).toEqual([])
        const got = await store.getEvent(a2.cid)
        expect(got).toEqual(a2)
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('HLC stamps: a child is above its parents even when the wall clock goes back', async () => {
      const fx = await kind.create()
      try {
        const clock = manualClock(5_000)
        const store = await openOn(fx, { clock: clock.now })
        const e1 = await store.append({ stream: 's', type: 't' })
        const e2 = await store.append({ stream: 's', type: 't' })
        clock.set(1_000) // clock stepped back
        const e3 = await store.append({ stream: 's', type: 't' })
        clock.set(9_000)
        const e4 = await store.append({ stream: 's', type: 't' })
        expect([e1, e2, e3, e4].map((e) => [e.ts, e.tc])).toEqual([
          [5000, 0],
          [5000, 1],
          [5000, 2],
          [9000, 0],
        ])
        const all = [e4, e2, e1, e3].sort(compareEvents)
        expect(all.map((e) => e.cid.toString())).toEqual([e1, e2, e3, e4].map((e) => e.cid.toString()))
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('appendMany is atomic: a conflict in the last input writes none of them', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        await store.append({ stream: 'acct', type: 'opened' })
        const heads = store.heads
        await expect(
          store.appendMany([
            { stream: 'acct', type: 'deposited', data: 10, expectedVersion: 1 },
            { stream: 'other', type: 'x' },
            { stream: 'acct', type: 'deposited', data: 20, expectedVersion: 1 }, // is at 2 by now
          ]),
        ).rejects.toMatchObject({ code: 'CAIRN_VERSION_CONFLICT', stream: 'acct', expectedVersion: 1, actualVersion: 2 })
        expect(store.heads).toEqual(heads)
        expect(store.version('acct')).toBe(1)
        expect(store.version('other')).toBe(0)
        const many = await store.appendMany([
          { stream: 'acct', type: 'deposited', data: 10, expectedVersion: 1 },
          { stream: 'acct', type: 'deposited', data: 20, expectedVersion: 2 },
          { stream: 'other', type: 'x' },
        ])
        expect(many.map((e) => e.version)).toEqual([2, 3, 1])
        expect(many[1]!.parents.map(String)).toEqual([many[0]!.cid.toString()])
        expect(many[1]!.prev?.toString()).toBe(many[0]!.cid.toString())
        expect(store.heads.map(String)).toEqual([many[2]!.cid.toString()])
        expect(await store.reduce('acct', (sum: number, e) => sum + (typeof e.data === 'number' ? e.data : 0), 0)).toBe(30)
        expect(await store.appendMany([])).toEqual([])
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('wrong expectedVersion is a typed error and writes nothing', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        await expect(store.append({ stream: 'x', type: 't' }, { expectedVersion: 1 })).rejects.toMatchObject({ code: 'CAIRN_VERSION_CONFLICT', expectedVersion: 1, actualVersion: 0 })
        expect(store.heads).toEqual([])
        const e = await store.append({ stream: 'x', type: 't' }, { expectedVersion: 0 })
        await expect(store.append({ stream: 'x', type: 't' }, { expectedVersion: 0 })).rejects.toMatchObject({ code: 'CAIRN_VERSION_CONFLICT' })
        expect(store.heads.map(String)).toEqual([e.cid.toString()])
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('meta.id makes a retried append idempotent; different content under the same id is refused', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        const first = await store.append({ stream: 'o', type: 'placed', data: { n: 1 }, meta: { id: 'req-1' } }, { expectedVersion: 0 })
        const retry = await store.append({ stream: 'o', type: 'placed', data: { n: 1 }, meta: { id: 'req-1' } }, { expectedVersion: 0 })
        expect(retry.cid.equals(first.cid)).toBe(true)
        expect(store.version('o')).toBe(1)
        await expect(store.append({ stream: 'o', type: 'placed', data: { n: 2 }, meta: { id: 'req-1' } })).rejects.toMatchObject({ code: 'CAIRN_DUPLICATE_ID', stream: 'o' })
        const batch = await store.appendMany([
          { stream: 'o', type: 'paid', meta: { id: 'req-2' } },
          { stream: 'o', type: 'paid', meta: { id: 'req-2' } },
        ])
        expect(batch[0]!.cid.equals(batch[1]!.cid)).toBe(true)
        expect(store.version('o')).toBe(2)
        // A batch of new events with retries among them: each result is its own draft's event.
        const mixed = await store.appendMany([
          ...Array.from({ length: 6 }, (_, i) => ({ stream: `m${i}`, type: 'new', data: { i } })),
          { stream: 'o', type: 'placed', data: { n: 1 }, meta: { id: 'req-1' } },
          { stream: 'm0', type: 'new', data: { i: 6 }, meta: { id: 'req-3' } },
          ...Array.from({ length: 4 }, (_, i) => ({ stream: `m${i}`, type: 'new', data: { i: 7 + i } })),
          { stream: 'm0', type: 'new', data: { i: 6 }, meta: { id: 'req-3' } },
          { stream: 'o', type: 'paid', meta: { id: 'req-2' } },
        ])
        expect(mixed.map((e) => [e.stream, e.version, (e.data as { i?: number } | null)?.i])).toEqual([
          ...Array.from({ length: 6 }, (_, i) => [`m${i}`, 1, i]),
          ['o', 1, undefined],
          ['m0', 2, 6],
          ...Array.from({ length: 4 }, (_, i) => [`m${i}`, i === 0 ? 3 : 2, 7 + i]),
          ['m0', 2, 6],
          ['o', 2, undefined],
        ])
        expect(mixed[6]!.cid.equals(first.cid)).toBe(true)
        expect(mixed[13]!.cid.equals(batch[0]!.cid)).toBe(true)
        expect(mixed[12]!.cid.equals(mixed[7]!.cid)).toBe(true)
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('bad input: TypeError/RangeError naming the argument, typed errors for non-IPLD data; nothing written', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        const bad: [unknown, RegExp][] = [
          [null, /"input" expected an object/],
          [{ type: 't' }, /"input.stream" expected a non-empty string/],
          [{ stream: 's', type: '' }, /"input.type" expected a non-empty string/],
          [{ stream: 's', type: 't', meta: { id: 5 } }, /"input.meta.id"/],
          [{ stream: '$objects', type: 't' }, /reserved for system streams/],
        ]
        for (const [input, message] of bad) {
          await expect(store.append(input as never)).rejects.toThrow(message)
        }
        await expect(store.append({ stream: 's', type: 't' }, { expectedVersion: -1 })).rejects.toBeInstanceOf(RangeError)
        await expect(store.append({ stream: 's', type: 't', data: { when: new Date() } })).rejects.toMatchObject({ code: 'CAIRN_INVALID_VALUE', path: 'data.when' })
        await expect(store.append({ stream: 's', type: 't', data: { x: undefined } })).rejects.toMatchObject({ code: 'CAIRN_INVALID_VALUE', path: 'data.x' })
        await expect(
          store.appendMany([
            { stream: 's', type: 't' },
            { stream: 's', type: 't', data: NaN },
          ]),
        ).rejects.toMatchObject({ code: 'CAIRN_INVALID_VALUE', path: 'data' })
        await expect(store.getEvent('bafy' as never)).rejects.toBeInstanceOf(TypeError)
        await expect(store.getEvent(CID.parse('bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku'))).rejects.toMatchObject({ code: 'CAIRN_NOT_FOUND' })
        expect(store.heads).toEqual([])
        expect(store.version('s')).toBe(0)
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('a closed store refuses every call with CAIRN_CLOSED', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        const e = await store.append({ stream: 's', type: 't' })
        await store.close()
        await store.close() // twice is fine
        await expect(store.append({ stream: 's', type: 't' })).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(store.getEvent(e.cid)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(collect(store.read('s'))).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(store.put({ a: 1 })).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(store.get(e.cid)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        expect(() => store.version('s')).toThrow(expect.objectContaining({ code: 'CAIRN_CLOSED' }))
      } finally {
        await fx.dispose()
      }
    })

    test('concurrent appends are serialized: every one lands, each sees the one before', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.append({ stream: 'c', type: 't', data: i })))
        expect(results.map((e) => e.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
        expect(store.heads).toHaveLength(1)
        expect((await collect(store.read('c'))).map((e) => e.data)).toEqual(Array.from({ length: 20 }, (_, i) => i))
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test.runIf(kind.persistent)('reopen gives the same heads, events and versions', async () => {
      const fx = await kind.create()
      try {
        let store = await openOn(fx)
        for (let i = 0; i < 30; i++) await store.append({ stream: `s${i % 3}`, type: 'tick', data: { i }, meta: { id: `k${i}` } })
        await store.appendMany([
          { stream: 's0', type: 'batch' },
          { stream: 's1', type: 'batch' },
        ])
        const heads = store.heads.map(String)
        const before = await collect(store.read('s0'))
        await store.close()
        store = await openOn(fx)
        expect(store.heads.map(String)).toEqual(heads)
        expect(await collect(store.read('s0'))).toEqual(before)
        expect(store.version('s1')).toBe(11)
        // the idempotency keys survive too
        const retry = await store.append({ stream: 's0', type: 'tick', data: { i: 0 }, meta: { id: 'k0' } })
        expect(retry.cid.equals(before[0]!.cid)).toBe(true)
        expect(store.version('s0')).toBe(11)
        const next = await store.append({ stream: 's0', type: 'after' }, { expectedVersion: 11 })
        expect(next.parents.map(String)).toEqual(heads)
        expect(await store.verify()).toMatchObject({ blocks: 33, dangling: [] })
        await store.close()
      } finally {
        await fx.dispose()
      }
    })
  })
}

// A string starting with U+FEFF does not survive dag-cbor (decoders drop it as a byte order
// mark): Cairn used to append such an event, which then read back as another value and which
// no peer could import (refused as not canonical). It is refused before anything is written.
describe('strings that start with U+FEFF', () => {
  test('are refused in data, meta, keys, streams and types, with nothing written; one elsewhere in a string round-trips', async () => {
    const { MemoryStorage } = await import('../../src/storage/memory.ts')
    const { CairnStore } = await import('../../src/store/store.ts')
    const { isCairnError } = await import('../../src/errors/cairn-error.ts')
    const store = await CairnStore.open(new MemoryStorage())
    const bom = '\uFEFF'
    const invalidValue = async (p: Promise<unknown>): Promise<void> => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isCairnError(err, 'CAIRN_INVALID_VALUE'), String(err)).toBe(true)
    }
    await invalidValue(store.append({ stream: 's', type: 't', data: `${bom}x` }))
    await invalidValue(store.append({ stream: 's', type: 't', data: { nested: [`${bom}`] } }))
    await invalidValue(store.append({ stream: 's', type: 't', data: { [`${bom}key`]: 1 } }))
    await invalidValue(store.append({ stream: 's', type: 't', meta: { note: `${bom}` } }))
    await invalidValue(store.put({ [`${bom}k`]: 1 }))
    await expect(store.append({ stream: `${bom}s`, type: 't' })).rejects.toThrow(RangeError)
    await expect(store.append({ stream: 's', type: `${bom}t` })).rejects.toThrow(RangeError)
    await expect(store.put({ a: 1 }, { type: `${bom}obj` })).rejects.toThrow(RangeError)
    await expect(store.putFile(new Uint8Array([1]), { type: `${bom}file` })).rejects.toThrow(RangeError)
    expect(store.heads).toEqual([])
    expect(await store.stats()).toMatchObject({ events: 0, objects: 0 })

    const fine = `a${bom}b`
    const e = await store.append({ stream: fine, type: fine, data: { [fine]: fine } })
    const other = await CairnStore.open(new MemoryStorage())
    await other.import(store.export())
    const [read] = await collect(other.read(fine))
    expect(read?.cid.equals(e.cid)).toBe(true)
    expect(read?.data).toEqual({ [fine]: fine })
  })
})
