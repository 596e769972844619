// The fast subset of the hostile-CAR fuzzer (test/fuzz/): a few hundred seeded variants of a
// handful of corpora, on the memory engine, in every runtime. Each variant is refused with a
// CAIRN_ code and leaves the store unchanged, or is accepted only when the independent check
// (test/fuzz/oracle.ts) says the CAR is valid, with the state it predicts. The full run
// (over 10,000 variants, memory and files engines) is `tsx test/fuzz/fuzz.node.ts`.
// Re-run one variant: CAIRN_FUZZ_SEED=<seed> CAIRN_FUZZ_ONLY=<index> npx vitest run --project node test/shared/fuzz.spec.ts
import * as dagCbor from '@ipld/dag-cbor'
import { ed25519 } from '@noble/curves/ed25519.js'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { describe, expect, test } from 'vitest'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { headerBytes, writeParts } from '../fuzz/car.ts'
import { buildCorpora, describeCorpus, NOW, type CorpusInfo } from '../fuzz/corpora.ts'
import { envInt } from '../fuzz/env.ts'
import { newTally, Runner, runSeed, summary, truncations } from '../fuzz/harness.ts'
import { DEFAULT_LIMITS, judge, Model, type Verdict } from '../fuzz/oracle.ts'
import { Rng } from '../fuzz/prng.ts'
import { cborShape, encodeCbor, nested, RawCbor } from '../support/cbor.ts'

const SEED = envInt('CAIRN_FUZZ_SEED', 20260101)!
const ONLY = envInt('CAIRN_FUZZ_ONLY')
const COUNT = envInt('CAIRN_FUZZ_COUNT', 300)!

describe("the fuzzer's own tools", () => {
  test("the hand-made encoder writes dag-cbor's bytes, and its other styles do not", () => {
    const cid = CID.parse('bafyreie5k4gywcco6ggqn3xsj2nbyma7vqklshwjpf2mvvb5pcd57ibzpu')
    const values: unknown[] = [
      null,
      true,
      false,
      0,
      23,
      24,
      255,
      256,
      65535,
      65536,
      2 ** 32,
      2 ** 53 - 1,
      -1,
      -24,
      -25,
      -(2 ** 40),
      1.5,
      -0.25,
      2n ** 64n - 1n,
      -(2n ** 64n),
      '',
      'é',
      'x'.repeat(300),
      new Uint8Array([1, 2]),
      cid,
      [],
      [1, [2, [3]]],
      { b: 1, a: 2, aa: 3, B: 4 },
      { v: 1, tc: 0, ts: NOW, data: { cid }, prev: null, type: 't', stream: 's', parents: [cid] },
    ]
    const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
    for (const v of values) expect(hex(encodeCbor(v)), String(v)).toBe(hex(dagCbor.encode(v)))
    const map = { zz: 1, a: [2] }
    for (const style of [{ keys: 'reverse' as const }, { wideInts: true }, { intsAsFloats: true }, { indefinite: true }]) {
      expect(hex(encodeCbor(map, style))).not.toBe(hex(dagCbor.encode(map)))
    }
    expect(hex(encodeCbor({ x: new RawCbor(Uint8Array.of(0xf7)) }))).toBe('a16178f7')
  })

  test('the structural reader measures nesting without recursing', () => {
    expect(cborShape(dagCbor.encode({ a: [1, { b: [] }] }))).toEqual({ depth: 4, filled: 3, wellFormed: true })
    expect(cborShape(nested(100_000))).toEqual({ depth: 100_000, filled: 100_000, wellFormed: true })
    expect(cborShape(nested(600), 513).depth).toBe(514)
    expect(cborShape(Uint8Array.of(0x82, 0x01)).wellFormed).toBe(false)
    expect(cborShape(Uint8Array.of(0x01, 0x01)).wellFormed).toBe(false)
    expect(cborShape(Uint8Array.of(0x9f, 0xff)).wellFormed).toBe(false)
  })

  test('the PRNG is seeded and reproducible', () => {
    const a = new Rng(42)
    const b = new Rng(42)
    const xs = Array.from({ length: 5 }, () => a.int(1000))
    expect(Array.from({ length: 5 }, () => b.int(1000))).toEqual(xs)
    expect(new Set(xs).size).toBeGreaterThan(1)
  })

  test('the oracle accepts a valid event and names the rule a defect breaks', async () => {
    const judgeEvent = async (value: Record<string, unknown>, bytes?: Uint8Array): Promise<Verdict> => {
      const b = bytes ?? dagCbor.encode(value)
      const cid = CID.createV1(0x71, await sha256.digest(b))
      return judge(new Model(), writeParts({ header: headerBytes([cid]), frames: [{ cid: cid.bytes, bytes: b }] }), { ...DEFAULT_LIMITS, now: NOW })
    }
    const event = { v: 1, tc: 0, ts: NOW, data: null, prev: null, type: 't', stream: 's', parents: [] }
    expect((await judgeEvent(event)).ok).toBe(true)
    const rules = async (v: Record<string, unknown>, b?: Uint8Array): Promise<string[]> => {
      const verdict = await judgeEvent(v, b)
      return verdict.ok ? [] : verdict.problems.map((p) => p.rule)
    }
    expect(await rules({ ...event, tc: 2 ** 40 + 1 })).toEqual(['clock.tc'])
    expect(await rules({ ...event, ts: NOW + DEFAULT_LIMITS.maxClockDrift + 1 })).toEqual(['clock.drift'])
    expect(await rules({ ...event, meta: new Uint8Array(1) })).toEqual(['event.format: meta is a byte string, not a map'])
    expect(await rules(event, encodeCbor(event, { keys: 'reverse' }))).toEqual(['event.noncanonical'])
    // 512 lists and an empty one inside: the block nests 513 filled levels (allowed), the value 513 (not)
    expect(await rules(event, encodeCbor({ ...event, data: new RawCbor(nested(512, Uint8Array.of(0x80))) }))).toEqual(['event.format: data or meta too deep'])
    // A root is decoded before it is known to be an event: a block nested too deep is refused there
    expect(await rules(event, encodeCbor({ ...event, data: new RawCbor(nested(600)) }))).toEqual(['root.deep'])
    expect(await rules({ ...event, data: { x: CID.parse('bafyreie5k4gywcco6ggqn3xsj2nbyma7vqklshwjpf2mvvb5pcd57ibzpu') } })).toEqual([])
    // Signatures (format-v1 §3): a sig needs an author and must verify; an author alone must be covered
    const secret = new Uint8Array(32).fill(7)
    const did = `did:key:${base58btc.encode(Uint8Array.of(0xed, 0x01, ...ed25519.getPublicKey(secret)))}`
    const signed = { ...event, author: did }
    const sig = ed25519.sign(dagCbor.encode(signed), secret)
    expect(await rules({ ...signed, sig })).toEqual([])
    expect(await rules({ ...signed, sig, data: 1 })).toEqual(['sig.invalid'])
    expect(await rules({ ...signed, sig: sig.subarray(0, 63) })).toEqual(['sig.invalid'])
    expect(await rules({ ...event, sig })).toEqual(['sig.no-author'])
    expect(await rules(signed)).toEqual(['sig.uncovered'])
    expect(await rules({ ...signed, author: 'did:key:z6Mk', sig })).toEqual(['sig.invalid'])
  })
})

const memory = { name: 'memory', open: async () => ({ storage: new MemoryStorage(), dispose: async () => {} }) }
let corpora: Promise<CorpusInfo[]> | undefined
/** The corpora and what the oracle knows of them, built once for both tests. */
const infosOnce = (): Promise<CorpusInfo[]> => (corpora ??= buildCorpora().then((cs) => Promise.all(cs.map(describeCorpus))))

describe('hostile CARs (fuzz, fast subset)', () => {
  test(`${ONLY === undefined ? COUNT : 1} seeded variants are refused with a code and no change, or accepted only when valid`, async () => {
    const started = Date.now()
    const infos = await infosOnce()
    const tally = newTally()
    const lines: string[] = []
    await runSeed(
      {
        seed: SEED,
        count: COUNT,
        only: ONLY,
        infos,
        engine: memory,
        repro: (seed, index) => `CAIRN_FUZZ_SEED=${seed} CAIRN_FUZZ_ONLY=${index} npx vitest run --project node test/shared/fuzz.spec.ts`,
        log: (line) => lines.push(line),
      },
      tally,
    )
    console.log(summary(tally, Date.now() - started))
    if (ONLY !== undefined) for (const l of lines) console.log(l)
    expect(tally.failures, tally.failures.join('\n\n')).toEqual([])
    expect(tally.variants).toBe(ONLY === undefined ? COUNT : 1)
  }, 300_000)

  test.skipIf(ONLY !== undefined)(
    'every corpus cut at every section boundary (and a byte either side) is refused, or is a valid shorter CAR',
    async () => {
      const started = Date.now()
      const infos = await infosOnce()
      const tally = newTally()
      const lines: string[] = []
      const runner = new Runner(memory, tally, (line) => lines.push(line))
      try {
        for (const info of infos) {
          for (const v of truncations(info)) await runner.run(info, v, `corpus ${info.corpus.name}, ${v.note}`, 'npx vitest run --project node test/shared/fuzz.spec.ts -t "section boundary"')
        }
      } finally {
        await runner.close()
      }
      console.log(summary(tally, Date.now() - started))
      expect(tally.failures, lines.join('\n\n')).toEqual([])
      expect(tally.refused['CAIRN_INVALID_CAR']).toBeGreaterThan(100)
    },
    300_000,
  )
})
