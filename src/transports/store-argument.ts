import type { CairnStore } from '../store/store.ts'

/**
 * TypeError unless `store` is a store (checked by shape, so a store of another copy of the
 * package passes): the transports' first argument, checked before anything is read or sent. A
 * sync handler made for no store would otherwise answer every request 500.
 */
export function expectStore(store: unknown): CairnStore {
  if (store === null || typeof store !== 'object' || typeof (store as CairnStore).export !== 'function' || typeof (store as CairnStore).import !== 'function') {
    throw new TypeError(`"store" expected a CairnStore (from openStore), got ${store === null ? 'null' : typeof store}`)
  }
  return store as CairnStore
}
