// The event envelope writer and reader (issue 11), before and after: CPU time per event over the
// 20,000 events of the workload (bench/workload.ts).
//   - encodeEvent as the append path calls it (the event map, its dag-cbor bytes, sha-256 from
//     node:crypto as the Node entry installs, the CID); before: @ipld/dag-cbor through
//     encodeChecked. Also the bytes alone (dag-cbor's encode vs writeEnvelope).
//   - decodeStrictEvent as an import calls it; before: the canonical scan, cborg, the format
//     checks. Also decodeEvent's decoding alone (cborg vs readEnvelope).
// The old paths are kept here for the comparison only. Rounds alternate old/new (and which goes
// first), so drift in the machine's load hits both; medians and same-round ratios.
// Run: `npx tsx bench/envelope.ts` (BENCH_ROUNDS, default 15).
import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import type { CID } from 'multiformats/cid'
import { scanCanonical } from '../src/block/canonical.ts'
import { cborNestsDeeperThan, decodeTrusted, encodeChecked, equalBytes, isCanonicalDagCbor, MAX_BLOCK_DEPTH } from '../src/block/codec.ts'
import { useSyncSha256 } from '../src/block/hash.ts'
import type { Block } from '../src/block/interface.ts'
import { MAX_DEPTH, nestsDeeperThan } from '../src/block/validate.ts'
import { readEnvelope } from '../src/log/event/envelope-read.ts'
import { writeEnvelope } from '../src/log/event/envelope.ts'
import { assertEvent, encodeEvent } from '../src/log/event/format.ts'
import { decodeStrictEvent } from '../src/log/event/strict.ts'
import type { EventBlock } from '../src/log/event/interface.ts'
import { median } from './measure.ts'
import { EVENTS, eventAt } from './workload.ts'

useSyncSha256((bytes) => new Uint8Array(createHash('sha256').update(bytes).digest()))

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15)

/** encodeEvent as it was before the envelope writer: the same map, encoded by @ipld/dag-cbor. */
function encodeEventBefore(event: EventBlock): Block<EventBlock> {
  const value: Record<string, unknown> = { v: 1, stream: event.stream, type: event.type, ts: event.ts, tc: event.tc, prev: event.prev, parents: event.parents, data: event.data }
  if (event.meta !== undefined) value['meta'] = event.meta
  if (event.author !== undefined) value['author'] = event.author
  if (event.sig !== undefined) value['sig'] = event.sig
  return encodeChecked(value as unknown as EventBlock, 'event')
}

/** decodeStrictEvent as it was before the envelope reader (errors simplified: the workload has none). */
function decodeStrictBefore(cid: CID, bytes: Uint8Array): EventBlock {
  const verdict = scanCanonical(bytes, MAX_BLOCK_DEPTH)
  if (verdict === 'too-deep' || (verdict === 'not-canonical' && cborNestsDeeperThan(bytes, MAX_BLOCK_DEPTH))) throw new Error('too deep')
  const value = decodeTrusted<EventBlock>(cid, bytes, verdict !== 'not-canonical')
  if (verdict === 'not-canonical' || (verdict === 'unsure' && !isCanonicalDagCbor(bytes, value))) throw new Error('not canonical')
  assertEvent(value, cid)
  if (nestsDeeperThan(value.data, MAX_DEPTH) || (value.meta !== undefined && nestsDeeperThan(value.meta, MAX_DEPTH))) throw new Error('too deep')
  return value
}

/** The workload as a chain of events, each naming the one before as `prev` and only parent. */
const events: EventBlock[] = []
const blocks: Block<EventBlock>[] = []
let prev: CID | null = null
for (let i = 0; i < EVENTS; i++) {
  const w = eventAt(i)
  const event: EventBlock = { v: 1, stream: w.stream, type: w.type, ts: 1_700_000_000_000 + i, tc: 0, prev, parents: prev === null ? [] : [prev], data: w.data }
  const before = encodeEventBefore(event)
  const after = encodeEvent(event)
  if (!equalBytes(before.bytes, after.bytes) || !before.cid.equals(after.cid)) throw new Error(`event ${i}: the two paths give other bytes`)
  events.push(event)
  blocks.push(after)
  prev = after.cid
}

/** CPU time (user + system) of one pass over the events, in µs per event. */
function cpuPerEvent(fn: (i: number) => unknown): number {
  const start = process.cpuUsage()
  for (let i = 0; i < EVENTS; i++) fn(i)
  const used = process.cpuUsage(start)
  return (used.user + used.system) / EVENTS
}

function compare(name: string, before: (i: number) => unknown, after: (i: number) => unknown): void {
  // Warm both paths up first.
  cpuPerEvent(before)
  cpuPerEvent(after)
  const b: number[] = []
  const a: number[] = []
  const ratios: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    let x: number
    let y: number
    if (r % 2 === 0) {
      x = cpuPerEvent(before)
      y = cpuPerEvent(after)
    } else {
      y = cpuPerEvent(after)
      x = cpuPerEvent(before)
    }
    b.push(x)
    a.push(y)
    ratios.push(x / y)
  }
  console.log(
    `${name}: before ${median(b).toFixed(2)} µs/event, after ${median(a).toFixed(2)} µs/event, same-round ratio ${median(ratios).toFixed(2)}× (median of ${ROUNDS}; ratios ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
  )
}

console.log(`${EVENTS} events of ~${blocks[1]!.bytes.length} bytes, CPU time per event`)
const envelopeOf = (e: EventBlock): Record<string, unknown> => ({ v: 1, stream: e.stream, type: e.type, ts: e.ts, tc: e.tc, prev: e.prev, parents: e.parents, data: e.data })
compare(
  'encodeEvent (map + bytes + sha-256 + CID)',
  (i) => encodeEventBefore(events[i]!),
  (i) => encodeEvent(events[i]!),
)
compare(
  'bytes only (dag-cbor encode vs writeEnvelope)',
  (i) => dagCbor.encode(envelopeOf(events[i]!)),
  (i) => writeEnvelope(events[i]!),
)
compare(
  'decodeStrictEvent (import)',
  (i) => decodeStrictBefore(blocks[i]!.cid, blocks[i]!.bytes),
  (i) => decodeStrictEvent(blocks[i]!.cid, blocks[i]!.bytes),
)
compare(
  'decoding only (cborg vs readEnvelope)',
  (i) => decodeTrusted(blocks[i]!.cid, blocks[i]!.bytes),
  (i) => readEnvelope(blocks[i]!.bytes),
)
