// Browser only: `openStore({ name })` hands the IndexedDB engine's options (`durability`,
// `blockedTimeoutMs`, `pageSize`) to the engine, as `openIndexedDbStorage` would take them.
// Each is observed where the engine uses it: the durability of its write transactions, the
// page size of its key reads, the delay of its "blocked" timer. Bad values (and unknown keys)
// are a TypeError or RangeError before any database is opened.
import { afterEach, describe, expect, test, vi } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { openStore } from '../../src/index.ts'
import { deleteIndexedDbStorage, type IndexedDbStorageOptions, openIndexedDbStorage } from '../../src/storage/indexeddb.ts'

const names: string[] = []
let n = 0
function dbName(): string {
  const name = `cairn-open-store-idb-${Date.now().toString(36)}-${n++}`
  names.push(name)
  return name
}

afterEach(async () => {
  vi.restoreAllMocks()
  for (const name of names.splice(0)) await deleteIndexedDbStorage(name)
})

describe('openStore({ name }) passes the engine options on', () => {
  test('durability and pageSize reach the engine: its write transactions and its paged key reads use them', async () => {
    const durabilities = new Set<string | undefined>()
    const transaction = IDBDatabase.prototype.transaction
    vi.spyOn(IDBDatabase.prototype, 'transaction').mockImplementation(function (this: IDBDatabase, stores, mode, options) {
      if (mode === 'readwrite') durabilities.add(options?.durability)
      return transaction.call(this, stores, mode, options)
    })
    const counts = new Set<number | undefined>()
    const getAllKeys = IDBObjectStore.prototype.getAllKeys
    vi.spyOn(IDBObjectStore.prototype, 'getAllKeys').mockImplementation(function (this: IDBObjectStore, query, count) {
      counts.add(count)
      return getAllKeys.call(this, query, count)
    })

    const store = await openStore({ name: dbName(), durability: 'relaxed', pageSize: 7 })
    for (let i = 0; i < 20; i++) await store.append({ stream: 's', type: 't', data: i })
    await store.compact()
    await store.close()

    expect([...durabilities]).toEqual(['relaxed'])
    expect(counts.has(7)).toBe(true)
    expect(counts.has(500)).toBe(false)
  })

  test('blockedTimeoutMs reaches the engine: a blocked open gives up after it, with CAIRN_STORAGE', async () => {
    const name = dbName()
    // An older connection (schema version 1) that ignores `versionchange`: the engine's upgrade waits on it.
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open(name, 1)
      req.onsuccess = () => resolve(req.result)
      req.onerror = () => reject(req.error)
    })
    const delays: (number | undefined)[] = []
    const setTimer = globalThis.setTimeout
    vi.spyOn(globalThis, 'setTimeout').mockImplementation(((handler: () => void, delay?: number) => {
      delays.push(delay)
      return setTimer(handler, delay)
    }) as typeof setTimeout)

    const err = await openStore({ name, blockedTimeoutMs: 37 }).then(
      () => undefined,
      (e: unknown) => e,
    )
    vi.restoreAllMocks()
    old.close()

    expect(isCairnError(err, 'CAIRN_STORAGE')).toBe(true)
    expect((err as Error).message).toMatch(/blocked/)
    expect(delays).toContain(37)
  })
})

describe('the engine options are checked before any database is opened', () => {
  const bad: [IndexedDbStorageOptions, ErrorConstructor, string][] = [
    [{ pageSize: 'abc' as never }, TypeError, '"pageSize" expected a positive integer, got "abc"'],
    [{ pageSize: 1.5 }, TypeError, '"pageSize" expected a positive integer, got 1.5'],
    [{ pageSize: 0 }, RangeError, '"pageSize" expected a positive integer, got 0'],
    [{ pageSize: Number.NaN }, TypeError, '"pageSize" expected a positive integer, got NaN'],
    [{ blockedTimeoutMs: '10' as never }, TypeError, '"blockedTimeoutMs" expected a non-negative integer, got "10"'],
    [{ blockedTimeoutMs: -1 }, RangeError, '"blockedTimeoutMs" expected a non-negative integer, got -1'],
    [{ durability: 'fast' as never }, RangeError, '"durability" expected "strict", "relaxed" or "default", got "fast"'],
    [{ durability: 1 as never }, TypeError, '"durability" expected "strict", "relaxed" or "default", got 1'],
    [{ pagesize: 10 } as IndexedDbStorageOptions, TypeError, '"options.pagesize" is an unknown key; the known keys are '],
  ]

  test('openIndexedDbStorage and openStore({ name }): a TypeError or RangeError naming the option; no database is made', async () => {
    const name = dbName()
    for (const [options, type, message] of bad) {
      for (const open of [() => openIndexedDbStorage(name, options), () => openStore({ name, ...options })]) {
        const err = await open().then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(err, JSON.stringify(options)).toBeInstanceOf(type)
        expect((err as Error).message.startsWith(message), (err as Error).message).toBe(true)
      }
    }
    expect((await indexedDB.databases()).map((d) => d.name)).not.toContain(name)
  })

  test('the edges of the valid values open', async () => {
    const storage = await openIndexedDbStorage(dbName(), { pageSize: 1, blockedTimeoutMs: 0, durability: 'default' })
    await storage.close()
    const store = await openStore({ name: dbName(), pageSize: 1, durability: 'strict', blockedTimeoutMs: undefined })
    await store.append({ stream: 's', type: 't' })
    await store.close()
  })
})
