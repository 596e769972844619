// Imports refuse every malformed event and object block (issue 9, items 4–7): each spec below
// failed before the rule it names existed, and each has a control that the same construction,
// made valid, is accepted — so a refusal is never the helper's fault.
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import { encodeValue } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { MAX_DEPTH } from '../../src/block/validate.ts'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { encodeEvent } from '../../src/log/event/format.ts'
import type { EventBlock } from '../../src/log/event/interface.ts'
import { MAX_TC } from '../../src/log/rules/stamp.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { arr, cat, float64, map, negZero16, nul, rawText, text, uint, undef, type Item } from '../support/cbor.ts'
import { bytesOf, carOf, collect } from '../support/stores.ts'

const NOW = 1_700_000_000_000
const open = (clock: () => number = () => NOW): Promise<CairnStore> => CairnStore.open(new MemoryStorage(), { clock })

/** The fields of a first event (no parents, no prev), canonical key order: length first, then bytes. */
function eventEntries(o: { stream?: Item; type?: Item; ts?: Item; tc?: Item; data?: Item } = {}): [string, Item][] {
  const entries: [string, Item][] = [
    ['v', uint(1)],
    ['tc', o.tc ?? uint(0)],
    ['ts', o.ts ?? uint(NOW)],
    ['data', o.data ?? nul],
    ['prev', nul],
    ['type', o.type ?? text('t')],
    ['stream', o.stream ?? text('s')],
    ['parents', arr([])],
  ]
  return entries
}

async function blockOf(bytes: Uint8Array): Promise<BlockRecord> {
  return { cid: CID.createV1(0x71, await sha256.digest(bytes)), bytes }
}

/** Imports `car` into `store` and returns the error; checks that nothing changed. */
async function refused(store: CairnStore, car: Uint8Array): Promise<unknown> {
  const before = { heads: store.heads.map(String), stats: await store.stats(), objects: (await collect(store.objects())).length }
  const err = await store.import(car).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, 'the import was accepted').toBeDefined()
  expect({ heads: store.heads.map(String), stats: await store.stats(), objects: (await collect(store.objects())).length }).toEqual(before)
  return err
}

describe('imports refuse malformed events', () => {
  test("the hand-made CBOR of a valid event is dag-cbor's own bytes, and imports", async () => {
    const bytes = map(eventEntries())
    const block = await blockOf(bytes)
    expect(block.cid.equals(encodeEvent({ v: 1, stream: 's', type: 't', ts: NOW, tc: 0, prev: null, parents: [], data: null }).cid)).toBe(true)
    const store = await open()
    expect((await store.import(await carOf([block.cid], [block]))).events).toBe(1)
  })

  const nonCanonical: [string, Uint8Array][] = [
    ['an integer written as a float', map(eventEntries({ ts: float64(NOW) }))],
    ['map keys out of canonical order', map([...eventEntries()].reverse())],
    ['undefined in data (read back as null)', map(eventEntries({ data: map([['x', undef]]) }))],
    ['invalid UTF-8 in a string (read back as U+FFFD)', map(eventEntries({ type: rawText(Uint8Array.of(0x74, 0xff, 0xfe)) }))],
    ['tc written as -0.0', map(eventEntries({ tc: negZero16 }))],
    ['a non-minimal integer head', map(eventEntries({ tc: Uint8Array.of(0x18, 0x05) }))],
  ]
  for (const [what, bytes] of nonCanonical) {
    test(`non-canonical event bytes are refused: ${what}`, async () => {
      const block = await blockOf(bytes)
      const store = await open()
      const err = await refused(store, await carOf([block.cid], [block]))
      expect(isCairnError(err) && ['CAIRN_INVALID_EVENT', 'CAIRN_INVALID_BLOCK'].includes(err.code), String(err)).toBe(true)
      expect((err as { cid?: CID }).cid?.equals(block.cid)).toBe(true)
    })
  }

  test('an event whose tc would make the next append overflow is refused; one at the bound is fine and the next append moves on', async () => {
    const poison = encodeEvent({ v: 1, stream: 's', type: 't', ts: NOW, tc: 2 ** 53 - 1, prev: null, parents: [], data: null })
    const store = await open()
    const err = await refused(store, await carOf([poison.cid], [poison]))
    expect(isCairnError(err, 'CAIRN_INVALID_EVENT')).toBe(true)
    expect(String((err as Error).message)).toContain('clock counter')

    const edge = encodeEvent({ v: 1, stream: 's', type: 't', ts: NOW, tc: MAX_TC, prev: null, parents: [], data: null })
    await store.import(await carOf([edge.cid], [edge]))
    const next = await store.append({ stream: 's', type: 't' }) // the wall clock is still at NOW
    expect([next.ts, next.tc]).toEqual([NOW + 1, 0])
    // Everything this store holds stays importable everywhere, and verifies.
    expect((await store.verify()).blocks).toBe(2)
    const peer = await open()
    expect((await peer.import(await bytesOf(store.export()))).events).toBe(2)
  })

  test(`event data nested deeper than ${MAX_DEPTH} levels is refused with a code, not a stack overflow`, async () => {
    for (const depth of [MAX_DEPTH + 1, 6000]) {
      const data = cat(new Uint8Array(depth).fill(0x81), nul) // [[[…null…]]]
      const block = await blockOf(map(eventEntries({ data })))
      const store = await open()
      const err = await refused(store, await carOf([block.cid], [block]))
      expect(isCairnError(err) && ['CAIRN_INVALID_EVENT', 'CAIRN_INVALID_BLOCK'].includes(err.code), String(err)).toBe(true)
      expect(String((err as Error).message)).toContain('deeper than')
    }
    const ok = await blockOf(map(eventEntries({ data: cat(new Uint8Array(MAX_DEPTH).fill(0x81), nul) })))
    expect((await (await open()).import(await carOf([ok.cid], [ok]))).events).toBe(1)
  })

  test(`a local append nested deeper than ${MAX_DEPTH} levels is CAIRN_INVALID_VALUE naming the path`, async () => {
    const nest = (n: number): unknown => {
      let v: unknown = null
      for (let i = 0; i < n; i++) v = [v]
      return v
    }
    const store = await open()
    for (const depth of [MAX_DEPTH + 1, 20_000]) {
      const err = await store.append({ stream: 's', type: 't', data: nest(depth) }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isCairnError(err, 'CAIRN_INVALID_VALUE'), String(err)).toBe(true)
      expect((err as { path?: string }).path).toMatch(/^data\[0\]/)
      expect(await store.stats()).toMatchObject({ events: 0 })
    }
    await store.append({ stream: 's', type: 't', data: nest(MAX_DEPTH) })
  })

  test('a root that claims to be an event but lacks its stream is refused, not kept as a foreign object', async () => {
    const bytes = map(eventEntries().filter(([k]) => k !== 'stream'))
    const block = await blockOf(bytes)
    const store = await open()
    const err = await refused(store, await carOf([block.cid], [block]))
    expect(isCairnError(err, 'CAIRN_INVALID_EVENT'), String(err)).toBe(true)
    // A foreign root that shares one field name with events (an atproto-like commit) stays foreign.
    const commit = encodeValue({ did: 'did:plc:x', version: 3, prev: null, rev: 'a', data: 'x' })
    const report = await store.import(await carOf([commit.cid], [commit]))
    expect(report.foreign.map(String)).toEqual([commit.cid.toString()])
  })
})

describe('imports refuse non-canonical object blocks', () => {
  /** A CAR with an `object.put` event recording the dag-cbor block `object`. */
  async function objectCar(object: BlockRecord): Promise<Uint8Array> {
    const event: EventBlock = { v: 1, stream: '$objects', type: 'object.put', ts: NOW, tc: 0, prev: null, parents: [], data: { cid: object.cid, type: 'doc', size: object.bytes.length } }
    const block = encodeEvent(event)
    return carOf([block.cid], [block, object])
  }

  test('a recorded object whose dag-cbor bytes are not canonical is CAIRN_INVALID_BLOCK; the canonical one imports', async () => {
    const unsorted = await blockOf(
      map([
        ['zz', uint(1)],
        ['a', uint(2)],
      ]),
    )
    const store = await open()
    const err = await refused(store, await objectCar(unsorted))
    expect(isCairnError(err, 'CAIRN_INVALID_BLOCK'), String(err)).toBe(true)
    expect((err as { cid?: CID }).cid?.equals(unsorted.cid)).toBe(true)

    const sorted = await blockOf(
      map([
        ['a', uint(2)],
        ['zz', uint(1)],
      ]),
    )
    expect(sorted.cid.equals(encodeValue({ zz: 1, a: 2 }).cid)).toBe(true)
    await store.import(await objectCar(sorted))
    expect(await store.get(sorted.cid)).toEqual({ a: 2, zz: 1 })
  })
})
