// Findings of the fuzzer that are reported to the lead and not yet fixed in src/. A failure
// that matches one is counted and printed with its first reproduction, not failed on; once the
// bug is fixed the finding stops matching (and its entry here can go).
import type { Variant } from './mutators.ts'

export interface Failure {
  kind: 'plain-error' | 'store-changed' | 'accepted-invalid' | 'refused-valid' | 'wrong-code' | 'inconsistent' | 'slow' | 'harness'
  message: string
  /** The oracle's rule ids behind its verdict (refusals), or the check that differed (acceptances). */
  rules: string[]
  code?: string
}

export interface KnownFinding {
  id: string
  title: string
  matches(f: Failure, v: Variant): boolean
}

export const KNOWN_FINDINGS: readonly KnownFinding[] = [
  {
    id: 'F1-foreign-record-prev',
    title: 'the local object.put of a foreign root takes as prev the last $objects event the store held before the import, ignoring $objects events the same import brings (format-v1 §5: the stream\'s last event in canonical order)',
    matches: (f) => f.kind === 'inconsistent' && f.rules.includes('record.prev'),
  },
  {
    id: 'F2-foreign-record-size',
    title: 'a foreign root whose DAG blocks were already walked in the same import (under an object.put of the CAR, or a root listed twice) is recorded with size 0 instead of the bytes of its DAG the CAR carried (format-v1 §6)',
    matches: (f) => f.kind === 'inconsistent' && f.rules.includes('record.size'),
  },
  {
    id: 'F3-explicit-v0-cid-prefix',
    title: 'a frame whose CID is written with an explicit version 0 (0x00 ‖ codec ‖ multihash: not a CID in any version) is read as the CIDv0 of that multihash instead of being refused as CAIRN_INVALID_CAR (multiformats\' CID.decodeFirst allows it)',
    matches: (f) => f.rules.includes('car.cid-explicit-v0') && (f.kind === 'accepted-invalid' || f.kind === 'wrong-code'),
  },
  {
    id: 'F4-meta-bytes',
    title: 'an event whose meta is a byte string (not a map) is accepted: assertMeta lets a Uint8Array through (format-v1 §3 check 10); verify() accepts it too',
    matches: (f) => f.kind === 'accepted-invalid' && f.rules.includes('event.format: meta is a byte string, not a map'),
  },
  {
    id: 'F5-duplicate-foreign-roots',
    title: 'a foreign root listed n times in the CAR header gets n local object.put records (and the report lists it n times): a 64 KiB header makes ~1,800 events (format-v1 §10: recorded unless one with that type exists)',
    matches: (f) => f.kind === 'inconsistent' && f.rules.includes('foreign-duplicates'),
  },
  {
    id: 'F6-tiny-chunks-quadratic',
    title: 'reading a CAR that arrives in tiny chunks is quadratic in the chunks of one frame (car/reader.ts ByteQueue.exactly: Array.shift on the buffered chunks, linear in V8 once the array is large): a 256 KiB block takes ~0.3 s in 16-byte chunks, ~1.5 s in 8-byte, ~7 s in 4-byte, ~4.5x per halving, so hours for a 4 MiB block in 1-byte chunks (an HTTP push body can arrive so)',
    matches: (f) => f.kind === 'slow' && f.rules.includes('slow.tiny-chunks'),
  },
]
