// Access rules as a property (issue 10): replicas with the same root admin grant, revoke,
// append and exchange CARs in random orders; a replica that ignores the rules keeps writing as
// a revoked writer. After a full round of exchanges every replica with the rules holds the same
// events, heads and state hash; an import between them is never refused; and an independent
// oracle — which recomputes each event's causal past by walking parents — admits every event
// they hold and refuses every event they refused.
import fc from 'fast-check'
import type { CID } from 'multiformats/cid'
import { describe, expect, test } from 'vitest'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { createIdentity } from '../../src/identity/create.ts'
import type { Identity } from '../../src/identity/interface.ts'
import type { StoredEvent } from '../../src/log/event/interface.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { bytesOf, collect } from '../support/stores.ts'

const PREFIXES = ['a/', 'b/', '*'] as const
const STREAMS = ['a/1', 'b/1', 'c/1'] as const

// Replica 0 is the root admin's; 1 and 2 belong to writers; 3 is writer 1 on a replica without rules.
type Op = { op: 'append'; r: number; stream: string } | { op: 'grant'; by: number; to: number; streams: string; admin: boolean } | { op: 'revoke'; by: number; to: number } | { op: 'sync'; from: number; to: number }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('append' as const), r: fc.nat(3), stream: fc.constantFrom(...STREAMS) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('grant' as const), by: fc.nat(2), to: fc.integer({ min: 1, max: 2 }), streams: fc.constantFrom(...PREFIXES), admin: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('revoke' as const), by: fc.nat(2), to: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('sync' as const), from: fc.nat(3), to: fc.nat(3) }) },
)

/** Every event of a store, system streams included. */
async function everything(store: CairnStore): Promise<StoredEvent[]> {
  return [...(await collect(store.query({}))), ...(await collect(store.query({ streamPrefix: '$' })))]
}

/** The access rule, written again from its text, on events whose pasts it walks itself. */
function oracleAdmits(event: StoredEvent, byCid: Map<string, StoredEvent>, admins: Set<string>): boolean {
  const pastOf = (e: StoredEvent): Set<string> => {
    const seen = new Set<string>()
    const stack = [...e.parents]
    while (stack.length > 0) {
      const key = String(stack.pop()!)
      if (seen.has(key)) continue
      seen.add(key)
      stack.push(...byCid.get(key)!.parents)
    }
    return seen
  }
  const author = event.author
  if (author === undefined) return false
  if (admins.has(author)) return true
  const past = pastOf(event)
  const access = [...past].map((k) => byCid.get(k)!).filter((e) => e.stream === '$access' && (e.data as { did: string }).did === author)
  const revokes = access.filter((e) => e.type === 'access.revoke')
  const inForce = access.filter((g) => {
    if (g.type !== 'access.grant') return false
    const gPast = pastOf(g)
    return revokes.every((r) => gPast.has(String(r.cid)))
  })
  const grants = inForce.map((g) => g.data as { streams: string; admin: boolean })
  if (grants.some((g) => g.admin)) return true
  if (event.stream === '$access') return false
  if (event.stream === '$objects') return grants.length > 0
  return grants.some((g) => g.streams === '*' || event.stream.startsWith(g.streams))
}

describe('access rules converge', () => {
  let ids: Identity[] = []

  test('replicas exchanging CARs in any order end equal, and an independent oracle agrees with every decision', async () => {
    ids = await Promise.all([createIdentity(), createIdentity(), createIdentity()])
    const admins = new Set([ids[0]!.did])
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
        let t = 1_700_000_000_000
        const clock = (): number => t++
        const access = { admins: [...admins] }
        const replicas = await Promise.all([0, 1, 2].map((i) => CairnStore.open(new MemoryStorage(), { clock, signer: ids[i]!, access })))
        const lawless = await CairnStore.open(new MemoryStorage(), { clock, signer: ids[1]! })
        const all = [...replicas, lawless]
        const refusedCids = new Set<string>()
        const refusedLocally = async (p: Promise<unknown>): Promise<void> => {
          await p.catch((e: unknown) => {
            if (!isCairnError(e, 'CAIRN_UNAUTHORIZED')) throw e
          })
        }
        for (const op of ops) {
          if (op.op === 'append') await refusedLocally(all[op.r]!.append({ stream: op.stream, type: 'x', data: t }))
          else if (op.op === 'grant') await refusedLocally(replicas[op.by]!.grant(ids[op.to]!.did, { streams: op.streams, admin: op.admin }))
          else if (op.op === 'revoke') await refusedLocally(replicas[op.by]!.revoke(ids[op.to]!.did))
          else if (op.from !== op.to) {
            const car = await bytesOf(all[op.from]!.export({ since: all[op.to]!.heads }))
            try {
              await all[op.to]!.import(car)
            } catch (e) {
              // Only what the lawless replica wrote may be refused, and only by the rules.
              expect(op.from, String(e)).toBe(3)
              expect(isCairnError(e, 'CAIRN_UNAUTHORIZED'), String(e)).toBe(true)
              for (const c of (e as { refused: CID[] }).refused) refusedCids.add(String(c))
            }
          }
        }
        // A full round among the replicas with rules, then everything the lawless one has, once more.
        for (let round = 0; round < 2; round++) {
          for (const from of replicas) for (const to of replicas) if (from !== to) await to.import(await bytesOf(from.export({ since: to.heads })))
          await lawless.import(await bytesOf(replicas[0]!.export())).catch(() => {})
        }
        const [first, ...rest] = replicas
        const hash = String(await first!.stateHash())
        for (const r of rest) {
          expect(r.heads.map(String)).toEqual(first!.heads.map(String))
          expect(String(await r.stateHash())).toBe(hash)
        }
        // The oracle admits everything a rule-following replica holds…
        const held = await everything(first!)
        const byCid = new Map(held.map((e) => [String(e.cid), e]))
        for (const e of held) expect(oracleAdmits(e, byCid, admins), `held but not admitted: ${e.cid}`).toBe(true)
        // …and refuses every event of the lawless replica that they lack because the rules refused it.
        const lawlessEvents = await everything(lawless)
        const lawlessByCid = new Map(lawlessEvents.map((e) => [String(e.cid), e]))
        for (const c of refusedCids) {
          const e = lawlessByCid.get(c)!
          expect(byCid.has(c)).toBe(false)
          expect(oracleAdmits(e, lawlessByCid, admins), `refused but admitted by the oracle: ${c}`).toBe(false)
        }
      }),
      { numRuns: 100 },
    )
  }, 120_000)
})
