// store.transaction (issue 9, item 6): appends, puts and files gathered by a body commit as one
// atomic batch; a throw or a failed rule at commit writes nothing; nothing shows before commit.
import { describe, expect, test } from 'vitest'
import { encodeValue } from '../../src/block/codec.ts'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import type { StoredEvent } from '../../src/log/event/interface.ts'
import { CairnStore } from '../../src/store/store.ts'
import { engineKinds, withFixture, wrapEngine } from '../support/engines.ts'
import { collect } from '../support/stores.ts'

const kinds = await engineKinds()

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  )
}

for (const kind of kinds) {
  describe(`transactions (${kind.name})`, () => {
    test('appends, puts and a file commit as one storage commit, all visible at once, and survive a reopen', async () => {
      await withFixture(kind, async (fx) => {
        let commits = 0
        const inner = await fx.open()
        const store = await CairnStore.open(
          wrapEngine(inner, {
            commit: (b) => {
              commits++
              return inner.commit(b)
            },
          }),
        )
        await store.append({ stream: 'order-7', type: 'order.created' })
        const seen: StoredEvent[] = []
        store.subscribe({}, (e) => seen.push(e))
        const before = commits
        const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) & 255) // two chunks: one flush-free file
        const { value, events } = await store.transaction(async (tx) => {
          const photo = await tx.putFile(bytes)
          const receipt = tx.put({ total: 42, photo }, { type: 'receipt' })
          tx.append({ stream: 'order-7', type: 'order.paid', data: { receipt } }, { expectedVersion: 1 })
          tx.appendMany([
            { stream: 'order-7', type: 'order.packed', expectedVersion: 2 },
            { stream: 'audit', type: 'paid', data: { order: 7 } },
          ])
          // Nothing shows before the commit: reads, versions and subscribers see the log as it was.
          expect(store.version('order-7')).toBe(1)
          expect(await collect(store.objects())).toEqual([])
          expect(seen).toEqual([])
          return { receipt, photo }
        })
        expect(commits - before).toBe(1)
        expect(events.map((e) => [e.stream, e.type, e.version])).toEqual([
          ['order-7', 'order.paid', 2],
          ['order-7', 'order.packed', 3],
          ['audit', 'paid', 1],
        ])
        expect(seen.filter((e) => !e.stream.startsWith('$')).map((e) => e.type)).toEqual(['order.paid', 'order.packed', 'paid'])
        expect((await collect(store.objects())).map((o) => [o.type, String(o.cid)])).toEqual([
          ['file', String(value.photo)],
          ['receipt', String(value.receipt)],
        ])
        let read = 0
        for await (const chunk of store.cat(value.photo)) read += chunk.length
        expect(read).toBe(bytes.length)
        expect(await store.verify()).toMatchObject({ dangling: [] })
        const heads = store.heads.map(String)
        await store.close()
        if (fx.persistent) {
          const again = await CairnStore.open(await fx.open())
          expect(again.heads.map(String)).toEqual(heads)
          expect(again.version('order-7')).toBe(3)
          expect(await again.get(value.receipt)).toEqual({ total: 42, photo: value.photo })
          await again.close()
        }
      })
    })

    test('a body that throws, or a rule that fails at commit, writes nothing', async () => {
      await withFixture(kind, async (fx) => {
        const store = await CairnStore.open(await fx.open())
        await store.append({ stream: 's', type: 'first', meta: { id: 'one' } })
        const state = async (): Promise<unknown> => ({ heads: store.heads.map(String), stats: await store.stats() })
        const before = await state()
        const boom = new Error('changed my mind')
        expect(
          await rejection(
            store.transaction((tx) => {
              tx.append({ stream: 's', type: 'x' })
              tx.put({ a: 1 })
              throw boom
            }),
          ),
        ).toBe(boom)
        // expectedVersion counts the transaction's earlier appends: 1 + 1 = 2, not 1.
        const conflict = await rejection(
          store.transaction((tx) => {
            tx.append({ stream: 's', type: 'x' })
            tx.append({ stream: 's', type: 'y' }, { expectedVersion: 1 })
          }),
        )
        expect(isCairnError(conflict, 'CAIRN_VERSION_CONFLICT'), String(conflict)).toBe(true)
        // A value linking a block that is neither stored nor put in the transaction.
        const missing = encodeValue({ never: 'stored' })
        const dangling = await rejection(
          store.transaction((tx) => {
            tx.append({ stream: 's', type: 'x' })
            tx.put({ link: missing.cid })
          }),
        )
        expect(isCairnError(dangling, 'CAIRN_MISSING_BLOCK'), String(dangling)).toBe(true)
        // meta.id reused with other content.
        const duplicate = await rejection(store.transaction((tx) => tx.append({ stream: 's', type: 'other', meta: { id: 'one' } })))
        expect(isCairnError(duplicate, 'CAIRN_DUPLICATE_ID'), String(duplicate)).toBe(true)
        expect(await state()).toEqual(before)
        await store.close()
      })
    })

    test('a value may link one put earlier in the same transaction; retries and repeated puts add nothing twice', async () => {
      await withFixture(kind, async (fx) => {
        const store = await CairnStore.open(await fx.open())
        const first = await store.append({ stream: 's', type: 't', data: 1, meta: { id: 'a' } })
        const { events, value } = await store.transaction((tx) => {
          const inner = tx.put({ leaf: true })
          const outer = tx.put({ inner })
          tx.put({ leaf: true }) // the same object again
          tx.append({ stream: 's', type: 't', data: 1, meta: { id: 'a' } }) // a retry: the stored event
          tx.append({ stream: 's', type: 't', data: 2, meta: { id: 'b' } })
          tx.append({ stream: 's', type: 't', data: 2, meta: { id: 'b' } }) // a retry within the transaction
          return outer
        })
        expect(events.map((e) => String(e.cid))).toEqual([String(first.cid), String(events[1]!.cid), String(events[1]!.cid)])
        expect(store.version('s')).toBe(2)
        expect((await collect(store.objects())).length).toBe(2)
        expect(await store.get(value)).toMatchObject({ inner: expect.anything() })
        await store.close()
      })
    })

    test('the transaction object is unusable once the body returned; an empty transaction writes nothing', async () => {
      await withFixture(kind, async (fx) => {
        const store = await CairnStore.open(await fx.open())
        let kept: { append(i: object): void } | undefined
        const result = await store.transaction((tx) => {
          kept = tx
          return 7
        })
        expect(result).toEqual({ value: 7, events: [] })
        expect(() => kept!.append({ stream: 's', type: 't' })).toThrow(TypeError)
        expect(store.heads).toEqual([])
        await store.close()
      })
    })
  })
}
