import * as dagCbor from '@ipld/dag-cbor'
import { sha256Sync } from '../block/hash.ts'
import { CID } from 'multiformats/cid'
import { equalBytes } from '../block/codec.ts'
import type { EventFilter } from '../log/event/interface.ts'

/**
 * The persisted form of a projection (the derived value `p.<name>`). Rebuildable from the
 * log, so anything unexpected in it (bad checksum, other format, other spec, a field of the
 * wrong shape) makes the projection rebuild from scratch instead of failing.
 *
 *   envelope = dag-cbor { cairn: 'projection', v: 1, sum: sha2-256(body), body: bytes }
 *   body     = dag-cbor { fp: fingerprint, heads: [CID], keys: [KeyTuple] }     (keys sorted)
 *   KeyTuple = [key, state, lastCid, lastTs, lastTc, count, [SnapTuple]]
 *   SnapTuple = [stateBytes (dag-cbor), cid, ts, tc, version, count]
 *
 * `heads`: every event reachable from them is folded into the states (the states may hold a
 * few more: re-applying those is harmless). `count`: events folded into the key; a snapshot's
 * `version` is the stream version of its event when it was taken (a hint, always checked).
 */
export const PERSIST_FORMAT = 1

/** A position in the canonical order. */
export interface Position {
  readonly cid: CID
  readonly ts: number
  readonly tc: number
}

/** A key's state after the event at its position, kept encoded (immune to a mutating reducer). */
export interface Snapshot extends Position {
  readonly bytes: Uint8Array
  /** The event's version in its stream when the snapshot was taken: where a re-read starts. */
  version: number
  /** How many of the key's events the state folds. */
  readonly count: number
}

export interface SavedKey {
  state: unknown
  last: Position
  count: number
  snapshots: Snapshot[]
}

export interface Saved {
  heads: CID[]
  keys: Map<string, SavedKey>
}

/**
 * What invalidates a persisted projection: the format, the name, the filter, `snapshotEvery`,
 * the reducer's source text and the initial state. sha2-256 of their dag-cbor encoding.
 */
export function fingerprintOf(name: string, filter: EventFilter, snapshotEvery: number, reducer: unknown, initialBytes: Uint8Array): Uint8Array {
  return sha256Digest(
    dagCbor.encode({
      v: PERSIST_FORMAT,
      name,
      filter: { stream: filter.stream ?? null, type: filter.type ?? null, streamPrefix: filter.streamPrefix ?? null },
      every: snapshotEvery,
      reducer: String(reducer),
      initial: initialBytes,
    }),
  )
}

/** Encodes a projection for `writeDerived`. Throws only if a state is not encodable (checked earlier). */
export function encodeSaved(fingerprint: Uint8Array, saved: { heads: readonly CID[]; keys: ReadonlyMap<string, SavedKey> }): Uint8Array {
  const keys = [...saved.keys.keys()].sort().map((key) => {
    const k = saved.keys.get(key)!
    return [key, k.state, k.last.cid, k.last.ts, k.last.tc, k.count, k.snapshots.map((s) => [s.bytes, s.cid, s.ts, s.tc, s.version, s.count])]
  })
  const body = dagCbor.encode({ fp: fingerprint, heads: [...saved.heads], keys })
  return dagCbor.encode({ cairn: 'projection', v: PERSIST_FORMAT, sum: sha256Digest(body), body })
}

/** Decodes and checks a persisted projection; `undefined` for anything but a sound value made by this spec. Never throws. */
export function decodeSaved(bytes: Uint8Array, fingerprint: Uint8Array): Saved | undefined {
  try {
    const env = dagCbor.decode<Record<string, unknown>>(bytes)
    if (!isRecord(env) || env['cairn'] !== 'projection' || env['v'] !== PERSIST_FORMAT) return undefined
    const sum = env['sum']
    const body = env['body']
    if (!(sum instanceof Uint8Array) || !(body instanceof Uint8Array) || !equalBytes(sum, sha256Digest(body))) return undefined
    const b = dagCbor.decode<Record<string, unknown>>(body)
    if (!isRecord(b) || !(b['fp'] instanceof Uint8Array) || !equalBytes(b['fp'], fingerprint)) return undefined
    const heads = b['heads']
    if (!Array.isArray(heads)) return undefined
    const headCids: CID[] = []
    for (const h of heads) {
      const cid = CID.asCID(h)
      if (cid === null) return undefined
      headCids.push(cid)
    }
    const list = b['keys']
    if (!Array.isArray(list)) return undefined
    const keys = new Map<string, SavedKey>()
    for (const t of list) {
      if (!Array.isArray(t) || t.length !== 7) return undefined
      const [key, state, lastCid, lastTs, lastTc, count, snaps] = t as unknown[]
      const last = position(lastCid, lastTs, lastTc)
      if (typeof key !== 'string' || key.length === 0 || keys.has(key) || last === undefined || !isCount(count) || count < 1 || !Array.isArray(snaps)) return undefined
      const snapshots: Snapshot[] = []
      for (const s of snaps) {
        if (!Array.isArray(s) || s.length !== 6) return undefined
        const [sb, sc, sts, stc, sv, sn] = s as unknown[]
        const p = position(sc, sts, stc)
        if (!(sb instanceof Uint8Array) || p === undefined || !isCount(sv) || sv < 1 || !isCount(sn) || sn < 1 || sn > count) return undefined
        snapshots.push({ ...p, bytes: sb, version: sv, count: sn })
      }
      keys.set(key, { state, last, count, snapshots })
    }
    return { heads: headCids, keys }
  } catch {
    return undefined
  }
}

function position(cid: unknown, ts: unknown, tc: unknown): Position | undefined {
  const c = CID.asCID(cid)
  if (c === null || !isCount(ts) || !isCount(tc)) return undefined
  return { cid: c, ts, tc }
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)
}

/** The raw sha2-256 digest (synchronous: values here are small). */
function sha256Digest(bytes: Uint8Array): Uint8Array {
  return sha256Sync(bytes).digest
}
