// Mutators: each takes a corpus's CAR apart and makes one hostile variant of it, with a note
// that says what it did. Structured mutators edit the frames and roots (re-hashing what they
// change, and re-linking whatever pointed at it, so hash checks pass and the deeper rules must
// catch the defect); byte mutators then damage the serialized bytes. Nothing here calls Cairn.
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import { ed25519 } from '@noble/curves/ed25519.js'
import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { arr, bytes, cat, cborShape, encodeCbor, float64, head, indefArr, map, nested, nul, RawCbor, rawText, text, uint, type CborStyle } from '../support/cbor.ts'
import { cidOf, headerBytes, varint, writeParts, type Frame } from './car.ts'
import { NOW, T0, type CorpusInfo } from './corpora.ts'
import { claimsToBeEvent, compareBytes, compareStamps, DEFAULT_LIMITS, linksIn, MAX_TC, sortCids } from './oracle.ts'
import type { Rng } from './prng.ts'

/** Import options a variant may set. */
export interface VariantOptions {
  maxBlockBytes?: number
  maxBytes?: number
  maxClockDrift?: number
}

export interface Variant {
  bytes: Uint8Array
  options: VariantOptions
  /** The mutators applied, in order. */
  mutators: string[]
  note: string
  /** Import as a stream of chunks of these sizes (the last one repeats) instead of one array. */
  chunks?: number[]
}

/** A CAR being mutated. */
interface Work {
  readonly info: CorpusInfo
  readonly rng: Rng
  frames: Frame[]
  roots: CID[]
  /** Header bytes that replace `{ roots, version: 1 }`. */
  header?: Uint8Array
  headerPrefix?: Uint8Array
  /** Damage to the serialized bytes, applied in order. */
  post: ((b: Uint8Array) => Uint8Array)[]
  options: VariantOptions
  notes: string[]
}

type Mutator = (w: Work) => Promise<void> | void

const DRIFT = DEFAULT_LIMITS.maxClockDrift

// ---- reading the work ----

function cidOfFrame(f: Frame): CID | undefined {
  try {
    return CID.decode(f.cid)
  } catch {
    return undefined
  }
}

function decodeFrame(f: Frame): unknown {
  const cid = cidOfFrame(f)
  if (cid === undefined || cid.code !== 0x71) return undefined
  if (cborShape(f.bytes, 400).depth > 400) return undefined // deep blocks are not rewritten
  try {
    return dagCbor.decode(f.bytes)
  } catch {
    return undefined
  }
}

interface EventFrame {
  index: number
  cid: CID
  value: Record<string, unknown>
}

function eventFrames(w: Work): EventFrame[] {
  const out: EventFrame[] = []
  w.frames.forEach((f, index) => {
    const value = decodeFrame(f)
    if (claimsToBeEvent(value)) out.push({ index, cid: cidOfFrame(f)!, value: value as Record<string, unknown> })
  })
  return out
}

interface Facts {
  cid: CID
  ts: number
  tc: number
  stream: string
}

/** Stamps and streams of every event known: the store's and the CAR's as it now stands. */
function allEvents(w: Work): Map<string, Facts> {
  const out = new Map<string, Facts>()
  for (const [k, e] of w.info.model.events) out.set(k, e)
  for (const e of eventFrames(w)) {
    const { ts, tc, stream } = e.value
    if (typeof ts === 'number' && typeof tc === 'number' && typeof stream === 'string') out.set(e.cid.toString(), { cid: e.cid, ts, tc, stream })
  }
  return out
}

function latest(events: Iterable<Facts>): Facts | undefined {
  let best: Facts | undefined
  for (const e of events) {
    if (best === undefined || compareStamps(e, best) > 0 || (compareStamps(e, best) === 0 && compareBytes(e.cid.bytes, best.cid.bytes) > 0)) best = e
  }
  return best
}

/** The roots that are events (the heads the CAR brings, or the store's when it holds them). */
function eventRoots(w: Work, events: Map<string, Facts>): CID[] {
  const roots = w.roots.filter((r) => events.has(r.toString()))
  return sortCids(new Map(roots.map((r) => [r.toString(), r])).values())
}

async function randomCid(w: Work, codec = 0x71): Promise<CID> {
  return cidOf(w.rng.bytes(16), codec)
}

function relabel(cid: CID, codec: number): CID {
  return CID.createV1(codec, cid.multihash)
}

async function addFrame(w: Work, bytes: Uint8Array, codec = 0x71): Promise<CID> {
  const cid = await cidOf(bytes, codec)
  w.frames.splice(w.rng.int(w.frames.length + 1), 0, { cid: cid.bytes, bytes })
  return cid
}

/** Replaces CIDs inside a decoded value. */
function replaceLinks(value: unknown, swap: Map<string, CID>): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value
  const cid = CID.asCID(value)
  if (cid !== null) return swap.get(cid.toString()) ?? cid
  if (Array.isArray(value)) return value.map((v) => replaceLinks(v, swap))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = replaceLinks(v, swap)
  return out
}

/**
 * After blocks were replaced (old CID → new CID), rewrites every dag-cbor block that links to a
 * replaced one (canonically, re-hashed; an event's parents re-sorted unless `keepOrder`), then
 * whatever links to those, and the roots. A defect can make the links circular (an event whose
 * new prev descends from it): the rewriting then stops after a bounded number of rounds.
 */
async function relink(w: Work, swap: Map<string, CID>, keepOrder = false): Promise<void> {
  for (let changed = swap.size > 0, rounds = 0; changed && rounds < 8 + w.frames.length; rounds++) {
    changed = false
    for (const f of w.frames) {
      const cid = cidOfFrame(f)
      if (cid === undefined || swap.has(cid.toString())) continue
      const value = decodeFrame(f)
      if (value === undefined || !linksIn(value).some((l) => swap.has(l.toString()))) continue
      const next = replaceLinks(value, swap) as Record<string, unknown>
      if (!keepOrder && claimsToBeEvent(next) && Array.isArray(next['parents']) && next['parents'].every((p) => CID.asCID(p) !== null)) {
        next['parents'] = sortCids(next['parents'] as CID[])
      }
      let bytesOut: Uint8Array
      try {
        bytesOut = dagCbor.encode(next)
      } catch {
        continue
      }
      const fresh = await cidOf(bytesOut, cid.code)
      swap.set(cid.toString(), fresh)
      // Every copy of the old frame (duplicates) is replaced
      for (const g of w.frames)
        if (compareBytes(g.cid, cid.bytes) === 0) {
          g.cid = fresh.bytes
          g.bytes = bytesOut
        }
      changed = true
    }
  }
  w.roots = w.roots.map((r) => swap.get(r.toString()) ?? r)
}

// ---- events ----

/** Encodings of an event's value: canonical, or one of the ways dag-cbor's encoder never writes. */
const STYLES: readonly (readonly [number, string])[] = [
  [80, 'canonical'],
  [3, 'unsorted'],
  [3, 'insertion'],
  [3, 'wide-ints'],
  [2, 'ints-as-floats'],
  [2, 'indefinite'],
  [2, 'trailing-byte'],
  [2, 'truncated'],
  [1, 'two-items'],
]

function encodeStyled(value: Record<string, unknown>, style: string): Uint8Array {
  const styles: Record<string, CborStyle> = {
    canonical: {},
    unsorted: { keys: 'reverse' },
    insertion: { keys: 'insertion' },
    'wide-ints': { wideInts: true },
    'ints-as-floats': { intsAsFloats: true },
    indefinite: { indefinite: true },
  }
  const base = encodeCbor(value, styles[style] ?? {})
  if (style === 'trailing-byte') return cat(base, Uint8Array.of(0x00))
  if (style === 'truncated') return base.subarray(0, base.length - 1)
  if (style === 'two-items') return cat(base, base)
  return base
}

/** The event fields in the order a naive writer lists them (not canonical). */
function orderedEvent(e: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of ['v', 'stream', 'type', 'ts', 'tc', 'prev', 'parents', 'data', 'meta', 'author', 'sig']) if (Object.hasOwn(e, k)) out[k] = e[k]
  for (const k of Object.keys(e)) if (!Object.hasOwn(out, k)) out[k] = e[k]
  return out
}

type Defect = (w: Work, e: Record<string, unknown>, facts: Map<string, Facts>) => Promise<void> | void

function parentMax(e: Record<string, unknown>, facts: Map<string, Facts>): Facts | undefined {
  const ps = Array.isArray(e['parents']) ? (e['parents'] as unknown[]).map((p) => facts.get(String(p))).filter((f): f is Facts => f !== undefined) : []
  return latest(ps)
}

/** A writer's Ed25519 key, from the variant's generator, and its did:key (format-v1 §3). */
interface TestKey {
  did: string
  secret: Uint8Array
}

function newKey(w: Work): TestKey {
  const secret = w.rng.bytes(32)
  return { did: `did:key:${base58btc.encode(cat(Uint8Array.of(0xed, 0x01), ed25519.getPublicKey(secret)))}`, secret }
}

/** Signs an event value in place: `author` is `key`'s did, `sig` is `signer`'s signature over the canonical encoding without `sig`. */
function signEvent(e: Record<string, unknown>, key: TestKey, signer: TestKey = key): void {
  delete e['sig']
  e['author'] = key.did
  e['sig'] = ed25519.sign(dagCbor.encode(e), signer.secret)
}

/** The CIDs among an event value's parents ([] when an earlier mutation left no list there). */
const parentList = (e: Record<string, unknown>): CID[] => (Array.isArray(e['parents']) ? e['parents'].map((p) => CID.asCID(p)).filter((c): c is CID => c !== null) : [])

const deepValue = (depth: number, emptyInside = false): RawCbor => new RawCbor(emptyInside ? nested(depth - 1, Uint8Array.of(0x80)) : nested(depth))

/** Defects of an event's value (each re-hashed under a correct CID by the caller). `none` keeps it valid. */
const DEFECTS: readonly (readonly [number, string, Defect])[] = [
  [30, 'none', () => {}],
  [
    6,
    'touch-data',
    (w, e) => {
      e['data'] = { fz: w.rng.int(1e6), list: [1, 'two', null] }
    },
  ],
  [
    3,
    'ts-backwards',
    (w, e, f) => {
      const p = parentMax(e, f)
      e['ts'] = Math.max(0, (p?.ts ?? T0) - w.rng.range(1, 5000))
      e['tc'] = 0
    },
  ],
  [
    3,
    'stamp-equals-parent',
    (_w, e, f) => {
      const p = parentMax(e, f)
      if (p !== undefined) {
        e['ts'] = p.ts
        e['tc'] = p.tc
      }
    },
  ],
  [
    2,
    'stamp-equals-prev',
    (_w, e, f) => {
      const p = e['prev'] === null ? undefined : f.get(String(e['prev']))
      if (p !== undefined) {
        e['ts'] = p.ts
        e['tc'] = p.tc
      }
    },
  ],
  [
    3,
    'ts-ahead',
    (w, e) => {
      e['ts'] = NOW + DRIFT + w.rng.range(1, 10_000_000)
    },
  ],
  [
    2,
    'ts-ahead-edge',
    (_w, e) => {
      e['ts'] = NOW + DRIFT
    },
  ],
  [
    1,
    'ts-max-safe',
    (_w, e) => {
      e['ts'] = Number.MAX_SAFE_INTEGER
    },
  ],
  [
    1,
    'ts-negative',
    (_w, e) => {
      e['ts'] = -5
    },
  ],
  [
    2,
    'tc-near-2^53',
    (w, e) => {
      e['tc'] = 2 ** 53 - 1 - w.rng.int(3)
    },
  ],
  [
    1,
    'tc-2^53',
    (_w, e) => {
      e['tc'] = 2n ** 53n
    },
  ],
  [
    1,
    'tc-2^64-1',
    (_w, e) => {
      e['tc'] = 2n ** 64n - 1n
    },
  ],
  [
    2,
    'tc-over-max',
    (w, e) => {
      e['tc'] = MAX_TC + 1 + w.rng.int(1000)
    },
  ],
  [
    2,
    'tc-at-max',
    (_w, e) => {
      e['tc'] = MAX_TC
    },
  ],
  [
    1,
    'tc-negative',
    (_w, e) => {
      e['tc'] = -1
    },
  ],
  [
    1,
    'tc-float',
    (_w, e) => {
      e['tc'] = 1.5
    },
  ],
  [
    1,
    'no-stream',
    (_w, e) => {
      delete e['stream']
    },
  ],
  [
    1,
    'stream-empty',
    (_w, e) => {
      e['stream'] = ''
    },
  ],
  [
    1,
    'stream-number',
    (_w, e) => {
      e['stream'] = 42
    },
  ],
  [
    1,
    'no-type',
    (_w, e) => {
      delete e['type']
    },
  ],
  [
    1,
    'type-empty',
    (_w, e) => {
      e['type'] = ''
    },
  ],
  [
    1,
    'no-data',
    (_w, e) => {
      delete e['data']
    },
  ],
  [
    1,
    'no-ts',
    (_w, e) => {
      delete e['ts']
    },
  ],
  [
    1,
    'no-prev',
    (_w, e) => {
      delete e['prev']
    },
  ],
  [
    1,
    'no-parents',
    (_w, e) => {
      delete e['parents']
    },
  ],
  [
    1,
    'v-2',
    (_w, e) => {
      e['v'] = 2
    },
  ],
  [
    1,
    'v-missing',
    (_w, e) => {
      delete e['v']
    },
  ],
  [
    1,
    'unknown-key',
    (w, e) => {
      e[w.rng.pick(['x', 'id', 'cid', '__proto__', 'constructor'])] = 1
    },
  ],
  [
    2,
    'prev-other-stream',
    (_w, e, f) => {
      const other = [...f.values()].find((x) => x.stream !== e['stream'])
      if (other !== undefined) e['prev'] = other.cid
    },
  ],
  [
    2,
    'prev-missing',
    async (w, e) => {
      e['prev'] = await randomCid(w)
    },
  ],
  [
    1,
    'prev-raw-codec',
    (_w, e) => {
      if (e['prev'] !== null && CID.asCID(e['prev']) !== null) e['prev'] = relabel(CID.asCID(e['prev'])!, 0x55)
    },
  ],
  [
    1,
    'prev-string',
    (_w, e) => {
      e['prev'] = 'bafy'
    },
  ],
  [
    2,
    'parent-missing',
    async (w, e) => {
      e['parents'] = sortCids([...parentList(e), await randomCid(w)])
    },
  ],
  [
    2,
    'parents-unsorted',
    (_w, e) => {
      const ps = parentList(e)
      e['parents'] = ps.length > 1 ? [...ps].reverse() : [...ps, ...ps]
    },
  ],
  [
    1,
    'parent-duplicate',
    (_w, e) => {
      const ps = parentList(e)
      if (ps.length > 0) e['parents'] = [ps[0]!, ...ps]
    },
  ],
  [
    1,
    'parent-raw-codec',
    (_w, e) => {
      const ps = parentList(e)
      if (ps.length > 0) e['parents'] = sortCids([relabel(ps[0]!, 0x55), ...ps.slice(1)])
    },
  ],
  [
    1,
    'parents-not-list',
    (_w, e) => {
      const ps = parentList(e)
      e['parents'] = ps[0] ?? null
    },
  ],
  [
    2,
    'parents-empty',
    (_w, e) => {
      e['parents'] = []
    },
  ],
  [
    1,
    'meta-bytes',
    (_w, e) => {
      e['meta'] = new Uint8Array([1, 2])
    },
  ],
  [
    1,
    'meta-empty-bytes',
    (_w, e) => {
      e['meta'] = new Uint8Array(0)
    },
  ],
  [
    1,
    'meta-null',
    (_w, e) => {
      e['meta'] = null
    },
  ],
  [
    1,
    'meta-list',
    (_w, e) => {
      e['meta'] = ['id']
    },
  ],
  [
    1,
    'meta-cid',
    async (w, e) => {
      e['meta'] = await randomCid(w)
    },
  ],
  [
    1,
    'meta-id-empty',
    (_w, e) => {
      e['meta'] = { id: '' }
    },
  ],
  [
    1,
    'meta-id-number',
    (_w, e) => {
      e['meta'] = { correlation: 7 }
    },
  ],
  [
    2,
    'meta-ok',
    (w, e) => {
      e['meta'] = { id: `fz-${w.rng.int(100)}`, causation: 'x', extra: [1, { deep: true }] }
    },
  ],
  [
    1,
    'author-number',
    (_w, e) => {
      e['author'] = 1
    },
  ],
  [
    1,
    'author-null',
    (_w, e) => {
      e['author'] = null
    },
  ],
  [
    1,
    'author-ok',
    (_w, e) => {
      e['author'] = 'did:key:z6Mk'
    },
  ],
  [
    1,
    'sig-string',
    (_w, e) => {
      e['sig'] = 'sig'
    },
  ],
  [
    1,
    'sig-ok',
    (_w, e) => {
      e['sig'] = new Uint8Array(64)
    },
  ],
  [
    3,
    'signed',
    (w, e) => {
      signEvent(e, newKey(w))
    },
  ],
  [
    1,
    'signed-by-another-key',
    (w, e) => {
      signEvent(e, newKey(w), newKey(w))
    },
  ],
  [
    1,
    'signed-then-changed',
    (w, e) => {
      signEvent(e, newKey(w))
      e['data'] = { fz: w.rng.int(1e6), after: 'signing' }
    },
  ],
  [
    1,
    'signed-sig-cut',
    (w, e) => {
      signEvent(e, newKey(w))
      e['sig'] = (e['sig'] as Uint8Array).subarray(0, 63)
    },
  ],
  [
    1,
    'signed-author-only',
    (w, e) => {
      signEvent(e, newKey(w))
      delete e['sig']
    },
  ],
  [
    2,
    'data-deep-512',
    (_w, e) => {
      e['data'] = deepValue(512)
    },
  ],
  [
    1,
    'data-deep-512-empty-inside',
    (_w, e) => {
      e['data'] = deepValue(512, true)
    },
  ],
  [
    2,
    'data-deep-513',
    (_w, e) => {
      e['data'] = deepValue(513)
    },
  ],
  [
    1,
    'data-deep-513-empty-inside',
    (_w, e) => {
      e['data'] = deepValue(513, true)
    },
  ],
  [
    2,
    'data-deep-6000',
    (_w, e) => {
      e['data'] = deepValue(6000)
    },
  ],
  [
    1,
    'meta-deep-513',
    (_w, e) => {
      e['meta'] = { x: deepValue(512) }
    },
  ],
  [
    1,
    'data-map-deep-600',
    (_w, e) => {
      e['data'] = new RawCbor(cat(...Array.from({ length: 600 }, () => Uint8Array.of(0xa1, 0x61, 0x6b)), nul))
    },
  ],
  [
    1,
    'data-big-array',
    (_w, e) => {
      e['data'] = new RawCbor(cat(head(4, 100_000), new Uint8Array(100_000).fill(0xf6)))
    },
  ],
  [
    1,
    'data-claims-10^6-items',
    (_w, e) => {
      e['data'] = new RawCbor(cat(head(4, 1_000_000), nul, nul))
    },
  ],
  [
    1,
    'data-claims-2^53-bytes',
    (_w, e) => {
      e['data'] = new RawCbor(head(2, 2 ** 53 - 1))
    },
  ],
  [
    1,
    'parents-claim-10^6',
    (_w, e) => {
      e['parents'] = new RawCbor(cat(head(4, 1_000_000), ...parentList(e).map((p) => encodeCbor(p))))
    },
  ],
  [
    2,
    'data-link-missing',
    async (w, e) => {
      e['data'] = { gone: await randomCid(w, w.rng.pick([0x71, 0x55, 0x70])) }
    },
  ],
  [
    2,
    'data-link-car-block',
    (w, e) => {
      const o = w.info.others
      if (o.length > 0) e['data'] = { l: w.rng.pick(o).cid }
    },
  ],
  [
    1,
    'data-undefined',
    (_w, e) => {
      e['data'] = { x: undefined }
    },
  ],
  [
    1,
    'data-nan',
    (_w, e) => {
      e['data'] = new RawCbor(float64(NaN))
    },
  ],
  [
    1,
    'data-infinity',
    (_w, e) => {
      e['data'] = new RawCbor(float64(Infinity))
    },
  ],
  [
    1,
    'data-float-int',
    (_w, e) => {
      e['data'] = new RawCbor(float64(3))
    },
  ],
  [
    1,
    'data-float-ok',
    (_w, e) => {
      e['data'] = 1.25
    },
  ],
  [
    1,
    'data-neg-zero',
    (_w, e) => {
      e['data'] = new RawCbor(Uint8Array.of(0xf9, 0x80, 0x00))
    },
  ],
  [
    1,
    'data-bigint-ok',
    (w, e) => {
      e['data'] = w.rng.chance(0.5) ? 2n ** 64n - 1n : -(2n ** 64n)
    },
  ],
  [
    1,
    'data-tag-43',
    (_w, e) => {
      e['data'] = new RawCbor(cat(head(6, 43), uint(1)))
    },
  ],
  [
    1,
    'data-cid-no-00',
    async (w, e) => {
      e['data'] = new RawCbor(cat(head(6, 42), bytes((await randomCid(w)).bytes)))
    },
  ],
  [
    1,
    'data-cid-explicit-v0',
    async (w, e) => {
      const c = await randomCid(w, 0x70)
      e['data'] = new RawCbor(cat(head(6, 42), bytes(cat(Uint8Array.of(0, 0, 0x70), c.multihash.bytes))))
    },
  ],
  [
    1,
    'data-cid-garbage',
    (w, e) => {
      e['data'] = new RawCbor(cat(head(6, 42), bytes(cat(Uint8Array.of(0), w.rng.bytes(w.rng.range(0, 40))))))
    },
  ],
  [
    1,
    'data-dup-key',
    (_w, e) => {
      e['data'] = new RawCbor(
        map([
          ['a', uint(1)],
          ['a', uint(2)],
        ]),
      )
    },
  ],
  [
    1,
    'data-int-key',
    (_w, e) => {
      e['data'] = new RawCbor(map([[uint(1), uint(2)]]))
    },
  ],
  [
    1,
    'data-simple-value',
    (_w, e) => {
      e['data'] = new RawCbor(Uint8Array.of(0xf0))
    },
  ],
  [
    1,
    'data-bad-utf8',
    (_w, e) => {
      e['data'] = new RawCbor(rawText(Uint8Array.of(0x61, 0xff, 0xfe)))
    },
  ],
  [
    1,
    'type-bad-utf8',
    (_w, e) => {
      e['type'] = new RawCbor(rawText(Uint8Array.of(0x74, 0xc3)))
    },
  ],
  [
    1,
    'data-indefinite',
    (_w, e) => {
      e['data'] = new RawCbor(indefArr([uint(1)]))
    },
  ],
  [
    1,
    'data-reserved-info',
    (_w, e) => {
      e['data'] = new RawCbor(Uint8Array.of(0x1c))
    },
  ],
]

/** Defects for an `object.put` record. */
const RECORD_DEFECTS: readonly (readonly [number, string, Defect])[] = [
  [40, 'none', () => {}],
  [
    2,
    'size-negative',
    (_w, e) => {
      ;(e['data'] as Record<string, unknown>)['size'] = -1
    },
  ],
  [
    2,
    'size-float',
    (_w, e) => {
      ;(e['data'] as Record<string, unknown>)['size'] = 1.5
    },
  ],
  [
    2,
    'size-huge',
    (_w, e) => {
      ;(e['data'] as Record<string, unknown>)['size'] = 2 ** 53
    },
  ],
  [
    2,
    'type-empty',
    (_w, e) => {
      ;(e['data'] as Record<string, unknown>)['type'] = ''
    },
  ],
  [
    2,
    'no-cid',
    (_w, e) => {
      delete (e['data'] as Record<string, unknown>)['cid']
    },
  ],
  [
    2,
    'cid-string',
    (_w, e) => {
      const d = e['data'] as Record<string, unknown>
      d['cid'] = String(d['cid'])
    },
  ],
  [
    3,
    'cid-missing',
    async (w, e) => {
      ;(e['data'] as Record<string, unknown>)['cid'] = await randomCid(w, w.rng.pick([0x71, 0x55, 0x70]))
    },
  ],
  [
    2,
    'data-null',
    (_w, e) => {
      e['data'] = null
    },
  ],
  [
    2,
    'data-list',
    (_w, e) => {
      e['data'] = [e['data']]
    },
  ],
  [
    2,
    'other-type',
    (_w, e) => {
      e['type'] = 'object.removed'
    },
  ],
  [
    2,
    'cid-is-an-event',
    (_w, e, f) => {
      const any = [...f.values()][0]
      if (any !== undefined) (e['data'] as Record<string, unknown>)['cid'] = any.cid
    },
  ],
]

/** A new event above the CAR's heads (stamped validly; `stream` picks its stream). */
function eventOnTop(w: Work, facts: Map<string, Facts>, stream?: string): Record<string, unknown> {
  const parents = eventRoots(w, facts)
  const top = latest(parents.map((p) => facts.get(p.toString())!))
  const streams = [...new Set([...facts.values()].map((f) => f.stream))]
  const s = stream ?? (w.rng.chance(0.7) && streams.length > 0 ? w.rng.pick(streams) : `fz-${w.rng.int(5)}`)
  const prev = latest([...facts.values()].filter((f) => f.stream === s))
  let ts = top?.ts ?? T0 + w.rng.int(1000)
  let tc = top === undefined ? 0 : top.tc + 1
  if (top !== undefined && w.rng.chance(0.5)) {
    ts = Math.min(NOW, ts + w.rng.range(1, 1000))
    tc = ts === top.ts ? top.tc + 1 : 0
  }
  return { v: 1, tc, ts, data: { fz: w.rng.int(1000) }, prev: prev?.cid ?? null, type: 'fz.event', stream: s, parents }
}

/** Encodes an event value (styled), names it, and puts it in the CAR: replacing `old` (re-linking descendants) or on top. */
async function placeEvent(w: Work, e: Record<string, unknown>, old: EventFrame | undefined): Promise<CID> {
  const style = w.rng.weighted(STYLES)
  const value = style === 'insertion' ? orderedEvent(e) : e
  const codec = w.rng.chance(0.03) ? w.rng.pick([0x55, 0x70]) : 0x71
  const b = encodeStyled(value, style)
  const cid = await cidOf(b, codec)
  w.notes.push(`style=${style}${codec === 0x71 ? '' : ` codec=0x${codec.toString(16)}`} -> ${cid}`)
  if (old !== undefined) {
    const oldCid = old.cid
    for (const g of w.frames)
      if (compareBytes(g.cid, oldCid.bytes) === 0) {
        g.cid = cid.bytes
        g.bytes = b
      }
    await relink(w, new Map([[oldCid.toString(), cid]]), w.rng.chance(0.05))
  } else {
    w.frames.splice(w.rng.int(w.frames.length + 1), 0, { cid: cid.bytes, bytes: b })
    const parents = new Set(((Array.isArray(e['parents']) ? e['parents'] : []) as unknown[]).map(String))
    w.roots = w.rng.chance(0.8) ? sortCids([...w.roots.filter((r) => !parents.has(r.toString())), cid]) : [...w.roots, cid]
  }
  return cid
}

const eventEdit: Mutator = async (w) => {
  const facts = allEvents(w)
  const existing = eventFrames(w)
  const onTop = existing.length === 0 || w.rng.chance(0.4)
  const target = onTop ? undefined : w.rng.pick(existing)
  const e = target === undefined ? eventOnTop(w, facts) : { ...target.value }
  const [, name, defect] = w.rng.weighted(DEFECTS.map((d) => [d[0], d] as const))
  await defect(w, e, facts)
  w.notes.push(`${target === undefined ? 'new event on top' : `event ${target.cid}`}: ${name}`)
  await placeEvent(w, e, target)
}

/**
 * A batch on top (format-v1 §3): a chain of events of one stream, each the next one's only
 * parent, every one with `author` and the last with `sig`; or a chain broken so that an event
 * with `author` is not covered (the signed end cut off, signed by another writer, not only-child).
 */
const signedBatch: Mutator = async (w) => {
  const facts = allEvents(w)
  const key = newKey(w)
  const kind = w.rng.weighted<string>([
    [6, 'ok'],
    [1, 'unsigned'],
    [2, 'cut-end'],
    [2, 'end-by-another'],
    [1, 'end-unsigned'],
    [1, 'end-no-author'],
    [1, 'end-tampered'],
    [2, 'end-merges'],
    [1, 'middle-signed-too'],
  ])
  const n = w.rng.range(2, 5)
  const first = eventOnTop(w, facts)
  const chain: Record<string, unknown>[] = [first]
  for (let i = 1; i < n; i++) {
    const before = chain[i - 1]!
    chain.push({ ...before, tc: (before['tc'] as number) + 1, data: { fz: w.rng.int(1000), i }, parents: [] })
  }
  const end = chain[n - 1]! as { ts: number; tc: number }
  const olderThanEnd = [...facts.values()].filter((f) => compareStamps(f, end) < 0)
  const cids: CID[] = []
  for (let i = 0; i < n; i++) {
    const e = chain[i]!
    const last = i === n - 1
    if (i > 0) {
      e['prev'] = cids[i - 1]!
      e['parents'] = [cids[i - 1]!]
      if (last && kind === 'end-merges' && olderThanEnd.length > 0) e['parents'] = sortCids([cids[i - 1]!, w.rng.pick(olderThanEnd).cid])
    }
    if (kind !== 'unsigned') e['author'] = key.did
    if (last) {
      if (kind === 'end-by-another') signEvent(e, newKey(w))
      else if (kind === 'end-no-author') delete e['author']
      else if (kind !== 'unsigned' && kind !== 'end-unsigned') signEvent(e, key)
      if (kind === 'end-tampered') e['data'] = { fz: -1 }
    } else if (kind === 'middle-signed-too' && i === 1) signEvent(e, key)
    cids.push(await cidOf(dagCbor.encode(e)))
  }
  const kept = kind === 'cut-end' ? n - 1 : n
  for (let i = 0; i < kept; i++) w.frames.splice(w.rng.int(w.frames.length + 1), 0, { cid: cids[i]!.bytes, bytes: dagCbor.encode(chain[i]!) })
  const under = new Set((first['parents'] as CID[]).map(String))
  w.roots = sortCids([...w.roots.filter((r) => !under.has(r.toString())), cids[kept - 1]!])
  w.notes.push(`signed batch of ${n} in ${String(first['stream'])}: ${kind}`)
}

/** An `object.put` above the heads recording a new object whose DAG may be broken. */
const objectNew: Mutator = async (w) => {
  const facts = allEvents(w)
  const kind = w.rng.weighted<string>([
    [8, 'none'],
    [3, 'drop-child'],
    [3, 'child-noncanonical'],
    [2, 'child-malformed'],
    [2, 'child-deep-514'],
    [2, 'child-deep-513'],
    [1, 'child-deep-513-empty-inside'],
    [2, 'parent-noncanonical'],
    [2, 'parent-missing'],
    [2, 'child-held'],
    [2, 'pb-garbage'],
    [2, 'pb-node'],
    [2, 'pb-link-missing'],
    [2, 'raw-object'],
    [1, 'child-wrong-codec'],
    [1, 'child-v0'],
    [1, 'child-event'],
  ])
  let child: CID
  const childValue = { leaf: w.rng.int(1e6), s: 'x' }
  switch (kind) {
    case 'drop-child':
      child = await cidOf(dagCbor.encode(childValue))
      break
    case 'child-noncanonical':
      child = await addFrame(w, encodeCbor({ zz: 1, a: childValue.leaf }, { keys: 'reverse' }))
      break
    case 'child-malformed':
      child = await addFrame(w, cat(dagCbor.encode(childValue), Uint8Array.of(0)))
      break
    case 'child-deep-514':
      child = await addFrame(w, nested(514))
      break
    case 'child-deep-513':
      child = await addFrame(w, nested(513))
      break
    case 'child-deep-513-empty-inside':
      child = await addFrame(w, nested(513, Uint8Array.of(0x80)))
      break
    case 'child-held': {
      const held = [...w.info.model.blocks.values()]
      child = held.length > 0 ? w.rng.pick(held).cid : await addFrame(w, dagCbor.encode(childValue))
      break
    }
    case 'pb-garbage':
      child = await addFrame(w, w.rng.bytes(w.rng.range(1, 40)), 0x70)
      break
    case 'pb-node': {
      const leaf = await addFrame(w, w.rng.bytes(100), 0x55)
      child = await addFrame(w, dagPb.encode(dagPb.prepare({ Data: new Uint8Array([8, 2]), Links: [{ Hash: leaf, Name: 'a', Tsize: 100 }] })), 0x70)
      break
    }
    case 'pb-link-missing':
      child = await addFrame(w, dagPb.encode(dagPb.prepare({ Links: [{ Hash: await randomCid(w, 0x55), Name: 'x', Tsize: 1 }] })), 0x70)
      break
    case 'raw-object':
      child = await addFrame(w, w.rng.bytes(w.rng.range(0, 64)), 0x55)
      break
    case 'child-wrong-codec': {
      const b = dagCbor.encode(childValue)
      await addFrame(w, b)
      child = await cidOf(b, 0x55) // links to the same bytes as raw: that block is missing
      break
    }
    case 'child-v0': {
      const b = dagPb.encode(dagPb.prepare({ Data: new Uint8Array([1]) }))
      const c1 = await cidOf(b, 0x70)
      child = CID.createV0(c1.multihash as never)
      w.frames.push({ cid: child.bytes, bytes: b })
      break
    }
    case 'child-event':
      child = [...facts.values()][0]?.cid ?? (await addFrame(w, dagCbor.encode(childValue)))
      break
    default:
      child = await addFrame(w, dagCbor.encode(childValue))
  }
  const parentValue = { title: 'fz', child, n: w.rng.int(1000) }
  let parentBytes = dagCbor.encode(parentValue)
  let parent: CID
  if (kind === 'parent-noncanonical') parentBytes = encodeCbor(parentValue, { wideInts: true })
  if (kind === 'parent-missing') parent = await cidOf(parentBytes)
  else parent = await addFrame(w, parentBytes)
  if (kind === 'raw-object' || kind === 'pb-node' || kind === 'pb-link-missing' || kind === 'pb-garbage' || kind === 'child-v0') {
    if (w.rng.chance(0.5)) parent = child
  }
  // Recorded as an object, or only linked from app data (which may dangle and need not be canonical).
  const asApp = w.rng.chance(0.25)
  const e = asApp ? eventOnTop(w, facts) : eventOnTop(w, facts, '$objects')
  if (asApp) e['data'] = { doc: parent }
  else {
    e['type'] = 'object.put'
    e['data'] = { cid: parent, size: parentBytes.length, type: 'doc' }
  }
  const [, defectName, defect] = asApp ? RECORD_DEFECTS[0]! : w.rng.weighted(RECORD_DEFECTS.map((d) => [d[0], d] as const))
  await defect(w, e, facts)
  w.notes.push(`new ${asApp ? 'app link to an' : 'recorded'} object: ${kind}, record: ${defectName}`)
  await placeEvent(w, e, undefined)
}

/** Re-encodes an existing dag-cbor object block in a way dag-cbor never writes, re-hashed and re-linked. */
const objectEdit: Mutator = async (w) => {
  const events = new Set(eventFrames(w).map((e) => e.index))
  const candidates = w.frames.map((f, i) => ({ f, i, v: decodeFrame(f) })).filter((x) => x.v !== undefined && !events.has(x.i))
  if (candidates.length === 0) return eventEdit(w)
  const { f, v } = w.rng.pick(candidates)
  const old = cidOfFrame(f)!
  const how = w.rng.pick(['unsorted', 'wide-ints', 'ints-as-floats', 'indefinite', 'trailing', 'deep-wrap-514', 'deep-wrap-513', 'undefined', 'bad-utf8'])
  let b: Uint8Array
  switch (how) {
    case 'trailing':
      b = cat(f.bytes, Uint8Array.of(0xf6))
      break
    case 'deep-wrap-514':
      b = nested(514, f.bytes)
      break
    case 'deep-wrap-513':
      b = nested(513 - cborShape(f.bytes).depth, f.bytes)
      break
    case 'undefined':
      b = encodeCbor(typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && CID.asCID(v) === null ? { ...v, zz: undefined } : [v, undefined])
      break
    case 'bad-utf8':
      b = arr([encodeCbor(v), rawText(Uint8Array.of(0xed, 0xa0, 0x80))])
      break
    default:
      b = encodeCbor(v, how === 'unsorted' ? { keys: 'reverse' } : how === 'wide-ints' ? { wideInts: true } : how === 'ints-as-floats' ? { intsAsFloats: true } : { indefinite: true })
  }
  const fresh = await cidOf(b, old.code)
  w.notes.push(`object ${old} re-encoded ${how} -> ${fresh}${compareBytes(b, f.bytes) === 0 ? ' (same bytes)' : ''}`)
  for (const g of w.frames)
    if (compareBytes(g.cid, old.bytes) === 0) {
      g.cid = fresh.bytes
      g.bytes = b
    }
  await relink(w, new Map([[old.toString(), fresh]]))
}

// ---- frames and roots ----

const framesShuffle: Mutator = (w) => {
  w.frames = w.rng.shuffle(w.frames)
  w.notes.push('frames shuffled')
}

const frameDuplicate: Mutator = (w) => {
  if (w.frames.length === 0) return
  const n = w.rng.range(1, 3)
  for (let i = 0; i < n; i++) {
    const f = w.rng.pick(w.frames)
    w.frames.splice(w.rng.int(w.frames.length + 1), 0, { ...f })
  }
  w.notes.push(`${n} frame(s) duplicated`)
}

const frameDrop: Mutator = (w) => {
  if (w.frames.length === 0) return
  const n = w.rng.chance(0.8) ? 1 : w.rng.range(2, Math.max(2, w.frames.length))
  const dropped: string[] = []
  for (let i = 0; i < n && w.frames.length > 0; i++) {
    const [f] = w.frames.splice(w.rng.int(w.frames.length), 1)
    dropped.push(String(cidOfFrame(f!)))
  }
  w.notes.push(`dropped ${dropped.join(', ')}`)
}

const frameSwapBytes: Mutator = (w) => {
  if (w.frames.length < 2) return
  const a = w.rng.int(w.frames.length)
  const b = (a + 1 + w.rng.int(w.frames.length - 1)) % w.frames.length
  const fa = w.frames[a]!
  w.frames[a] = { cid: fa.cid, bytes: w.frames[b]!.bytes }
  w.notes.push(`frame ${a} carries frame ${b}'s bytes`)
}

const frameEmptyBlock: Mutator = (w) => {
  if (w.frames.length === 0) return
  const i = w.rng.int(w.frames.length)
  w.frames[i] = { cid: w.frames[i]!.cid, bytes: new Uint8Array(0) }
  w.notes.push(`frame ${i} has an empty block`)
}

/** Gives a block another CID: another codec, a CIDv0, a wrong digest, another hash; optionally the roots and links follow. */
const cidRelabel: Mutator = async (w) => {
  if (w.frames.length === 0) return
  const i = w.rng.int(w.frames.length)
  const f = w.frames[i]!
  const old = cidOfFrame(f)
  if (old === undefined) return
  const how = w.rng.pick(['codec-raw', 'codec-pb', 'codec-cbor', 'codec-json', 'codec-identity', 'v0', 'digest-bit', 'hash-sha512', 'hash-identity', 'digest-short', 'digest-long', 'explicit-v0', 'v2', 'nonminimal-codec'])
  let cidBytes: Uint8Array
  let next: CID | undefined
  const digest = old.multihash.digest
  switch (how) {
    case 'codec-raw':
      next = relabel(old, 0x55)
      break
    case 'codec-pb':
      next = relabel(old, 0x70)
      break
    case 'codec-cbor':
      next = relabel(old, 0x71)
      break
    case 'codec-json':
      next = relabel(old, 0x0129)
      break
    case 'codec-identity':
      next = relabel(old, 0x00)
      break
    case 'v0':
      next = CID.createV0(Digest.create(0x12, digest) as never)
      break
    case 'digest-bit': {
      const d = digest.slice()
      const at = w.rng.int(d.length)
      d[at] = d[at]! ^ (1 << w.rng.int(8))
      next = CID.createV1(old.code, Digest.create(0x12, d))
      break
    }
    case 'hash-sha512':
      next = CID.createV1(old.code, Digest.create(0x13, digest))
      break
    case 'hash-identity':
      next = CID.createV1(old.code, Digest.create(0x00, f.bytes.slice(0, 64)))
      break
    case 'digest-short':
      next = CID.createV1(old.code, Digest.create(0x12, digest.slice(0, 31)))
      break
    case 'digest-long':
      next = CID.createV1(old.code, Digest.create(0x12, cat(digest, Uint8Array.of(0))))
      break
    default:
      break
  }
  if (next !== undefined) cidBytes = next.bytes
  else if (how === 'explicit-v0') cidBytes = cat(Uint8Array.of(0x00, 0x70), old.multihash.bytes)
  else if (how === 'v2') cidBytes = cat(Uint8Array.of(0x02), old.bytes.subarray(1))
  else cidBytes = cat(Uint8Array.of(0x01, 0xf1, 0x00), old.multihash.bytes) // codec 0x71 as a 2-byte varint
  f.cid = cidBytes
  const follow = w.rng.pick(['frame-only', 'roots', 'links'])
  w.notes.push(`frame ${i} (${old}) relabelled ${how}${next === undefined ? '' : ` -> ${next}`}, ${follow}`)
  if (next === undefined || follow === 'frame-only') return
  if (follow === 'roots') w.roots = w.roots.map((r) => (r.equals(old) ? next : r))
  else await relink(w, new Map([[old.toString(), next]]))
}

const rootsEdit: Mutator = async (w) => {
  const facts = allEvents(w)
  const how = w.rng.weighted<string>([
    [3, 'add-missing'],
    [3, 'add-car-block'],
    [2, 'add-held-block'],
    [2, 'add-old-event'],
    [2, 'drop-one'],
    [2, 'empty'],
    [2, 'duplicate'],
    [1, 'many-duplicates'],
    [2, 'reverse'],
    [1, 'add-raw-relabel'],
    [1, 'add-event-twice'],
  ])
  switch (how) {
    case 'add-missing':
      w.roots.push(await randomCid(w, w.rng.pick([0x71, 0x55, 0x70])))
      break
    case 'add-car-block': {
      const o = w.frames.map(cidOfFrame).filter((c): c is CID => c !== undefined && !facts.has(c.toString()))
      if (o.length > 0) w.roots.push(w.rng.pick(o))
      break
    }
    case 'add-held-block': {
      const held = [...w.info.model.blocks.values()]
      if (held.length > 0) w.roots.push(w.rng.pick(held).cid)
      break
    }
    case 'add-old-event': {
      const all = [...facts.values()]
      if (all.length > 0) w.roots.push(w.rng.pick(all).cid)
      break
    }
    case 'drop-one':
      if (w.roots.length > 0) w.roots.splice(w.rng.int(w.roots.length), 1)
      break
    case 'empty':
      w.roots = []
      break
    case 'duplicate':
      if (w.roots.length > 0) w.roots.push(w.rng.pick(w.roots))
      break
    case 'many-duplicates':
      if (w.roots.length > 0) {
        const r = w.rng.pick(w.roots)
        w.roots = [...w.roots, ...Array.from({ length: 1500 }, () => r)]
      }
      break
    case 'reverse':
      w.roots = [...w.roots].reverse()
      break
    case 'add-raw-relabel': {
      const e = [...facts.values()]
      if (e.length > 0) w.roots.push(relabel(w.rng.pick(e).cid, 0x55))
      break
    }
    case 'add-event-twice': {
      const o = w.frames.map(cidOfFrame).filter((c): c is CID => c !== undefined)
      if (o.length > 0) {
        const c = w.rng.pick(o)
        w.roots.push(c, c)
      }
      break
    }
  }
  w.notes.push(`roots ${how}: ${w.roots.length} root(s)`)
}

const headerEdit: Mutator = async (w) => {
  const roots = w.roots
  const how = w.rng.weighted<string>([
    [2, 'version-2'],
    [1, 'version-string'],
    [1, 'version-float'],
    [2, 'no-version'],
    [2, 'no-roots'],
    [1, 'roots-map'],
    [2, 'roots-non-cid'],
    [2, 'roots-claim-10^6'],
    [1, 'header-list'],
    [2, 'extra-key'],
    [2, 'unsorted-keys'],
    [1, 'carv2-pragma'],
    [1, 'header-cid'],
    [1, 'header-deep'],
    [1, 'trailing-in-header'],
    [1, 'header-null'],
    [1, 'roots-v0-explicit'],
    [1, 'header-indefinite'],
  ])
  const rootItems = roots.map((r) => encodeCbor(r))
  switch (how) {
    case 'version-2':
      w.header = map([
        ['roots', arr(rootItems)],
        ['version', uint(2)],
      ])
      break
    case 'version-string':
      w.header = map([
        ['roots', arr(rootItems)],
        ['version', text('1')],
      ])
      break
    case 'version-float':
      w.header = map([
        ['roots', arr(rootItems)],
        ['version', float64(1)],
      ])
      break
    case 'no-version':
      w.header = map([['roots', arr(rootItems)]])
      break
    case 'no-roots':
      w.header = map([['version', uint(1)]])
      break
    case 'roots-map':
      w.header = map([
        ['roots', map([])],
        ['version', uint(1)],
      ])
      break
    case 'roots-non-cid':
      w.header = map([
        ['roots', arr([...rootItems, text('bafy')])],
        ['version', uint(1)],
      ])
      break
    case 'roots-claim-10^6':
      w.header = map([
        ['roots', cat(head(4, 1_000_000), ...rootItems)],
        ['version', uint(1)],
      ])
      break
    case 'header-list':
      w.header = arr([arr(rootItems), uint(1)])
      break
    case 'extra-key':
      w.header = map([
        ['x', nul],
        ['roots', arr(rootItems)],
        ['version', uint(1)],
      ])
      break
    case 'unsorted-keys':
      w.header = map([
        ['version', uint(1)],
        ['roots', arr(rootItems)],
      ])
      break
    case 'carv2-pragma':
      w.header = map([['version', uint(2)]])
      break
    case 'header-cid':
      w.header = encodeCbor(roots[0] ?? (await randomCid(w)))
      break
    case 'header-deep':
      w.header = nested(
        w.rng.pick([600, 20_000]),
        map([
          ['roots', arr([])],
          ['version', uint(1)],
        ]),
      )
      break
    case 'trailing-in-header':
      w.header = cat(headerBytes(roots), Uint8Array.of(0))
      break
    case 'header-null':
      w.header = nul
      break
    case 'roots-v0-explicit':
      w.header = map([
        ['roots', arr(roots.map((r) => cat(head(6, 42), bytes(cat(Uint8Array.of(0, 0, 0x70), r.multihash.bytes)))))],
        ['version', uint(1)],
      ])
      break
    case 'header-indefinite':
      w.header = encodeCbor({ roots: [...roots], version: 1 }, { indefinite: true })
      break
  }
  w.notes.push(`header ${how}`)
}

/** Length prefixes: non-minimal, too long, giant, off by a few, zero. */
const varintEdit: Mutator = (w) => {
  const onHeader = w.frames.length === 0 || w.rng.chance(0.25)
  const i = onHeader ? -1 : w.rng.int(w.frames.length)
  const length = onHeader ? (w.header ?? headerBytes(w.roots)).length : w.frames[i]!.cid.length + w.frames[i]!.bytes.length
  const how = w.rng.weighted<string>([
    [4, 'non-minimal'],
    [2, 'ten-bytes'],
    [1, 'nine-bytes-minimal'],
    [2, 'claims-2^40'],
    [1, 'claims-2^53'],
    [2, 'over-limit'],
    [1, 'at-limit'],
    [2, 'plus-one'],
    [2, 'minus-one'],
    [1, 'zero'],
    [1, 'header-65537'],
    [1, 'header-10^6'],
  ])
  let prefix: Uint8Array
  const limit = DEFAULT_LIMITS.maxBlockBytes + 128
  switch (how) {
    case 'non-minimal':
      prefix = varint(length, w.rng.range(1, 3))
      break
    case 'ten-bytes':
      prefix = varint(length, Math.max(1, 10 - varint(length).length))
      break
    case 'nine-bytes-minimal':
      prefix = varint(2 ** 56 + length)
      break
    case 'claims-2^40':
      prefix = varint(2 ** 40)
      break
    case 'claims-2^53':
      prefix = varint(2 ** 53 - 1)
      break
    case 'over-limit':
      prefix = varint(limit + 1)
      break
    case 'at-limit':
      prefix = varint(limit)
      break
    case 'plus-one':
      prefix = varint(length + 1)
      break
    case 'minus-one':
      prefix = varint(Math.max(0, length - 1))
      break
    case 'zero':
      prefix = varint(0)
      break
    case 'header-65537':
      prefix = varint(65537)
      break
    default:
      prefix = varint(1_000_000)
  }
  if (onHeader) w.headerPrefix = prefix
  else w.frames[i] = { ...w.frames[i]!, prefix }
  w.notes.push(`${onHeader ? 'header' : `frame ${i}`} length prefix ${how}`)
}

const limitsEdit: Mutator = (w) => {
  const largest = Math.max(0, ...w.frames.map((f) => f.bytes.length))
  const total = writeParts({ header: w.header ?? headerBytes(w.roots), frames: w.frames }).length
  const how = w.rng.pick(['block-just-under', 'block-exact', 'bytes-just-under', 'bytes-exact', 'drift-zero', 'block-zero'])
  switch (how) {
    case 'block-just-under':
      w.options.maxBlockBytes = Math.max(0, largest - 1)
      break
    case 'block-exact':
      w.options.maxBlockBytes = largest
      break
    case 'bytes-just-under':
      w.options.maxBytes = Math.max(0, total - 1 - w.rng.int(100))
      break
    case 'bytes-exact':
      w.options.maxBytes = total
      break
    case 'drift-zero':
      w.options.maxClockDrift = 0
      break
    case 'block-zero':
      w.options.maxBlockBytes = 0
      break
  }
  w.notes.push(`limits ${how}: ${JSON.stringify(w.options)}`)
}

// ---- byte damage (after serialization) ----

function sections(w: Work): number[] {
  // Boundaries of the serialized parts, recomputed from the work (it may have changed).
  const out = [0]
  let at = (w.headerPrefix ?? varint((w.header ?? headerBytes(w.roots)).length)).length
  out.push(at)
  at += (w.header ?? headerBytes(w.roots)).length
  out.push(at)
  for (const f of w.frames) {
    at += (f.prefix ?? varint(f.cid.length + f.bytes.length)).length
    out.push(at)
    at += f.cid.length
    out.push(at)
    at += f.bytes.length
    out.push(at)
  }
  return out
}

const bitFlip: Mutator = (w) => {
  const bounds = sections(w)
  const n = w.rng.pick([1, 1, 1, 2, 3, 8])
  w.post.push((b) => {
    const where: number[] = []
    const out = b.slice()
    for (let k = 0; k < n; k++) {
      // Half the flips land in a chosen section, so short sections (prefixes, CIDs) get their share.
      let pos: number
      if (w.rng.chance(0.5) && bounds.length > 1) {
        const s = w.rng.int(bounds.length - 1)
        const lo = bounds[s]!
        const hi = bounds[s + 1]!
        pos = hi > lo ? lo + w.rng.int(hi - lo) : lo
      } else pos = w.rng.int(out.length)
      if (pos >= out.length) continue
      out[pos] = out[pos]! ^ (1 << w.rng.int(8))
      where.push(pos)
    }
    w.notes.push(`${n} bit flip(s) at ${where.join(',')}`)
    return out
  })
}

const byteSet: Mutator = (w) => {
  w.post.push((b) => {
    const out = b.slice()
    const pos = w.rng.int(out.length)
    const value = w.rng.pick([0x00, 0xff, 0x80, 0x7f, 0x12, 0x71, 0x55, 0xa2, 0x9f, w.rng.int(256)])
    out[pos] = value
    w.notes.push(`byte ${pos} := 0x${value.toString(16)}`)
    return out
  })
}

const truncateAtBoundary: Mutator = (w) => {
  const bounds = sections(w)
  const cut = Math.max(0, w.rng.pick(bounds) + w.rng.pick([-1, 0, 0, 0, 1]))
  w.post.push((b) => b.subarray(0, Math.min(cut, b.length)))
  w.notes.push(`truncated at ${cut} (boundaries ${bounds.slice(0, 12).join(',')}${bounds.length > 12 ? ',…' : ''})`)
}

const truncateRandom: Mutator = (w) => {
  w.post.push((b) => {
    const cut = w.rng.int(b.length + 1)
    w.notes.push(`truncated at ${cut}`)
    return b.subarray(0, cut)
  })
}

const spliceBytes: Mutator = (w) => {
  const bounds = sections(w)
  const at = w.rng.chance(0.7) ? w.rng.pick(bounds) : -1
  const how = w.rng.pick(['insert-random', 'insert-zeros', 'delete', 'append-garbage', 'append-frame-of-zero-length', 'insert-varint'])
  w.post.push((b) => {
    const pos = at < 0 || at > b.length ? w.rng.int(b.length + 1) : at
    let out: Uint8Array
    switch (how) {
      case 'insert-random':
        out = cat(b.subarray(0, pos), w.rng.bytes(w.rng.range(1, 16)), b.subarray(pos))
        break
      case 'insert-zeros':
        out = cat(b.subarray(0, pos), new Uint8Array(w.rng.range(1, 4)), b.subarray(pos))
        break
      case 'delete':
        out = cat(b.subarray(0, pos), b.subarray(Math.min(b.length, pos + w.rng.range(1, 8))))
        break
      case 'append-garbage':
        out = cat(b, w.rng.bytes(w.rng.range(1, 64)))
        break
      case 'append-frame-of-zero-length':
        out = cat(b, Uint8Array.of(0))
        break
      default:
        out = cat(b.subarray(0, pos), varint(w.rng.int(2 ** 20)), b.subarray(pos))
    }
    w.notes.push(`${how} at ${pos}`)
    return out
  })
}

/** The mutators and their weights. */
export const MUTATORS: readonly (readonly [number, string, Mutator])[] = [
  [24, 'event-edit', eventEdit],
  [3, 'signed-batch', signedBatch],
  [10, 'object-new', objectNew],
  [5, 'object-edit', objectEdit],
  [5, 'bit-flip', bitFlip],
  [2, 'byte-set', byteSet],
  [5, 'truncate-boundary', truncateAtBoundary],
  [1, 'truncate-random', truncateRandom],
  [3, 'splice', spliceBytes],
  [3, 'frames-shuffle', framesShuffle],
  [3, 'frame-duplicate', frameDuplicate],
  [4, 'frame-drop', frameDrop],
  [2, 'frame-swap-bytes', frameSwapBytes],
  [1, 'frame-empty-block', frameEmptyBlock],
  [5, 'cid-relabel', cidRelabel],
  [5, 'roots', rootsEdit],
  [4, 'header', headerEdit],
  [4, 'varint', varintEdit],
  [2, 'limits', limitsEdit],
]

const STRUCTURED = new Set(['event-edit', 'signed-batch', 'object-new', 'object-edit', 'frames-shuffle', 'frame-duplicate', 'frame-drop', 'frame-swap-bytes', 'cid-relabel', 'roots', 'limits'])

/** Makes variant number `index` of a run from its own generator. */
export async function makeVariant(rng: Rng, info: CorpusInfo): Promise<Variant> {
  const w: Work = {
    info,
    rng,
    frames: info.parts.frames.map((f) => ({ ...f })),
    roots: [...info.roots],
    post: [],
    options: {},
    notes: [],
  }
  const names: string[] = []
  const run = async (name: string, m: Mutator): Promise<void> => {
    names.push(name)
    await m(w)
  }
  const [, first, m] = rng.weighted(MUTATORS.map((x) => [x[0], x] as const))
  await run(first, m)
  // Sometimes a second and third structured mutation on top, and sometimes byte damage last.
  for (let k = 0; k < 2 && rng.chance(0.2); k++) {
    const [, name, next] = rng.weighted(MUTATORS.filter((x) => STRUCTURED.has(x[1])).map((x) => [x[0], x] as const))
    await run(name, next)
  }
  if (STRUCTURED.has(first) && rng.chance(0.05)) await run('bit-flip', bitFlip)
  let out = writeParts({ header: w.header ?? headerBytes(w.roots), ...(w.headerPrefix === undefined ? {} : { headerPrefix: w.headerPrefix }), frames: w.frames })
  for (const p of w.post) out = p(out)
  // Large CARs in tiny chunks are rare: Cairn's reader is quadratic in the chunks of a frame (finding F6)
  const sizes = out.length <= 50_000 ? [1, 2, 3, 7, 64, 1000, 4096, 65536] : rng.chance(0.02) ? [4] : [1000, 4096, 65536]
  const chunks = rng.chance(0.3) ? Array.from({ length: rng.range(1, 4) }, () => rng.pick(sizes)) : undefined
  return { bytes: out, options: w.options, mutators: names, note: w.notes.join('; '), ...(chunks === undefined ? {} : { chunks }) }
}

/** The variant's bytes as the import reads them: whole, or as a stream of chunks. */
export function sourceOf(v: Variant): Uint8Array | AsyncIterable<Uint8Array> {
  const chunks = v.chunks
  if (chunks === undefined) return v.bytes
  const b = v.bytes
  return (async function* () {
    let at = 0
    for (let i = 0; at < b.length; i++) {
      const n = chunks[Math.min(i, chunks.length - 1)]!
      yield b.slice(at, at + n)
      at += n
    }
  })()
}
