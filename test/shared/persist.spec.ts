// store.persist() / store.persisted(): booleans from the engine (IndexedDB asks the browser),
// false on engines without the notion, CAIRN_CLOSED once closed.
import { describe, expect, test } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { CairnStore } from '../../src/store/store.ts'
import { engineKinds, withFixture } from '../support/engines.ts'

const kinds = await engineKinds()

describe('store.persist', () => {
  for (const kind of kinds) {
    test(`${kind.name}: persist() and persisted() answer booleans; a closed store refuses`, async () => {
      await withFixture(kind, async (fx) => {
        const store = await CairnStore.open(await fx.open())
        const granted = await store.persist()
        expect(typeof granted).toBe('boolean')
        expect(await store.persisted()).toBe(granted)
        if (kind.name !== 'indexeddb') expect(granted).toBe(false)
        await store.close()
        const err = await store.persist().then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(isCairnError(err, 'CAIRN_CLOSED')).toBe(true)
      })
    })
  }
})
