import { createIdentity, openStore, type CairnStore, type Signer, verifySignature } from 'cairndb'
import { bytesOf, fmt, median, timed } from './measure.ts'
import { withDir } from './scratch.ts'
import type { RowFn } from './sync.ts'
import { BATCH, EVENTS, eventAt } from './workload.ts'

/** appendMany of EVENTS events in batches of BATCH on the files engine; ms. */
async function batchedAppend(signer: Signer | undefined): Promise<number> {
  return withDir('cairn-bench-trust-', async (dir) => {
    const store = await openStore({ path: dir, ...(signer === undefined ? {} : { signer }) })
    const ms = await timed(async () => {
      for (let k = 0; k < EVENTS; k += BATCH) await store.appendMany(Array.from({ length: BATCH }, (_, i) => eventAt(k + i)))
    })
    await store.close()
    return ms
  })
}

/** Awaited appends of warm-up before each single-append figure (the signing path compiles too). */
const SINGLE_WARMUP = Number(process.env['BENCH_WARMUP'] ?? 1000) > 0 ? 1000 : 0

/** Single awaited appends on the files engine (one fsync each), after SINGLE_WARMUP untimed ones in the same store; ms for n. */
async function singleAppends(signer: Signer | undefined, n: number): Promise<number> {
  return withDir('cairn-bench-trust-', async (dir) => {
    const store = await openStore({ path: dir, ...(signer === undefined ? {} : { signer }) })
    for (let i = 0; i < SINGLE_WARMUP; i++) await store.append(eventAt(n + i))
    const ms = await timed(async () => {
      for (let i = 0; i < n; i++) await store.append(eventAt(i))
    })
    await store.close()
    return ms
  })
}

/** A CAR of the workload: batched (one signature per 1,000) or one append per event (one each). */
async function carOf(signer: Signer | undefined, batched: boolean, n: number): Promise<Uint8Array> {
  const store = await openStore({ memory: true, ...(signer === undefined ? {} : { signer }) })
  if (batched) for (let k = 0; k < n; k += BATCH) await store.appendMany(Array.from({ length: Math.min(BATCH, n - k) }, (_, i) => eventAt(k + i)))
  else await Promise.all(Array.from({ length: n }, (_, i) => store.append(eventAt(i))))
  const car = await bytesOf(store.export())
  await store.close()
  return car
}

/** Verified import of a CAR into a fresh memory store; ms. */
async function importMs(car: Uint8Array, options: { requireSignatures?: boolean } = {}): Promise<number> {
  const store: CairnStore = await openStore({ memory: true, ...options })
  const ms = await timed(() => store.import(car))
  await store.close()
  return ms
}

export async function runTrustBench(row: RowFn, rounds: number): Promise<void> {
  const signer = await createIdentity()
  const med = async (fn: () => Promise<number>): Promise<number> => {
    const xs: number[] = []
    for (let i = 0; i < rounds; i++) xs.push(await fn())
    return median(xs)
  }
  const rate = (n: number, ms: number): string => fmt((n / ms) * 1000, 'events/s')

  // Interleaved, so drift in the machine's load hits both sides alike.
  const unsignedBatch: number[] = []
  const signedBatch: number[] = []
  for (let i = 0; i < rounds; i++) {
    unsignedBatch.push(await batchedAppend(undefined))
    signedBatch.push(await batchedAppend(signer))
  }
  const ub = median(unsignedBatch)
  const sb = median(signedBatch)
  row('signed appendMany ×1000, files engine', rate(EVENTS, sb), rate(EVENTS, ub), ub / sb, 'unsigned, same run')

  const SINGLE = 300
  const unsignedSingle: number[] = []
  const signedSingle: number[] = []
  for (let i = 0; i < rounds; i++) {
    unsignedSingle.push(await singleAppends(undefined, SINGLE))
    signedSingle.push(await singleAppends(signer, SINGLE))
  }
  const us = median(unsignedSingle)
  const ss = median(signedSingle)
  row(`signed append (1 fsync + 1 signature each), files engine, after ${SINGLE_WARMUP} untimed appends`, rate(SINGLE, ss), rate(SINGLE, us), us / ss, 'unsigned, same run')

  const plainCar = await carOf(undefined, true, EVENTS)
  const signedCar = await carOf(signer, true, EVENTS)
  const ui: number[] = []
  const si: number[] = []
  for (let i = 0; i < rounds; i++) {
    ui.push(await importMs(plainCar))
    si.push(await importMs(signedCar, { requireSignatures: true }))
  }
  row('signed verified import (batches of 1000), memory', rate(EVENTS, median(si)), rate(EVENTS, median(ui)), median(ui) / median(si), 'unsigned, same run')

  // The worst case: every event signed on its own (single appends), so one verify per event.
  const EACH = 5_000
  const eachCar = await carOf(signer, false, EACH)
  const plainEachCar = await carOf(undefined, false, EACH)
  const ue = await med(() => importMs(plainEachCar))
  const se = await med(() => importMs(eachCar, { requireSignatures: true }))
  row('signed verified import (every event signed), memory', rate(EACH, se), rate(EACH, ue), ue / se, 'unsigned, same run')

  // The primitive: Ed25519 verifies per second through verifySignature (WebCrypto), 256 at a time.
  const msg = new Uint8Array(300).fill(7)
  const sig = await signer.sign(msg)
  const V = 5_000
  const verifyMs = await med(() =>
    timed(async () => {
      for (let i = 0; i < V; i += 256) await Promise.all(Array.from({ length: Math.min(256, V - i) }, () => verifySignature(signer.did, msg, sig)))
    }),
  )
  console.log(`(Ed25519 verify through verifySignature: ${fmt((V / verifyMs) * 1000, 'verifies/s')})`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runTrustBench((what, cairn, baseline, ratio, name) => console.log(`${what}: ${cairn} | ${name}: ${baseline} | ratio ${ratio.toFixed(2)}`), Number(process.env['BENCH_ROUNDS'] ?? 5))
}
