// Group commit: appends that arrive while a commit is in flight share the next one. Each
// resolves only once the commit holding it is durable, with the versions sequential appends
// would give; a caller a rule refuses fails alone; a signed store's events all verify; the
// access rule sees each caller's events in the context of the callers before it.
import { describe, expect, test } from 'vitest'
import { createIdentity } from '../../src/identity/create.ts'
import type { StoredEvent } from '../../src/log/event/interface.ts'
import type { CommitBatch, StorageEngine } from '../../src/storage/interface.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import type { StoreOptions } from '../../src/store/options.ts'
import { CairnStore } from '../../src/store/store.ts'
import { engineKinds, withFixture, wrapEngine } from '../support/engines.ts'
import { bytesOf, cairnFailure } from '../support/stores.ts'

const kinds = await engineKinds()

let clockAt = 1_700_000_000_000
const clock = (): number => clockAt++

/** An engine that counts commits and records, once each commit resolved, the blocks it made durable. */
function counting(inner: StorageEngine): { engine: StorageEngine; commits: () => number; durable: Set<string> } {
  let commits = 0
  const durable = new Set<string>()
  const engine = wrapEngine(inner, {
    commit: async (batch: CommitBatch) => {
      commits++
      await inner.commit(batch)
      for (const b of batch.blocks) durable.add(String(b.cid))
    },
  })
  return { engine, commits: () => commits, durable }
}

const open = (storage: StorageEngine, options: StoreOptions = {}): Promise<CairnStore> => CairnStore.open(storage, { clock, ...options })

/** A store on a counting engine, past its first append; `newCommits` counts the commits since. */
async function warmStore(engine: StorageEngine): Promise<{ store: CairnStore; newCommits: () => number }> {
  const { engine: counted, commits } = counting(engine)
  const store = await open(counted)
  await store.append({ stream: 'warm', type: 'up' })
  const before = commits()
  return { store, newCommits: () => commits() - before }
}

for (const kind of kinds) {
  describe(`group commit (${kind.name})`, () => {
    test('64 appends in flight resolve in one or few commits, each durable when it resolves, versions as if sequential; a reopen finds them', async () => {
      await withFixture(kind, async (fx) => {
        const { engine, commits, durable } = counting(await fx.open())
        const store = await open(engine)
        await store.append({ stream: 'warm', type: 'up' })
        const before = commits()
        const notDurableOnResolve: string[] = []
        const watch = (events: StoredEvent[]): StoredEvent[] => {
          for (const e of events) if (!durable.has(String(e.cid))) notDurableOnResolve.push(String(e.cid))
          return events
        }
        const calls: Promise<StoredEvent[]>[] = []
        for (let i = 0; i < 64; i++) {
          const stream = `s${i % 5}`
          calls.push(
            i % 4 === 3
              ? store
                  .appendMany([
                    { stream, type: 'many', data: { i, k: 0 } },
                    { stream, type: 'many', data: { i, k: 1 } },
                  ])
                  .then(watch)
              : store.append({ stream, type: 'one', data: { i } }).then((e) => watch([e])),
          )
        }
        const results = await Promise.all(calls)
        expect(notDurableOnResolve).toEqual([])
        expect(commits() - before).toBeGreaterThanOrEqual(1)
        expect(commits() - before).toBeLessThanOrEqual(2)
        // Versions per stream follow call order, as sequential appends would number them.
        const expected = new Map<string, number>()
        for (const events of results) {
          for (const e of events) {
            const v = (expected.get(e.stream) ?? 0) + 1
            expected.set(e.stream, v)
            expect([e.stream, e.version, e.data]).toEqual([e.stream, v, e.data])
          }
        }
        for (const [stream, v] of expected) expect(store.version(stream)).toBe(v)
        // Each caller's events are its own, in its own order.
        results.forEach((events, i) => {
          expect(events.map((e) => (e.data as { i: number }).i)).toEqual(events.map(() => i))
        })
        const heads = store.heads.map(String)
        await store.close()
        if (!fx.persistent) return
        const again = await open(await fx.open())
        expect(again.heads.map(String)).toEqual(heads)
        for (const events of results) {
          for (const e of events) {
            const got = await again.getEvent(e.cid)
            expect([got.stream, got.version, got.data]).toEqual([e.stream, e.version, e.data])
          }
        }
        for (const [stream, v] of expected) expect(again.version(stream)).toBe(v)
        await again.close()
      })
    })

    test('a caller a rule refuses fails alone; the others land in the same commit', async () => {
      await withFixture(kind, async (fx) => {
        const { store, newCommits } = await warmStore(await fx.open())
        const a = store.append({ stream: 'acct', type: 'opened' }, { expectedVersion: 0 })
        // Planned after `a` in the same group: the stream is at version 1 for it.
        const conflict = store.append({ stream: 'acct', type: 'opened' }, { expectedVersion: 0 })
        const b = store.append({ stream: 'acct', type: 'credited', data: 5 }, { expectedVersion: 1 })
        const c = store.append({ stream: 'pay', type: 'sent', data: 1, meta: { id: 'p-1' } })
        const clash = store.append({ stream: 'pay', type: 'sent', data: 2, meta: { id: 'p-1' } })
        const retry = store.append({ stream: 'pay', type: 'sent', data: 1, meta: { id: 'p-1' } })
        // One draft of a batch fails its rule: none of the batch lands.
        const batch = store.appendMany([
          { stream: 'acct', type: 'debited', data: 1 },
          { stream: 'acct', type: 'debited', data: 2, expectedVersion: 9 },
        ])
        const d = store.append({ stream: 'acct', type: 'closed' })
        expect((await cairnFailure(conflict)).code).toBe('CAIRN_VERSION_CONFLICT')
        expect((await cairnFailure(clash)).code).toBe('CAIRN_DUPLICATE_ID')
        expect((await cairnFailure(batch)).code).toBe('CAIRN_VERSION_CONFLICT')
        const [ea, eb, ec, er, ed] = await Promise.all([a, b, c, retry, d])
        expect([ea!.version, eb!.version, ed!.version]).toEqual([1, 2, 3])
        expect(String(er!.cid)).toBe(String(ec!.cid))
        expect(newCommits()).toBe(1)
        expect(store.version('acct')).toBe(3)
        expect(store.version('pay')).toBe(1)
        await store.close()
      })
    })

    test('a group no rule refuses is planned at once: expected versions, a retried meta.id and batches as if one by one', async () => {
      await withFixture(kind, async (fx) => {
        const { store, newCommits } = await warmStore(await fx.open())
        const a = store.append({ stream: 'acct', type: 'opened' }, { expectedVersion: 0 })
        const b = store.appendMany([
          { stream: 'acct', type: 'credited', data: 5, expectedVersion: 1 },
          { stream: 'pay', type: 'sent', data: 1, meta: { id: 'p-1' } },
        ])
        const retry = store.append({ stream: 'pay', type: 'sent', data: 1, meta: { id: 'p-1' } })
        const c = store.append({ stream: 'acct', type: 'closed' }, { expectedVersion: 2 })
        const [ea, [eb, ep], er, ec] = await Promise.all([a, b, retry, c])
        expect([ea!.version, eb!.version, ec!.version]).toEqual([1, 2, 3])
        expect(String(er!.cid)).toBe(String(ep!.cid))
        expect(newCommits()).toBe(1)
        // Each caller's first event names the previous caller's last as its only parent: one chain.
        expect(eb!.parents.map(String)).toEqual([String(ea!.cid)])
        expect(ec!.parents.map(String)).toEqual([String(ep!.cid)])
        await store.close()
      })
    })
  })
}

describe('group commit and trust', () => {
  test('a signed store: each caller of a group is signed at its own chain end; every event verifies on import with requireSignatures', async () => {
    const alice = await createIdentity()
    const storage = new MemoryStorage()
    const { engine, commits } = counting(storage)
    const a = await open(engine, { signer: alice })
    const calls: Promise<unknown>[] = []
    for (let i = 0; i < 24; i++) {
      calls.push(i % 3 === 0 ? a.appendMany([0, 1, 2].map((k) => ({ stream: `s${i % 4}`, type: 't', data: { i, k } }))) : a.append({ stream: `s${i % 4}`, type: 't', data: { i } }))
    }
    await Promise.all(calls)
    expect(commits()).toBeLessThanOrEqual(2)
    const b = await open(new MemoryStorage(), { requireSignatures: true })
    const report = await b.import(await bytesOf(a.export()))
    expect(report.events).toBe(8 * 3 + 16)
    expect(b.heads.map(String)).toEqual(a.heads.map(String))
    expect(String(await b.stateHash())).toBe(String(await a.stateHash()))
    await a.close()
    await b.close()
  })

  test('the access rule judges each caller with the events of the callers before it as its past; a refused caller fails alone', async () => {
    const [admin, writer] = await Promise.all([createIdentity(), createIdentity()])
    const access = { admins: [admin.did] }
    const A = await open(new MemoryStorage(), { signer: admin, access })
    await A.grant(writer.did, { streams: 'todo/' })
    const { engine, commits } = counting(new MemoryStorage())
    const W = await open(engine, { signer: writer, access })
    await W.import(await bytesOf(A.export()))
    const before = commits()
    const ok = Array.from({ length: 12 }, (_, i) => W.append({ stream: `todo/${i % 3}`, type: 'added', data: { i } }))
    const denied = W.append({ stream: 'notes/1', type: 'added' })
    const late = W.append({ stream: 'todo/9', type: 'added' })
    expect((await cairnFailure(denied)).code).toBe('CAIRN_UNAUTHORIZED')
    const events = await Promise.all([...ok, late])
    expect(events.map((e) => e.stream)).toEqual([...Array.from({ length: 12 }, (_, i) => `todo/${i % 3}`), 'todo/9'])
    expect(commits() - before).toBe(1)
    const C = await open(new MemoryStorage(), { access, requireSignatures: true })
    await C.import(await bytesOf(W.export()))
    expect(String(await C.stateHash())).toBe(String(await W.stateHash()))
    for (const s of [A, W, C]) await s.close()
  })
})
