import { CID } from 'multiformats/cid'
import type { ByteArena } from '../../block/arena.ts'
import { compareBytes, decodeTrusted, encodeChecked, sha256BlockCid, verify } from '../../block/codec.ts'
import { DAG_CBOR, type Block } from '../../block/interface.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import { writeEnvelope } from './envelope.ts'
import type { EventBlock, EventMeta } from './interface.ts'

const KEYS = new Set(['v', 'stream', 'type', 'ts', 'tc', 'prev', 'parents', 'data', 'meta', 'author', 'sig'])
const META_STRINGS = ['id', 'correlation', 'causation'] as const

/**
 * Encodes an event as a dag-cbor block: the bytes `@ipld/dag-cbor` writes, by the envelope
 * writer (envelope.ts), or by dag-cbor itself for what that writer leaves to it. The caller has
 * checked `data` and `meta` with assertIpld.
 */
export function encodeEvent(event: EventBlock): Block<EventBlock> {
  return encodeOwnEvent(newEvent(event.stream, event.type, event.ts, event.tc, event.prev, event.parents, event.data, event.meta, event.author, event.sig))
}

/**
 * An event's map as the block holds it: its fields in the writer's order, `meta`, `author`,
 * `sig` only when set, no other key (the value `encodeOwnEvent` takes as its own).
 */
export function newEvent(stream: string, type: string, ts: number, tc: number, prev: CID | null, parents: CID[], data: unknown, meta: EventMeta | undefined, author?: string, sig?: Uint8Array): EventBlock {
  const value: EventBlock = { v: 1, stream, type, ts, tc, prev, parents, data }
  if (meta !== undefined) value.meta = meta
  if (author !== undefined) value.author = author
  if (sig !== undefined) value.sig = sig
  return value
}

/**
 * `encodeEvent` for an event made by `newEvent`, which becomes the block's value as it is (no
 * copy). The caller has checked `data` and `meta` with assertIpld. With `arena`, the bytes are
 * a view into it.
 */
export function encodeOwnEvent(value: EventBlock, arena?: ByteArena): Block<EventBlock> {
  const bytes = writeEnvelope(value, arena)
  if (bytes === undefined) return encodeChecked(value, 'event')
  return { cid: sha256BlockCid(DAG_CBOR, bytes), bytes, value }
}

function invalid(cid: CID | undefined, why: string): never {
  throw new CairnError('CAIRN_INVALID_EVENT', cid === undefined ? `invalid event: ${why}` : `event ${cid} is invalid: ${why}`, cid === undefined ? {} : { cid })
}

const isCid = (v: unknown): v is CID => CID.asCID(v) !== null
const isStamp = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** Checks a decoded value against the event format v1. Throws CAIRN_INVALID_EVENT naming the CID. */
export function assertEvent(value: unknown, cid?: CID): asserts value is EventBlock {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) invalid(cid, 'not a map')
  const e = value as Record<string, unknown>
  for (const key of Object.keys(e)) if (!KEYS.has(key)) invalid(cid, `unknown field "${key}"`)
  if (e['v'] !== 1) invalid(cid, `unsupported version ${String(e['v'])}`)
  if (typeof e['stream'] !== 'string' || e['stream'] === '') invalid(cid, '"stream" must be a non-empty string')
  if (typeof e['type'] !== 'string' || e['type'] === '') invalid(cid, '"type" must be a non-empty string')
  if (!isStamp(e['ts'])) invalid(cid, '"ts" must be a non-negative integer')
  if (!isStamp(e['tc'])) invalid(cid, '"tc" must be a non-negative integer')
  if (e['prev'] !== null && !isCid(e['prev'])) invalid(cid, '"prev" must be a CID or null')
  const parents = e['parents']
  if (!Array.isArray(parents) || !parents.every(isCid)) invalid(cid, '"parents" must be a list of CIDs')
  for (let i = 1; i < parents.length; i++) {
    if (compareBytes(parents[i - 1]!.bytes, parents[i]!.bytes) >= 0) invalid(cid, '"parents" must be sorted by CID bytes without duplicates')
  }
  for (const p of [...parents, ...(e['prev'] === null ? [] : [e['prev'] as CID])]) {
    if (p.code !== DAG_CBOR) invalid(cid, `link ${p} is not a dag-cbor event`)
  }
  if (!('data' in e)) invalid(cid, '"data" is missing')
  if (e['meta'] !== undefined) assertMeta(e['meta'], cid)
  if (e['author'] !== undefined && typeof e['author'] !== 'string') invalid(cid, '"author" must be a string')
  if (e['sig'] !== undefined && !(e['sig'] instanceof Uint8Array)) invalid(cid, '"sig" must be bytes')
}

function assertMeta(meta: unknown, cid: CID | undefined): asserts meta is EventMeta {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta) || meta instanceof Uint8Array || isCid(meta)) invalid(cid, '"meta" must be a map')
  for (const key of META_STRINGS) {
    const v = (meta as Record<string, unknown>)[key]
    if (v !== undefined && (typeof v !== 'string' || v === '')) invalid(cid, `"meta.${key}" must be a non-empty string`)
  }
}

/**
 * Verifies an event block's bytes against its CID, decodes it and checks the format. Canonical
 * bytes (every event Cairn wrote) are read by the envelope reader, which gives what cborg gives.
 */
export async function decodeEvent(cid: CID, bytes: Uint8Array): Promise<EventBlock> {
  if (cid.code !== DAG_CBOR) invalid(cid, 'events are dag-cbor blocks')
  await verify(cid, bytes)
  const value = decodeTrusted(cid, bytes)
  assertEvent(value, cid)
  return value
}

/** Checks an app-supplied `meta` before it is encoded; TypeError names the field. */
export function checkInputMeta(meta: unknown, name: string): EventMeta | undefined {
  if (meta === undefined) return undefined
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw new TypeError(`"${name}" expected an object, got ${meta === null ? 'null' : typeof meta}`)
  for (const key of META_STRINGS) {
    const v = (meta as Record<string, unknown>)[key]
    if (v !== undefined && (typeof v !== 'string' || v === '')) throw new TypeError(`"${name}.${key}" expected a non-empty string, got ${typeof v === 'string' ? '""' : typeof v}`)
  }
  return meta as EventMeta
}
