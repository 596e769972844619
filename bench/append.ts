// Append figures for `npm run bench` (issue 11): appends on the files engine beside floors
// measured in the same run, rounds interleaved so drift in the machine's load hits both sides.
// Workload: ~300-byte events over 1,000 streams. Alone: `npx tsx bench/append.ts` after a build.
//   1. single awaited appends      vs one write of 300 bytes + fsync each (the floor of issue 11),
//      and vs the I/O a commit of one event does: a write of COMMIT_BYTES over zeros written
//      ahead (as the engine does: docs/storage-formats.md 1.3), durable as the engine makes it
//      (O_DSYNC on Linux, else + fdatasync)
//   2. appendMany ×1,000 (20,000)  vs the durable floor: the same chain of events encoded with
//      @ipld/dag-cbor, each hashed (sha-256, node:crypto), framed as CAR blocks into one buffer,
//      one write and one fdatasync per 1,000
//   3. 16 appends in flight        vs one at a time (group commit: the ratio is the point)
// Before the single-append figure, BENCH_WARMUP (default 3,000; 0: none) awaited appends on a
// scratch store let the JIT compile the append path, so the figure is the steady state (on 2
// cores the first ~2,000 appends run partly unoptimised and would be most of the 5 × 300 timed).
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { openStore } from 'cairndb'
import { fmt, median, timed } from './measure.ts'
import { withDir } from './scratch.ts'
import type { RowFn } from './sync.ts'

const EVENTS = 20_000
const BATCH = 1_000
const SINGLE = 300
const IN_FLIGHT = 16
/** Bytes one commit of one workload event writes: its block frame and the commit record (551–552 B under strace). */
const COMMIT_BYTES = 552
/** Zeros the second floor writes ahead at a time, as the files engine does. */
const AHEAD = 256 * 1024
/** Awaited appends before the single-append figure (JIT warm-up); BENCH_WARMUP=0 turns it off. */
export const WARMUP: number = Number(process.env['BENCH_WARMUP'] ?? 3_000)

/** A deterministic event of the workload: ~300 bytes encoded. */
export const eventAt = (i: number): { stream: string; type: string; data: { i: number; memo: string; amount: number } } => ({
  stream: `acct-${i % 1000}`,
  type: 'entry.posted',
  data: { i, memo: `payment ${i} `.padEnd(200, '.'), amount: i % 977 },
})

const varint = (n: number, out: number[]): void => {
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
}

/**
 * The durable floor of a batched append: a chain of events (each naming the one before as
 * `prev` and only parent, with a stamp) encoded with @ipld/dag-cbor and hashed (sha-256 from
 * node:crypto) into a CIDv1, each block framed as in a CAR (varint length, CID, bytes) into
 * one buffer per batch, written with one write and made durable with one fdatasync.
 */
class FloorLog {
  readonly #fh: FileHandle
  #prev: CID | null = null
  #position = 0

  constructor(fh: FileHandle) {
    this.#fh = fh
  }

  async appendBatch(from: number, n: number): Promise<void> {
    const frames: Uint8Array[] = []
    let size = 0
    for (let i = from; i < from + n; i++) {
      const e = eventAt(i)
      const prev = this.#prev
      const bytes = dagCbor.encode({ v: 1, stream: e.stream, type: e.type, ts: 1_700_000_000_000 + i, tc: 0, prev, parents: prev === null ? [] : [prev], data: e.data })
      const cid = CID.createV1(dagCbor.code, Digest.create(0x12, createHash('sha256').update(bytes).digest()))
      const head: number[] = []
      varint(cid.bytes.length + bytes.length, head)
      frames.push(Uint8Array.from(head), cid.bytes, bytes)
      size += head.length + cid.bytes.length + bytes.length
      this.#prev = cid
    }
    const buf = new Uint8Array(size)
    let at = 0
    for (const f of frames) {
      buf.set(f, at)
      at += f.length
    }
    let done = 0
    while (done < buf.length) done += (await this.#fh.write(buf, done, buf.length - done, this.#position + done)).bytesWritten
    this.#position += buf.length
    await this.#fh.datasync()
  }
}

/** Times `sides` alternately, `turns` turns each, in an order that rotates each turn (so all see the same moments of the machine's load); ms of each. */
async function alternate(turns: number, ...sides: ((turn: number) => Promise<unknown>)[]): Promise<number[]> {
  const total = sides.map(() => 0)
  for (let t = 0; t < turns; t++) {
    for (let k = 0; k < sides.length; k++) {
      const i = (k + t) % sides.length
      total[i]! += await timed(() => sides[i]!(t))
    }
  }
  return total
}

/** One round of appendMany ×BATCH on the files engine beside the durable floor; [cairn ms, floor ms] for EVENTS events. */
export function batchedRound(): Promise<[number, number]> {
  return withDir('cairn-bench-append-', async (dir) => {
    const store = await openStore({ path: join(dir, 'store') })
    const fh = await open(join(dir, 'floor.car'), 'a')
    const floor = new FloorLog(fh)
    const [a, b] = await alternate(
      EVENTS / BATCH,
      (t) => store.appendMany(Array.from({ length: BATCH }, (_, i) => eventAt(t * BATCH + i))),
      (t) => floor.appendBatch(t * BATCH, BATCH),
    )
    await store.close()
    await fh.close()
    return [a!, b!]
  })
}

/**
 * One round of single awaited appends beside writes of 300 bytes each followed by fsync, and
 * beside writes of COMMIT_BYTES over zeros written ahead (AHEAD at a time, in the same write
 * as the write that reaches their end) to a file opened with O_DSYNC (Linux; elsewhere each
 * followed by fdatasync); [cairn, floor, commit floor] ms for SINGLE each.
 */
export function singleRound(): Promise<[number, number, number]> {
  return withDir('cairn-bench-append-', async (dir) => {
    const store = await openStore({ path: join(dir, 'store') })
    const fh = await open(join(dir, 'raw'), 'a')
    const buf = new Uint8Array(300).fill(1)
    const dsync = process.platform === 'linux' ? constants.O_DSYNC : 0
    const ahead = await open(join(dir, 'ahead'), constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | dsync)
    const commit = new Uint8Array(COMMIT_BYTES).fill(2)
    const extend = new Uint8Array(COMMIT_BYTES + AHEAD)
    extend.set(commit)
    let position = 0
    let allocated = 0
    const CHUNK = 10
    const [a, b, c] = await alternate(
      SINGLE / CHUNK,
      async (t) => {
        for (let i = t * CHUNK; i < (t + 1) * CHUNK; i++) await store.append(eventAt(i))
      },
      async () => {
        for (let i = 0; i < CHUNK; i++) {
          await fh.write(buf)
          await fh.sync()
        }
      },
      async () => {
        for (let i = 0; i < CHUNK; i++) {
          const grow = position + COMMIT_BYTES > allocated
          const bytes = grow ? extend : commit
          await ahead.write(bytes, 0, bytes.length, position)
          if (grow) allocated = position + bytes.length
          position += COMMIT_BYTES
          if (dsync === 0) await ahead.datasync()
        }
      },
    )
    await store.close()
    await fh.close()
    await ahead.close()
    return [a!, b!, c!]
  })
}

/** WARMUP awaited appends on a scratch store of the files engine, untimed: the append path gets compiled. */
export function warmUp(): Promise<void> {
  if (WARMUP <= 0) return Promise.resolve()
  return withDir('cairn-bench-append-', async (dir) => {
    const store = await openStore({ path: join(dir, 'store') })
    for (let i = 0; i < WARMUP; i++) await store.append(eventAt(i))
    await store.close()
  })
}

/** One round of appends by IN_FLIGHT writers at once beside the same number awaited one at a time; [in flight ms, one at a time ms] for SINGLE each. */
export function inFlightRound(): Promise<[number, number]> {
  return withDir('cairn-bench-append-', async (dir) => {
    const store = await openStore({ path: dir })
    const CHUNK = IN_FLIGHT * 2
    let at = 0
    const [a, b] = await alternate(
      SINGLE / CHUNK,
      async () => {
        const from = at
        at += CHUNK
        let next = from
        const writer = async (): Promise<void> => {
          for (let i = next++; i < from + CHUNK; i = next++) await store.append(eventAt(i))
        }
        await Promise.all(Array.from({ length: IN_FLIGHT }, writer))
      },
      async () => {
        for (let i = 0; i < CHUNK; i++) await store.append(eventAt(at++))
      },
    )
    await store.close()
    return [a!, b!]
  })
}

export async function runAppendBench(row: RowFn, rounds: number): Promise<void> {
  const rate = (n: number, ms: number): string => fmt((n / ms) * 1000, 'events/s')
  const runs = async (round: () => Promise<number[]>): Promise<number[]> => {
    const sides: number[][] = []
    for (let r = 0; r < rounds; r++) {
      const ms = await round()
      for (let i = 0; i < ms.length; i++) {
        sides[i] ??= []
        sides[i]!.push(ms[i]!)
      }
    }
    return sides.map(median)
  }
  await warmUp()
  const [s, sf, sc] = (await runs(singleRound)) as [number, number, number]
  row('append, files engine (awaited one at a time: 1 commit each)', rate(SINGLE, s), fmt((SINGLE / sf) * 1000, 'writes/s'), sf / s, 'write 300 B + fsync, interleaved')
  row('the same appends', rate(SINGLE, s), fmt((SINGLE / sc) * 1000, 'writes/s'), sc / s, `the I/O of such a commit: write ${COMMIT_BYTES} B over zeros written ahead, O_DSYNC, interleaved`)
  const [b, bf] = (await runs(batchedRound)) as [number, number]
  row('appendMany ×1000, files engine', rate(EVENTS, b), rate(EVENTS, bf), bf / b, 'durable floor: chain encode + sha-256 + CAR frames, 1 write + 1 fdatasync per 1000, interleaved')
  const [f, one] = (await runs(inFlightRound)) as [number, number]
  row(`append, files engine, ${IN_FLIGHT} in flight (group commit)`, rate(SINGLE, f), rate(SINGLE, one), one / f, 'one at a time, interleaved (target ≥ 5×)')
}

/** The line the append figures are printed under: what was done before timing them. */
export const appendHeader = (): string => `append figures: files engine, durable; ${WARMUP > 0 ? `${WARMUP} awaited appends of warm-up (untimed) before the single-append figure (BENCH_WARMUP=0: none)` : 'no warm-up (BENCH_WARMUP=0)'}`

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(appendHeader())
  await runAppendBench((what, cairn, baseline, ratio, name) => console.log(`${what}: ${cairn} | ${name}: ${baseline} | ratio ${ratio.toFixed(2)}`), Number(process.env['BENCH_ROUNDS'] ?? 5))
}
