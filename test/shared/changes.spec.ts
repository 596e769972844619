// Live changes: subscribe() and changes() see local appends and imported events, once each,
// in canonical order per commit; filters; $objects only when named; listener errors never
// break the store; changes() ends on close, on abort and when the consumer breaks.
import { describe, expect, test } from 'vitest'
import { CID } from 'multiformats/cid'
import { engineKinds } from '../support/engines.ts'
import { collect, manualClock } from '../support/stores.ts'
import { CairnStore } from '../../src/store/store.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import type { StoredEvent } from '../../src/log/event/interface.ts'
import { compareEvents } from '../../src/log/event/order.ts'
import { cids, send, T0, withReplicas } from '../support/replicas.ts'

const kinds = await engineKinds()

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))

/** Pulls from an async iterator in the background; `take(n)` waits until n more items arrived. */
function pull<T>(it: AsyncIterator<T>): { items: T[]; done: Promise<void>; take(n: number): Promise<T[]> } {
  const items: T[] = []
  let wake: (() => void) | undefined
  const done = (async () => {
    for (;;) {
      const r = await it.next()
      if (r.done === true) break
      items.push(r.value)
      wake?.()
    }
    wake?.()
  })()
  let taken = 0
  let finished = false
  void done.then(() => {
    finished = true
  })
  return {
    items,
    done,
    async take(n: number): Promise<T[]> {
      while (items.length < taken + n && !finished)
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 50)
        })
      const out = items.slice(taken, taken + n)
      taken += out.length
      return out
    },
  }
}

for (const kind of kinds) {
  describe(`live changes on ${kind.name}`, () => {
    test('subscribe: local appends and imported events, once each, canonical order per commit, filtered', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const base = await a!.store.append({ stream: 'x', type: 't', data: 'base' })
        await send(a!.store, b!.store)
        const all: StoredEvent[] = []
        const users: StoredEvent[] = []
        const renamed: StoredEvent[] = []
        const objects: StoredEvent[] = []
        const sys: StoredEvent[] = []
        a!.store.subscribe({}, (e) => all.push(e))
        const off = a!.store.subscribe({ streamPrefix: 'user-' }, (e) => users.push(e))
        a!.store.subscribe({ type: 'renamed', stream: 'user-1' }, (e) => renamed.push(e))
        a!.store.subscribe({ stream: '$objects' }, (e) => objects.push(e))
        a!.store.subscribe({ streamPrefix: '$' }, (e) => sys.push(e))
        a!.clock.set(T0 + 100)
        const u1 = await a!.store.append({ stream: 'user-1', type: 'created' })
        const [u2, u1r] = await a!.store.appendMany([
          { stream: 'user-2', type: 'created' },
          { stream: 'user-1', type: 'renamed' },
        ])
        await a!.store.put({ doc: 1 }, { type: 'doc' })
        expect(cids(all)).toEqual(cids([u1, u2!, u1r!]))
        expect(cids(users)).toEqual(cids([u1, u2!, u1r!]))
        expect(cids(renamed)).toEqual(cids([u1r!]))
        expect(objects.map((e) => e.type)).toEqual(['object.put'])
        expect(cids(sys)).toEqual(cids(objects))
        expect(all[1]!.version).toBe(1)
        // b wrote older events offline: they arrive in one import, in canonical order, once each
        const bEvents: StoredEvent[] = []
        for (const at of [30, 10, 20]) {
          b!.clock.set(T0 + at)
          bEvents.push(await b!.store.append({ stream: `user-b${at}`, type: 't' }))
        }
        await b!.store.put({ doc: 'b' })
        all.length = 0
        objects.length = 0
        off()
        const usersBefore = users.length
        await send(b!.store, a!.store)
        const imported = [...bEvents].sort(compareEvents)
        expect(cids(all)).toEqual(cids(imported))
        expect([...all].sort(compareEvents)).toEqual(all)
        expect(objects).toHaveLength(1)
        expect(users).toHaveLength(usersBefore) // unsubscribed
        // importing again delivers nothing
        all.length = 0
        await send(b!.store, a!.store)
        await a!.store.import(b!.store.export())
        expect(all).toEqual([])
        expect(base.version).toBe(1)
      })
    })

    test('changes(): history after the cursor, then imported and appended events once each', async () => {
      await withReplicas(kind, 2, async ([a, b]) => {
        const first = await a!.store.append({ stream: 's', type: 't', data: 'first' })
        a!.clock.set(T0 + 10)
        const second = await a!.store.append({ stream: 's', type: 't', data: 'second' })
        await send(a!.store, b!.store)
        const it = pull(a!.store.changes({ after: first.cid })[Symbol.asyncIterator]())
        const full = pull(a!.store.changes()[Symbol.asyncIterator]())
        expect(cids(await it.take(1))).toEqual(cids([second]))
        expect(cids(await full.take(2))).toEqual(cids([first, second]))
        a!.clock.set(T0 + 100)
        const local = await a!.store.append({ stream: 's', type: 't', data: 'local' })
        expect(cids(await it.take(1))).toEqual(cids([local]))
        // older events from b: delivered as they land, in canonical order
        const older: StoredEvent[] = []
        for (const at of [50, 20, 40]) {
          b!.clock.set(T0 + at)
          older.push(await b!.store.append({ stream: `b${at}`, type: 't' }))
        }
        await send(b!.store, a!.store)
        expect(cids(await it.take(3))).toEqual(cids([...older].sort(compareEvents)))
        // puts are not delivered without a filter naming $objects
        await a!.store.put({ x: 1 })
        const after = await a!.store.append({ stream: 's', type: 't', data: 'after' })
        expect(cids(await it.take(1))).toEqual(cids([after]))
        await a!.store.close()
        await it.done
        await full.done
        expect(cids(it.items)).toEqual(cids([second, local, ...[...older].sort(compareEvents), after]))
        expect(new Set(cids(full.items)).size).toBe(full.items.length) // each once
        expect(full.items).toHaveLength(7)
      })
    })

    test('changes(): filters, $objects when named, break and abort end it', async () => {
      await withReplicas(kind, 1, async ([a]) => {
        const store = a!.store
        await store.append({ stream: 'user-1', type: 'created' })
        await store.put({ early: true })
        const objects = pull(store.changes({ filter: { stream: '$objects' } })[Symbol.asyncIterator]())
        expect((await objects.take(1)).map((e) => e.type)).toEqual(['object.put'])
        const typed: StoredEvent[] = []
        const consumer = (async () => {
          for await (const e of store.changes({ filter: { type: 'wanted' } })) {
            typed.push(e)
            if (typed.length === 2) break
          }
        })()
        await store.append({ stream: 'x', type: 'ignored' })
        await store.append({ stream: 'x', type: 'wanted', data: 1 })
        await store.put({ late: true })
        await store.append({ stream: 'y', type: 'wanted', data: 2 })
        await store.append({ stream: 'y', type: 'wanted', data: 3 })
        await consumer
        expect(typed.map((e) => e.data)).toEqual([1, 2])
        expect((await objects.take(1)).map((e) => e.type)).toEqual(['object.put'])
        // abort ends an iterator that is waiting
        const controller = new AbortController()
        const waiting = pull(store.changes({ filter: { stream: 'quiet' }, signal: controller.signal })[Symbol.asyncIterator]())
        await tick()
        controller.abort()
        await waiting.done
        expect(waiting.items).toEqual([])
        await store.close()
        await objects.done
      })
    })
  })
}

describe('live changes (memory)', () => {
  test('listener errors go to onError or a microtask, never into the store; others still hear', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const errors: unknown[] = []
    const heard: StoredEvent[] = []
    store.subscribe(
      {},
      () => {
        throw new Error('boom')
      },
      { onError: (err, e) => errors.push([(err as Error).message, e.stream]) },
    )
    store.subscribe({}, (e) => heard.push(e))
    const e1 = await store.append({ stream: 's', type: 't' })
    const e2 = await store.append({ stream: 's', type: 't' })
    expect(errors).toEqual([
      ['boom', 's'],
      ['boom', 's'],
    ])
    expect(cids(heard)).toEqual(cids([e1, e2]))
    expect(store.version('s')).toBe(2)
    // a throwing onError is reported in a microtask; catch it here as the runtime would
    const rethrown: unknown[] = []
    const original = globalThis.queueMicrotask
    globalThis.queueMicrotask = (fn: () => void): void =>
      original(() => {
        try {
          fn()
        } catch (err) {
          rethrown.push(err)
        }
      })
    try {
      store.subscribe({}, () => {
        throw new Error('loud')
      })
      store.subscribe(
        {},
        () => {
          throw new Error('first')
        },
        {
          onError: () => {
            throw new Error('second')
          },
        },
      )
      await store.append({ stream: 's', type: 't' })
      await tick()
    } finally {
      globalThis.queueMicrotask = original
    }
    expect(rethrown.map((e) => (e as Error).message).sort()).toEqual(['loud', 'second'])
    expect(store.version('s')).toBe(3)
    await store.close()
  })

  test('a listener may unsubscribe, subscribe or append from inside a delivery', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const seen: string[] = []
    const off = store.subscribe({ stream: 'a' }, (e) => {
      seen.push(`once:${e.type}`)
      off()
      store.subscribe({ stream: 'b' }, (f) => seen.push(`b:${f.type}`))
      void store.append({ stream: 'b', type: 'echo' })
    })
    await store.appendMany([
      { stream: 'a', type: 'one' },
      { stream: 'a', type: 'two' },
    ])
    await store.append({ stream: 'a', type: 'three' })
    expect(seen).toEqual(['once:one', 'b:echo'])
    await store.close()
  })

  test('many concurrent writers: a changes() consumer sees every event once, in commit order', async () => {
    const clock = manualClock(T0)
    const store = await CairnStore.open(new MemoryStorage(), { clock: clock.now })
    const seen = pull(store.changes()[Symbol.asyncIterator]())
    const written = await Promise.all(Array.from({ length: 40 }, (_, i) => store.append({ stream: `s${i % 4}`, type: 't', data: i })))
    const got = await seen.take(40)
    expect(new Set(cids(got))).toEqual(new Set(cids(written)))
    expect([...got].sort(compareEvents)).toEqual(got) // local appends are always newest
    await store.close()
    await seen.done
  })

  test('argument mistakes and a closed store', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const e = await store.append({ stream: 's', type: 't' })
    expect(() => store.subscribe(null as never, () => {})).toThrow(/"filter"/)
    expect(() => store.subscribe({ stream: 5 } as never, () => {})).toThrow(TypeError)
    expect(() => store.subscribe({ streamPrefix: '' }, () => {})).toThrow(/"filter.streamPrefix"/)
    expect(() => store.subscribe({}, 'nope' as never)).toThrow(/"listener"/)
    expect(() => store.subscribe({}, () => {}, { onError: 1 } as never)).toThrow(/"onError"/)
    await expect(collect(store.changes({ filter: { type: '' } }))).rejects.toThrow(/"filter.type"/)
    await expect(collect(store.changes({ after: 'x' as never }))).rejects.toThrow(/"after"/)
    await expect(collect(store.changes({ signal: {} as never }))).rejects.toThrow(/"signal"/)
    await expect(collect(store.changes({ after: CID.parse('bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku') }))).rejects.toMatchObject({ code: 'CAIRN_NOT_FOUND' })
    await store.close()
    expect(() => store.subscribe({}, () => {})).toThrow(expect.objectContaining({ code: 'CAIRN_CLOSED' }))
    await expect(collect(store.changes({ after: e.cid }))).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
  })
})
