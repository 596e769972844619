// The independent check: decides, from docs/format-v1.md alone, whether a CAR must be accepted
// by a store in a known state, and if not, which error codes a refusal may carry. It calls none
// of Cairn's import rules: it reads the CAR with its own parser, re-hashes every block with
// multiformats' sha2-256, decodes with @ipld/dag-cbor / @ipld/dag-pb, re-encodes to check
// canonical bytes, measures nesting with its own structural reader, walks events, clocks and
// object DAGs itself, and verifies signatures with @noble/curves' Ed25519.
//
// Stage 1 (reading the CAR) is sequential, so the first problem decides the one code a refusal
// must carry. Stage 2 (the log's rules) collects every problem it can find; a refusal must carry
// the code of one of them. A CAR with no problem must be accepted, and the oracle predicts the
// store's state afterwards.
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { ed25519 } from '@noble/curves/ed25519.js'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { cborShape } from '../support/cbor.ts'

export const DAG_CBOR = 0x71
export const DAG_PB = 0x70
export const RAW = 0x55
export const SHA2_256 = 0x12
/** format-v1 §4: the clock counter bound. */
export const MAX_TC: number = 2 ** 40
/** format-v1 §2: maps and lists in `data`/`meta` nest at most 512 levels; a block at most 513 (the event's envelope). */
export const MAX_VALUE_DEPTH = 512
export const MAX_BLOCK_DEPTH = 513
/** format-v1 §10: the header's length. */
export const MAX_HEADER = 65536

export interface Block {
  cid: CID
  bytes: Uint8Array
}

/** The fields of an event the rules relating events need. */
export interface Stamped {
  ts: number
  tc: number
  stream: string
}

/** An event as decoded (a plain value, checked against §3). */
export interface EventValue extends Stamped {
  v: 1
  type: string
  prev: CID | null
  parents: CID[]
  data: unknown
  meta?: Record<string, unknown>
  author?: string
  sig?: Uint8Array
}

/** What the oracle knows of a store: kept by applying the (valid) CARs that built it. */
export class Model {
  readonly events: Map<string, Stamped & { cid: CID; type: string }> = new Map()
  readonly blocks: Map<string, Block> = new Map()
  /** Blocks under recorded objects: their DAGs are known complete. */
  readonly complete: Set<string> = new Set()
  /** Recorded objects, as `cid|type`. */
  readonly objects: Set<string> = new Set()
  heads: CID[] = []
}

export interface Limits {
  maxBlockBytes: number
  maxBytes: number
  maxClockDrift: number
  /** The importing store's clock at the import. */
  now: number
  foreignType: string
}

export const DEFAULT_LIMITS: Omit<Limits, 'now'> = { maxBlockBytes: 4 * 1024 * 1024, maxBytes: 1024 * 1024 * 1024, maxClockDrift: 24 * 60 * 60 * 1000, foreignType: 'car' }

/** A problem found: the code a refusal may carry, a rule id (stable, for known findings) and why. */
export interface Problem {
  codes: string[]
  rule: string
  why: string
}

export interface Accepted {
  ok: true
  /** New events, by CID string. */
  fresh: Map<string, { cid: CID; ev: EventValue }>
  /** Blocks the import must add (new events and the new blocks their DAGs reach), by CID string. */
  stored: Map<string, Block>
  /** Heads once the new events are in (before any local record of a foreign root). */
  heads: CID[]
  /** Roots kept as foreign objects (each once), in header order. */
  foreign: CID[]
  /** For each foreign root: the bytes of the distinct CAR blocks in its DAG. */
  foreignSizes: Map<string, number>
  /** Objects the new events record, as `cid|type`. */
  objects: Set<string>
  /** Blocks of the DAGs of newly recorded objects. */
  complete: Set<string>
  /** Every verified CAR block, by CID string. */
  car: Map<string, Block>
}

export interface Refused {
  ok: false
  stage: 'car' | 'log'
  problems: Problem[]
}

export type Verdict = Accepted | Refused

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

export const sortCids = (cids: Iterable<CID>): CID[] => [...cids].sort((a, b) => compareBytes(a.bytes, b.bytes))

const equal = (a: Uint8Array, b: Uint8Array): boolean => compareBytes(a, b) === 0

export function compareStamps(a: { ts: number; tc: number }, b: { ts: number; tc: number }): number {
  return a.ts !== b.ts ? a.ts - b.ts : a.tc - b.tc
}

// ---- stage 1: the CAR's bytes ----

type VarintRead = { value: number; next: number } | { eof: boolean; long?: boolean; nonMinimal?: boolean }

/**
 * An unsigned LEB128 varint. `strict` (inside CIDs): minimal and at most 9 bytes, as the
 * multiformats spec has it. Otherwise (a CAR's length prefixes; format-v1 does not ask for
 * minimal ones, and @ipld/car reads non-minimal ones too): any form of at most 8 bytes.
 */
function readVarint(b: Uint8Array, at: number, strict: boolean): VarintRead {
  let value = 0
  for (let i = 0; ; i++) {
    const byte = b[at + i]
    if (byte === undefined) return { eof: true }
    if (!strict && i >= 8) return { eof: false, long: true }
    value += (byte & 0x7f) * 2 ** (7 * i)
    if ((byte & 0x80) === 0) {
      if (i >= 9) return { eof: false, long: true }
      if (strict && i > 0 && byte === 0) return { eof: false, nonMinimal: true }
      return { value, next: at + i + 1 }
    }
  }
}

const isCid = (v: unknown): v is CID => CID.asCID(v) !== null

/** A CID at the start of a frame, read strictly as the CID spec has it. */
function readCid(frame: Uint8Array): { cid: CID; rest: Uint8Array } | Problem {
  if (frame[0] === 0x12) {
    if (frame[1] === 0x20 && frame.length >= 34) {
      return { cid: CID.createV0(Digest.create(SHA2_256, frame.slice(2, 34)) as never), rest: frame.subarray(34) }
    }
    // multiformats reads any 0x12-led prefix as a CIDv0 of whatever digest size follows; the hash check then fails
    return { codes: ['CAIRN_INVALID_CAR', 'CAIRN_INVALID_BLOCK'], rule: 'car.cid-v0-shape', why: 'a CIDv0 must be sha2-256 with a 32-byte digest' }
  }
  const parts: number[] = []
  let at = 0
  for (let i = 0; i < 4; i++) {
    const r = readVarint(frame, at, true)
    if (!('value' in r)) {
      return { codes: ['CAIRN_INVALID_CAR'], rule: 'nonMinimal' in r && r.nonMinimal === true ? 'car.cid-varint-nonminimal' : 'car.cid-truncated', why: 'the frame does not start with a CID' }
    }
    parts.push(r.value)
    at = r.next
    if (i === 0 && r.value !== 1) return { codes: ['CAIRN_INVALID_CAR'], rule: r.value === 0 ? 'car.cid-explicit-v0' : 'car.cid-version', why: `CID version ${r.value}` }
  }
  const [, codec, code, size] = parts as [number, number, number, number]
  if (at + size > frame.length) return { codes: ['CAIRN_INVALID_CAR'], rule: 'car.cid-truncated', why: 'the digest is cut short' }
  const digest = frame.slice(at, at + size)
  return { cid: CID.createV1(codec, Digest.create(code, digest)), rest: frame.subarray(at + size) }
}

function carProblem(codes: string[], rule: string, why: string): Refused {
  return { ok: false, stage: 'car', problems: [{ codes, rule, why }] }
}

/** Reads and verifies the CAR (format-v1 §1 and §10, first two items). */
async function readCarStrict(car: Uint8Array, limits: Limits): Promise<{ roots: CID[]; blocks: Map<string, Block> } | Refused> {
  const hl = readVarint(car, 0, false)
  if (!('value' in hl)) {
    if (hl.eof) return carProblem(['CAIRN_INVALID_CAR'], car.length === 0 ? 'car.empty' : 'car.header-prefix-truncated', 'no header length')
    return carProblem(['CAIRN_INVALID_CAR'], 'car.varint-long', 'the header length prefix is longer than 8 bytes')
  }
  if (hl.value === 0 || hl.value > MAX_HEADER) return carProblem(['CAIRN_INVALID_CAR'], 'car.header-length', `header length ${hl.value}`)
  if (hl.next + hl.value > car.length) return carProblem(['CAIRN_INVALID_CAR'], 'car.header-truncated', 'the CAR ends inside its header')
  let header: unknown
  try {
    header = dagCbor.decode(car.subarray(hl.next, hl.next + hl.value))
  } catch (err) {
    return carProblem(['CAIRN_INVALID_CAR'], 'car.header-undecodable', String(err))
  }
  const h = header as { version?: unknown; roots?: unknown } | null
  if (h === null || typeof h !== 'object' || h.version !== 1) return carProblem(['CAIRN_INVALID_CAR'], 'car.header-version', 'not a CARv1 header')
  if (!Array.isArray(h.roots) || !h.roots.every(isCid)) return carProblem(['CAIRN_INVALID_CAR'], 'car.header-roots', 'roots are not a list of CIDs')
  const roots = (h.roots as unknown[]).map((r) => CID.asCID(r)!)

  const blocks = new Map<string, Block>()
  let at = hl.next + hl.value
  while (at < car.length) {
    const start = at
    const lr = readVarint(car, at, false)
    if (!('value' in lr)) {
      if (lr.eof) return carProblem(['CAIRN_INVALID_CAR'], 'car.frame-prefix-truncated', `the CAR ends inside the length prefix at ${start}`)
      // A minimal 9-byte varint is at least 2^56: "too large" by the doc, "absurd" by Cairn's reader
      return carProblem(['CAIRN_INVALID_CAR', 'CAIRN_TOO_LARGE'], 'car.varint-long', `a length prefix longer than 8 bytes at ${start}`)
    }
    const length = lr.value
    if (length > limits.maxBlockBytes + 128) return carProblem(['CAIRN_TOO_LARGE'], 'car.frame-claims-too-much', `frame at ${start} claims ${length} bytes`)
    if (lr.next + length > limits.maxBytes) return carProblem(['CAIRN_TOO_LARGE'], 'car.over-max-bytes', `the CAR passes ${limits.maxBytes} bytes`)
    if (lr.next + length > car.length) return carProblem(['CAIRN_INVALID_CAR'], 'car.frame-truncated', `the CAR ends inside the frame at ${start}`)
    const frame = car.subarray(lr.next, lr.next + length)
    const read = readCid(frame)
    if (!('cid' in read)) return { ok: false, stage: 'car', problems: [read] }
    const { cid, rest } = read
    if (rest.length > limits.maxBlockBytes) return carProblem(['CAIRN_TOO_LARGE'], 'car.block-too-large', `block ${cid} has ${rest.length} bytes`)
    if (cid.multihash.code !== SHA2_256) return carProblem(['CAIRN_INVALID_BLOCK'], 'block.hash', `block ${cid} hash 0x${cid.multihash.code.toString(16)}`)
    if (cid.code !== DAG_CBOR && cid.code !== RAW && cid.code !== DAG_PB) return carProblem(['CAIRN_INVALID_BLOCK'], 'block.codec', `block ${cid} codec 0x${cid.code.toString(16)}`)
    const digest = (await sha256.digest(rest)).digest
    if (!equal(digest, cid.multihash.digest)) return carProblem(['CAIRN_INVALID_BLOCK'], 'block.digest', `block ${cid} does not match its bytes`)
    blocks.set(cid.toString(), { cid, bytes: rest })
    at = lr.next + length
  }
  return { roots, blocks }
}

// ---- stage 2: the log's rules ----

type Decoded = { value: unknown } | { problem: 'deep' | 'undecodable'; why: string }

/**
 * Decodes a block by its codec, refusing nesting beyond MAX_BLOCK_DEPTH before decoding. The
 * bound counts maps and lists that hold something (an empty one at the bottom does not nest
 * anything): that is how Cairn reads "nesting" in §2, and the one reading the doc leaves open.
 */
function decodeBlock(cid: CID, bytes: Uint8Array): Decoded {
  if (cid.code === DAG_CBOR) {
    const shape = cborShape(bytes, Infinity)
    if (shape.filled > MAX_BLOCK_DEPTH) return { problem: 'deep', why: `nests deeper than ${MAX_BLOCK_DEPTH}` }
    try {
      return { value: dagCbor.decode(bytes) }
    } catch (err) {
      return { problem: 'undecodable', why: String(err) }
    }
  }
  if (cid.code === DAG_PB) {
    try {
      return { value: dagPb.decode(bytes) }
    } catch (err) {
      return { problem: 'undecodable', why: String(err) }
    }
  }
  return { value: bytes }
}

/** Every CID inside a decoded value (no recursion). */
export function linksIn(value: unknown): CID[] {
  const out: CID[] = []
  const stack = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) continue
    const cid = CID.asCID(v)
    if (cid !== null) {
      out.push(cid)
      continue
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push(child)
  }
  return out
}

function blockLinksOf(cid: CID, value: unknown): CID[] {
  if (cid.code === DAG_PB) return (value as dagPb.PBNode).Links.map((l) => l.Hash)
  if (cid.code === DAG_CBOR) return linksIn(value)
  return []
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !isCid(v)

const EVENT_KEYS = ['v', 'stream', 'type', 'ts', 'tc', 'prev', 'parents', 'data', 'meta', 'author', 'sig']
const CLAIM_KEYS = ['stream', 'type', 'ts', 'tc', 'prev', 'parents']

/** §10: a root claims to be an event when it is a map holding two event fields, or `v` and one. */
export function claimsToBeEvent(value: unknown): boolean {
  if (!isMap(value)) return false
  const n = CLAIM_KEYS.filter((k) => Object.hasOwn(value, k)).length
  return n >= 2 || (Object.hasOwn(value, 'v') && n >= 1)
}

const isStamp = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v.length > 0

function valueDepth(value: unknown): number {
  let max = 0
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array || isCid(v)) continue
    if (d + 1 > max) max = d + 1
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1])
  }
  return max
}

/** §3 "What a reader checks", one block. Returns what is wrong, or undefined. */
export function eventFormatProblem(v: unknown): string | undefined {
  if (!isMap(v)) return 'not a map'
  for (const k of Object.keys(v)) if (!EVENT_KEYS.includes(k)) return `unknown key ${k}`
  if (v['v'] !== 1) return 'v is not 1'
  if (!nonEmpty(v['stream'])) return 'stream'
  if (!nonEmpty(v['type'])) return 'type'
  if (!isStamp(v['ts'])) return 'ts'
  if (!isStamp(v['tc'])) return 'tc'
  if (v['prev'] !== null && !isCid(v['prev'])) return 'prev'
  const parents = v['parents']
  if (!Array.isArray(parents) || !parents.every(isCid)) return 'parents'
  for (let i = 1; i < parents.length; i++) if (compareBytes((parents[i - 1] as CID).bytes, (parents[i] as CID).bytes) >= 0) return 'parents not strictly ascending'
  for (const p of [...parents, ...(v['prev'] === null ? [] : [v['prev']])] as CID[]) if (p.code !== DAG_CBOR) return 'a parent or prev is not dag-cbor'
  if (!Object.hasOwn(v, 'data')) return 'no data'
  if (Object.hasOwn(v, 'meta')) {
    const meta = v['meta']
    if (meta instanceof Uint8Array) return 'meta is a byte string, not a map'
    if (!isMap(meta)) return 'meta is not a map'
    for (const k of ['id', 'correlation', 'causation']) if (Object.hasOwn(meta, k) && !nonEmpty(meta[k])) return `meta.${k}`
  }
  if (Object.hasOwn(v, 'author') && typeof v['author'] !== 'string') return 'author'
  if (Object.hasOwn(v, 'sig') && !(v['sig'] instanceof Uint8Array)) return 'sig'
  if (valueDepth(v['data']) > MAX_VALUE_DEPTH || (Object.hasOwn(v, 'meta') && valueDepth(v['meta']) > MAX_VALUE_DEPTH)) return 'data or meta too deep'
  return undefined
}

function eventProblem(cid: CID, bytes: Uint8Array): { ev: EventValue } | Problem {
  if (cid.code !== DAG_CBOR) return { codes: ['CAIRN_INVALID_EVENT'], rule: 'event.codec', why: `event ${cid} is not dag-cbor` }
  const decoded = decodeBlock(cid, bytes)
  if ('problem' in decoded) {
    return decoded.problem === 'deep' ? { codes: ['CAIRN_INVALID_EVENT'], rule: 'event.deep', why: `event ${cid} ${decoded.why}` } : { codes: ['CAIRN_INVALID_BLOCK'], rule: 'event.undecodable', why: `event ${cid}: ${decoded.why}` }
  }
  let canonical: Uint8Array | undefined
  try {
    canonical = dagCbor.encode(decoded.value)
  } catch {
    canonical = undefined
  }
  if (canonical === undefined || !equal(canonical, bytes)) return { codes: ['CAIRN_INVALID_EVENT'], rule: 'event.noncanonical', why: `event ${cid} is not canonical dag-cbor` }
  const wrong = eventFormatProblem(decoded.value)
  if (wrong !== undefined) return { codes: ['CAIRN_INVALID_EVENT'], rule: `event.format: ${wrong}`, why: `event ${cid}: ${wrong}` }
  return { ev: decoded.value as EventValue }
}

/** The raw Ed25519 public key a did:key names (§3 "Signatures": `did:key:z` + base58btc of 0xed 0x01 and 32 bytes), or undefined. */
export function ed25519KeyOf(did: string): Uint8Array | undefined {
  if (!did.startsWith('did:key:z')) return undefined
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(did.slice('did:key:'.length))
  } catch {
    return undefined
  }
  if (bytes.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) return undefined
  return bytes.slice(2)
}

/** Whether an event's `sig` is its `author`'s Ed25519 signature (RFC 8032) over its canonical encoding without `sig`. */
function signatureVerifies(ev: EventValue): boolean {
  const key = ed25519KeyOf(ev.author!)
  if (key === undefined || ev.sig!.length !== 64) return false
  const { sig, ...unsigned } = ev
  try {
    return ed25519.verify(sig!, dagCbor.encode(unsigned), key, { zip215: false })
  } catch {
    return false
  }
}

/**
 * §3 "Signatures", over the new events of an import (a store without `requireSignatures`, as
 * the harness opens them): `sig` needs `author` and must verify; `author` without `sig` must be
 * covered, by a new event of the same author whose `parents` is exactly `[its CID]` and which
 * is signed or covered in turn; neither is an unsigned event, accepted.
 */
function signatureProblems(fresh: Map<string, { cid: CID; ev: EventValue }>): Problem[] {
  const problems: Problem[] = []
  const bad = (rule: string, k: string, why: string): void => {
    problems.push({ codes: ['CAIRN_INVALID_SIGNATURE'], rule, why: `event ${k} ${why}` })
  }
  const vouched = new Set<string>()
  const waiting = new Map<string, EventValue>()
  for (const [k, { ev }] of fresh) {
    if (ev.author === undefined) {
      if (ev.sig !== undefined) bad('sig.no-author', k, 'carries sig but no author')
    } else if (ev.sig === undefined) waiting.set(k, ev)
    else if (signatureVerifies(ev)) vouched.add(k)
    else bad('sig.invalid', k, `has a sig that is not ${ev.author}'s over its bytes`)
  }
  // Covering, to a fixed point: an event is vouched for once an only-child of the same author is.
  for (let changed = true; changed; ) {
    changed = false
    for (const [k, { ev }] of fresh) {
      if (!vouched.has(k) || ev.parents.length !== 1) continue
      const p = ev.parents[0]!.toString()
      if (waiting.get(p)?.author === ev.author) {
        waiting.delete(p)
        vouched.add(p)
        changed = true
      }
    }
  }
  for (const [k, ev] of waiting) bad('sig.uncovered', k, `names ${ev.author} as author, is not signed and no new signed event of that author has it as its only parent`)
  return problems
}

/**
 * Judges a CAR imported into a store the model describes (format-v1 §10): must it be accepted,
 * and if not, with which codes may it be refused.
 */
export async function judge(model: Model, car: Uint8Array, limits: Limits): Promise<Verdict> {
  const read = await readCarStrict(car, limits)
  if ('ok' in read) return read
  const { roots, blocks } = read
  const problems: Problem[] = []
  const problem = (codes: string[], rule: string, why: string): void => {
    problems.push({ codes, rule, why })
  }

  const fresh = new Map<string, { cid: CID; ev: EventValue }>()
  const failed = new Set<string>()
  const foreign: CID[] = []
  const foreignKeys = new Set<string>()
  const addForeign = (cid: CID): void => {
    const k = cid.toString()
    if (model.objects.has(`${k}|${limits.foreignType}`) || foreignKeys.has(k)) return
    foreignKeys.add(k)
    foreign.push(cid)
  }
  const stack: CID[] = []
  for (const root of roots) {
    const k = root.toString()
    if (model.events.has(k)) continue
    const block = blocks.get(k)
    if (block === undefined) {
      if (model.blocks.has(k)) addForeign(root)
      else problem(['CAIRN_MISSING_BLOCK'], 'root.missing', `root ${k} is neither in the CAR nor held`)
      continue
    }
    if (root.code === DAG_CBOR) {
      const decoded = decodeBlock(root, block.bytes)
      if ('problem' in decoded) {
        problem(['CAIRN_INVALID_BLOCK'], `root.${decoded.problem}`, `root ${k}: ${decoded.why}`)
        continue
      }
      if (claimsToBeEvent(decoded.value)) {
        stack.push(root)
        continue
      }
    }
    addForeign(root)
  }

  // Events: from the roots back to what the store holds, each one checked alone (§3).
  while (stack.length > 0) {
    const cid = stack.pop()!
    const k = cid.toString()
    if (fresh.has(k) || failed.has(k) || model.events.has(k)) continue
    const block = blocks.get(k)
    if (block === undefined) {
      failed.add(k)
      problem(['CAIRN_MISSING_BLOCK'], 'event.missing', `event ${k} is not in the CAR`)
      continue
    }
    const checked = eventProblem(cid, block.bytes)
    if (!('ev' in checked)) {
      failed.add(k)
      problems.push(checked)
      continue
    }
    fresh.set(k, { cid, ev: checked.ev })
    stack.push(...checked.ev.parents)
    if (checked.ev.prev !== null) stack.push(checked.ev.prev)
  }

  // Clock (§4) and causality, for every new event whose neighbours are known.
  const facts = (cid: CID): Stamped | undefined => fresh.get(cid.toString())?.ev ?? model.events.get(cid.toString())
  for (const [k, { ev }] of fresh) {
    if (ev.ts > limits.now + limits.maxClockDrift) problem(['CAIRN_INVALID_EVENT'], 'clock.drift', `event ${k} is ${ev.ts - limits.now} ms ahead`)
    if (ev.tc > MAX_TC) problem(['CAIRN_INVALID_EVENT'], 'clock.tc', `event ${k} has tc ${ev.tc}`)
    for (const p of ev.parents) {
      const f = facts(p)
      if (f !== undefined && compareStamps(ev, f) <= 0) problem(['CAIRN_INVALID_EVENT'], 'causality.parent', `event ${k} is not stamped above parent ${p}`)
    }
    if (ev.prev !== null) {
      const f = facts(ev.prev)
      if (f !== undefined && f.stream !== ev.stream) problem(['CAIRN_INVALID_EVENT'], 'causality.prev-stream', `event ${k}: prev of another stream`)
      if (f !== undefined && compareStamps(ev, f) <= 0) problem(['CAIRN_INVALID_EVENT'], 'causality.prev-stamp', `event ${k} is not stamped above its prev`)
    }
  }

  // Objects (§6, §8): every recorded object's DAG complete, from the CAR (canonical) and the store.
  const stored = new Map<string, Block>()
  const keep = (b: Block): void => {
    const k = b.cid.toString()
    if (!model.blocks.has(k)) stored.set(k, b)
  }
  const complete = new Set<string>()
  const visited = new Set<string>()
  const walkComplete = (root: CID, why: string): void => {
    const todo = [root]
    while (todo.length > 0) {
      const cid = todo.pop()!
      const k = cid.toString()
      if (visited.has(k)) continue
      visited.add(k)
      if (model.complete.has(k)) continue
      complete.add(k)
      const fromCar = blocks.get(k)
      if (fromCar !== undefined) {
        const decoded = decodeBlock(cid, fromCar.bytes)
        if ('problem' in decoded) {
          problem(['CAIRN_INVALID_BLOCK'], `dag.${decoded.problem}`, `${why}: block ${k} ${decoded.why}`)
          continue
        }
        if (cid.code === DAG_CBOR) {
          let canonical: Uint8Array | undefined
          try {
            canonical = dagCbor.encode(decoded.value)
          } catch {
            canonical = undefined
          }
          if (canonical === undefined || !equal(canonical, fromCar.bytes)) {
            problem(['CAIRN_INVALID_BLOCK'], 'dag.noncanonical', `${why}: block ${k} is not canonical`)
            continue
          }
        }
        keep(fromCar)
        todo.push(...blockLinksOf(cid, decoded.value))
        continue
      }
      const held = model.blocks.get(k)
      if (held === undefined) {
        problem(['CAIRN_MISSING_BLOCK'], 'dag.missing', `${why}: block ${k} is missing`)
        continue
      }
      const decoded = decodeBlock(cid, held.bytes)
      if ('value' in decoded) todo.push(...blockLinksOf(cid, decoded.value))
    }
  }
  // App links (§8): whatever of their DAGs the CAR carries is kept; they may dangle.
  const seen = new Set<string>()
  const walkApp = (root: CID): void => {
    const todo = [root]
    while (todo.length > 0) {
      const cid = todo.pop()!
      const k = cid.toString()
      if (seen.has(k)) continue
      seen.add(k)
      const fromCar = blocks.get(k)
      if (fromCar === undefined) continue
      keep(fromCar)
      const decoded = decodeBlock(cid, fromCar.bytes)
      if ('problem' in decoded) {
        problem(['CAIRN_INVALID_BLOCK'], `app.${decoded.problem}`, `linked block ${k} ${decoded.why}`)
        continue
      }
      todo.push(...blockLinksOf(cid, decoded.value))
    }
  }
  const objects = new Set<string>()
  for (const [k, { cid, ev }] of fresh) {
    keep({ cid, bytes: blocks.get(k)!.bytes })
    if (ev.stream === '$objects') {
      if (ev.type !== 'object.put') continue
      const d = ev.data as Record<string, unknown> | null
      if (!isMap(d) || !isCid(d['cid']) || !nonEmpty(d['type']) || !isStamp(d['size'])) {
        problem(['CAIRN_INVALID_EVENT'], 'object.record', `event ${k} is a malformed object.put`)
        continue
      }
      objects.add(`${CID.asCID(d['cid'])!.toString()}|${d['type'] as string}`)
      walkComplete(CID.asCID(d['cid'])!, `object recorded by ${k}`)
    } else {
      for (const l of [...linksIn(ev.data), ...(ev.meta === undefined ? [] : linksIn(ev.meta))]) walkApp(l)
    }
  }
  for (const root of foreign) walkComplete(root, `foreign root ${root}`)
  problems.push(...signatureProblems(fresh))

  if (problems.length > 0) return { ok: false, stage: 'log', problems }

  // The doc's size of a foreign object: the bytes of the distinct blocks of its DAG the CAR carried.
  const foreignSizes = new Map<string, number>()
  for (const root of foreign) {
    let size = 0
    const mine = new Set<string>()
    const todo = [root]
    while (todo.length > 0) {
      const cid = todo.pop()!
      const k = cid.toString()
      if (mine.has(k)) continue
      mine.add(k)
      const b = blocks.get(k) ?? model.blocks.get(k)
      if (b === undefined) continue
      if (blocks.has(k)) size += b.bytes.length
      const decoded = decodeBlock(cid, b.bytes)
      if ('value' in decoded) todo.push(...blockLinksOf(cid, decoded.value))
    }
    foreignSizes.set(root.toString(), size)
  }

  const superseded = new Set<string>()
  for (const { ev } of fresh.values()) for (const p of ev.parents) superseded.add(p.toString())
  const heads = sortCids([...model.heads, ...[...fresh.values()].map((f) => f.cid)].filter((c) => !superseded.has(c.toString())))
  return { ok: true, fresh, stored, heads, foreign, foreignSizes, objects, complete, car: blocks }
}

/** Brings the model up to date with an accepted CAR that has no foreign roots (how test stores are built). */
export function apply(model: Model, verdict: Accepted): void {
  if (verdict.foreign.length > 0) throw new Error('the model does not follow foreign roots')
  for (const [k, { cid, ev }] of verdict.fresh) model.events.set(k, { cid, ts: ev.ts, tc: ev.tc, stream: ev.stream, type: ev.type })
  for (const [k, b] of verdict.stored) model.blocks.set(k, b)
  for (const k of verdict.complete) model.complete.add(k)
  for (const o of verdict.objects) model.objects.add(o)
  model.heads = verdict.heads
}

/** Whether any problem of a refusal allows `code`. */
export function allows(verdict: Refused, code: string): boolean {
  return verdict.problems.some((p) => p.codes.includes(code))
}
