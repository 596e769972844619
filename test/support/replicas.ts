import type { StoredEvent } from '../../src/log/event/interface.ts'
import type { StoreOptions } from '../../src/store/options.ts'
import { CairnStore } from '../../src/store/store.ts'
import type { EngineFixture, EngineKind } from './engines.ts'
import { manualClock } from './stores.ts'

/** A fixed start for the manual clocks of replica specs. */
export const T0 = 1_700_000_000_000

/** A store on its own engine with a clock the spec moves by hand. */
export interface Replica {
  store: CairnStore
  fx: EngineFixture
  clock: { now: () => number; set(ms: number): void }
}

/** Runs `body` with `n` fresh replicas of one engine kind, closing and disposing them after. */
export async function withReplicas(kind: EngineKind, n: number, body: (r: Replica[]) => Promise<void>, options: StoreOptions = {}): Promise<void> {
  const replicas: Replica[] = []
  try {
    for (let i = 0; i < n; i++) {
      const fx = await kind.create()
      const clock = manualClock(T0)
      replicas.push({ store: await CairnStore.open(await fx.open(), { ...options, clock: clock.now }), fx, clock })
    }
    await body(replicas)
  } finally {
    for (const r of replicas) {
      await r.store.close().catch(() => {})
      await r.fx.dispose()
    }
  }
}

/** Sends `from` what `to` lacks. */
export async function send(from: CairnStore, to: CairnStore): Promise<void> {
  await to.import(from.export({ since: to.heads }))
}

/** The CIDs of events, as strings. */
export const cids = (events: readonly StoredEvent[]): string[] => events.map((e) => e.cid.toString())
