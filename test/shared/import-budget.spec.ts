// Import memory follows a budget, not the CAR's shape (issue 9, item 3): every staged block
// counts its bytes plus STAGED_BLOCK_OVERHEAD against maxStagedBytes, so a small CAR of many
// tiny blocks is refused before it can take gigabytes (a 43 MB CAR of a million tiny blocks took
// 3 GB before). The refusal is CAIRN_TOO_LARGE and changes nothing.
import { describe, expect, test } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { STAGED_BLOCK_OVERHEAD } from '../../src/log/plan-import.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { bytesOf } from '../support/stores.ts'

describe('import staging budget', () => {
  test('many tiny blocks count their bookkeeping: over the budget is CAIRN_TOO_LARGE with the store unchanged; within it imports', async () => {
    const source = await CairnStore.open(new MemoryStorage())
    const N = 3000
    for (let i = 0; i < N; i += 500) await source.appendMany(Array.from({ length: 500 }, (_, k) => ({ stream: `s${(i + k) % 10}`, type: 't', data: i + k })))
    const car = await bytesOf(source.export())
    const store = await CairnStore.open(new MemoryStorage())
    await store.append({ stream: 'mine', type: 'x' })
    const before = { heads: store.heads.map(String), stats: await store.stats() }
    // The CAR's bytes fit many times over; its blocks' bookkeeping does not.
    const tight = car.length * 2 + (N / 2) * STAGED_BLOCK_OVERHEAD
    const err = await store.import(car, { maxBytes: car.length, maxStagedBytes: tight }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isCairnError(err, 'CAIRN_TOO_LARGE'), String(err)).toBe(true)
    expect(String((err as Error).message)).toContain('maxStagedBytes')
    expect({ heads: store.heads.map(String), stats: await store.stats() }).toEqual(before)
    const report = await store.import(car, { maxBytes: car.length, maxStagedBytes: car.length + (N + 1) * STAGED_BLOCK_OVERHEAD })
    expect(report.events).toBe(N)
  })

  test('maxStagedBytes is checked like the other limits', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    await expect(store.import(new Uint8Array(0), { maxStagedBytes: -1 })).rejects.toThrow(RangeError)
    await expect(store.import(new Uint8Array(0), { maxStagedBytes: 'a' as unknown as number })).rejects.toThrow(TypeError)
  })
})
