// Two tabs on one IndexedDB store (issue 9, item 1): two stores opened on the same database in
// one page are two connections, as two tabs are; Web Locks and BroadcastChannel reach across
// them exactly as across tabs (e2e/tabs.spec.ts does the same with real pages). Before the
// writers were coordinated, half of the appends were lost and verify() still passed.
import { afterEach, describe, expect, test } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import type { StoredEvent } from '../../src/log/event/interface.ts'
import { deleteIndexedDbStorage } from '../../src/storage/indexeddb.ts'
import { createOpenStore } from '../../src/store/open.ts'
import type { CairnStore } from '../../src/store/store.ts'
import { collect } from '../support/stores.ts'

const openStore = createOpenStore(undefined)
const names: string[] = []
const fresh = (): string => {
  const name = `cairn-tabs-${Date.now().toString(36)}-${names.length}`
  names.push(name)
  return name
}
const open: CairnStore[] = []
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => {})
  for (const name of names.splice(0)) await deleteIndexedDbStorage(name)
})
async function tab(name: string): Promise<CairnStore> {
  const s = await openStore({ name })
  open.push(s)
  return s
}

async function until(ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the other tab')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('two tabs on one IndexedDB store', () => {
  test('appending at once and taking turns: every acknowledged append survives, the heads merge, verify passes', async () => {
    const name = fresh()
    const [a, b] = [await tab(name), await tab(name)]
    // At once: both write concurrently, single appends and batches.
    const write = async (s: CairnStore, who: string): Promise<number> => {
      let acked = 0
      for (let i = 0; i < 100; i++) {
        if (i % 10 === 0) acked += (await s.appendMany([0, 1].map((k) => ({ stream: `${who}-${k}`, type: 'batch', data: { i, k } })))).length
        else acked += (await s.append({ stream: 'shared', type: 'note', data: { who, i } })) === undefined ? 0 : 1
      }
      return acked
    }
    const acked = (await Promise.all([write(a, 'a'), write(b, 'b')])).reduce((x, y) => x + y)
    // Taking turns.
    for (let i = 0; i < 20; i++) await (i % 2 === 0 ? a : b).append({ stream: 'turns', type: 'turn', data: { i } })
    const total = acked + 20
    const third = await tab(name)
    expect((await third.stats()).events).toBe(total)
    expect(third.heads.length).toBe(1)
    expect(third.version('shared')).toBe(180)
    expect((await collect(third.read('turns'))).map((e) => (e.data as { i: number }).i)).toEqual([...Array(20).keys()])
    expect((await third.verify()).blocks).toBe(total)
    // Both writers see all of it too (they caught up on each write), and agree on the state.
    for (const s of [a, b]) {
      await s.append({ stream: 'sync', type: 'x' })
    }
    // Each hears of the other's last append through the channel, within moments.
    await until(async () => (await a.stats()).events === total + 2 && (await b.stats()).events === total + 2)
    const hashes = await Promise.all([a, b].map(async (s) => String(await s.stateHash())))
    expect(hashes[0]).toBe(hashes[1])
    expect((await a.stats()).events).toBe(total + 2)
  })

  test('expectedVersion holds across tabs: a stale writer gets CAIRN_VERSION_CONFLICT', async () => {
    const name = fresh()
    const [a, b] = [await tab(name), await tab(name)]
    await a.append({ stream: 'order-1', type: 'created' }, { expectedVersion: 0 })
    const err = await b.append({ stream: 'order-1', type: 'created' }, { expectedVersion: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isCairnError(err, 'CAIRN_VERSION_CONFLICT'), String(err)).toBe(true)
    await b.append({ stream: 'order-1', type: 'paid' }, { expectedVersion: 1 })
    expect(a.version('order-1')).toBe(1) // a has not heard yet, or has: either way it catches up on write
    await a.append({ stream: 'order-1', type: 'shipped' }, { expectedVersion: 2 })
  })

  test("subscribe and changes() in one tab see the other tab's appends live", async () => {
    const name = fresh()
    const [a, b] = [await tab(name), await tab(name)]
    const seen: string[] = []
    const got = new Promise<void>((resolve) => {
      b.subscribe({ stream: 'chat' }, (e: StoredEvent) => {
        seen.push((e.data as { text: string }).text)
        if (seen.length === 3) resolve()
      })
    })
    const changes = (async () => {
      const out: string[] = []
      for await (const e of b.changes({ filter: { stream: 'chat' } })) {
        out.push((e.data as { text: string }).text)
        if (out.length === 3) break
      }
      return out
    })()
    for (const text of ['hi', 'there', 'tab']) await a.append({ stream: 'chat', type: 'said', data: { text } })
    await got
    expect(seen).toEqual(['hi', 'there', 'tab'])
    expect(await changes).toEqual(['hi', 'there', 'tab'])
    expect(b.version('chat')).toBe(3)
  })
})
