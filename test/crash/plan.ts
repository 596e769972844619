// The crash suite's deterministic workload: op n of seed s is the same in the writer child that
// performs it and in the parent that checks what a kill left. Pure functions of (seed, n), except
// that a put links earlier files, whose CIDs the caller supplies (the child knows them from its
// own putFile results or from the parent; the parent computes them from the same bytes).
import type { BatchAppendInput, CID } from '../../src/index.node.ts'
import { encodeValue } from '../../src/index.node.ts'

export type OpKind = 'appendMany' | 'append' | 'put' | 'putFile' | 'import'
export const OP_KINDS: readonly OpKind[] = ['appendMany', 'append', 'put', 'putFile', 'import']

/** Data of every event the writer appends: `op` and `i`/`of` say which batch it belongs to and where. */
export interface OpEventData {
  op: number
  i: number
  of: number
  pad: string
  ref?: CID
}

export type Op =
  | { readonly n: number; readonly kind: 'appendMany'; readonly events: BatchAppendInput<OpEventData>[] }
  | { readonly n: number; readonly kind: 'append'; readonly events: [BatchAppendInput<OpEventData>] }
  | { readonly n: number; readonly kind: 'put'; readonly value: PutValue; readonly cid: CID }
  | { readonly n: number; readonly kind: 'putFile'; readonly size: number }
  | { readonly n: number; readonly kind: 'import'; readonly car: number }

export interface PutValue {
  op: number
  title: string
  body: string
  links: CID[]
}

/** How many CARs the parent prepares (`car-<k>.car`, k = 0 … CARS - 1); an import op names one. */
export const CARS = 6
/** The object type of a put, and of a file. */
export const PUT_TYPE = 'doc'
export const FILE_TYPE = 'file'

/** A 32-bit hash of integers (murmur3's finaliser over a running mix): seeds the per-op generators. */
export function mix(...xs: number[]): number {
  let h = 0x9e3779b9
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b)
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae35)
    h ^= h >>> 16
  }
  return h >>> 0
}

/** mulberry32: a small seeded generator of floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An integer in [lo, hi]. */
export function between(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1))
}

const opRng = (seed: number, n: number, salt: number): (() => number) => rng(mix(seed, n, salt))

/** The kind of op n: cheap, so a put can look back for earlier objects to link. */
export function kindAt(seed: number, n: number): OpKind {
  const x = opRng(seed, n, 1)()
  return x < 0.3 ? 'appendMany' : x < 0.52 ? 'append' : x < 0.7 ? 'put' : x < 0.86 ? 'putFile' : 'import'
}

/** Events in appendMany op n: mostly small batches, now and then up to 150. */
export function batchSize(seed: number, n: number): number {
  return 1 + Math.floor(150 * opRng(seed, n, 6)() ** 2.5)
}

/** Size of file op n: half of them 1 KiB – 256 KiB (log-uniform), half 256 KiB – 3 MiB (several 256 KiB chunks). */
export function fileSize(seed: number, n: number): number {
  const r = opRng(seed, n, 2)
  return r() < 0.5 ? Math.round(1024 * 256 ** r()) : between(r, 256 * 1024 + 1, 3 * 1024 * 1024)
}

/** The bytes of file op n (xorshift32 words). */
export function fileBytes(seed: number, n: number): Uint8Array {
  const size = fileSize(seed, n)
  const words = new Uint32Array(Math.ceil(size / 4))
  let x = mix(seed, n, 3) | 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x
  }
  return new Uint8Array(words.buffer, 0, size)
}

/** The earlier object ops (put, putFile) that op n may link, newest last (at most 24). */
function earlierObjects(seed: number, n: number): number[] {
  const found: number[] = []
  for (let j = n - 1; j >= 0 && found.length < 24; j--) {
    const k = kindAt(seed, j)
    if (k === 'put' || k === 'putFile') found.push(j)
  }
  return found.reverse()
}

/**
 * The op plan of one seed. `fileCid(j)` must give the CID of file op j (every file op before
 * the ones asked for); put values and their CIDs are memoised here.
 */
export class Plan {
  readonly seed: number
  readonly #fileCid: (j: number) => CID
  readonly #puts = new Map<number, { value: PutValue; cid: CID }>()

  constructor(seed: number, fileCid: (j: number) => CID) {
    this.seed = seed
    this.#fileCid = fileCid
  }

  kind(n: number): OpKind {
    return kindAt(this.seed, n)
  }

  /** The CID of object op j (a put or a putFile). */
  objectCid(j: number): CID {
    return this.kind(j) === 'put' ? this.#put(j).cid : this.#fileCid(j)
  }

  op(n: number): Op {
    const kind = this.kind(n)
    const r = opRng(this.seed, n, 4)
    switch (kind) {
      case 'appendMany': {
        const of = batchSize(this.seed, n)
        return { n, kind, events: Array.from({ length: of }, (_, i) => this.#event(r, n, i, of)) }
      }
      case 'append': {
        const event = this.#event(r, n, 0, 1)
        return { n, kind, events: [{ ...event, meta: { id: `op-${n}` } }] }
      }
      case 'put': {
        const { value, cid } = this.#put(n)
        return { n, kind, value, cid }
      }
      case 'putFile':
        return { n, kind, size: fileSize(this.seed, n) }
      case 'import':
        return { n, kind, car: between(r, 0, CARS - 1) }
    }
  }

  #event(r: () => number, n: number, i: number, of: number): BatchAppendInput<OpEventData> {
    const data: OpEventData = { op: n, i, of, pad: 'p'.repeat(between(r, 0, 300)) }
    // Now and then an event links an earlier object, as an app's event would.
    if (r() < 0.1) {
      const objects = earlierObjects(this.seed, n)
      if (objects.length > 0) data.ref = this.objectCid(objects[between(r, 0, objects.length - 1)]!)
    }
    return { stream: `s${between(r, 0, 7)}`, type: `t${between(r, 0, 3)}`, data }
  }

  #put(n: number): { value: PutValue; cid: CID } {
    let put = this.#puts.get(n)
    if (put === undefined) {
      const r = opRng(this.seed, n, 5)
      const objects = earlierObjects(this.seed, n)
      const links: CID[] = []
      for (let k = between(r, 0, Math.min(3, objects.length)); k > 0; k--) {
        const cid = this.objectCid(objects[between(r, 0, objects.length - 1)]!)
        if (!links.some((l) => l.equals(cid))) links.push(cid)
      }
      const value: PutValue = { op: n, title: `doc ${n}`, body: 'b'.repeat(between(r, 0, 2000)), links }
      put = { value, cid: encodeValue(value).cid }
      this.#puts.set(n, put)
    }
    return put
  }
}
