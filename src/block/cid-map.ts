import type { CID } from 'multiformats/cid'

/** A block looked up by CID: what import planning, completeness walks and indexing read. */
export interface BlockLookup<V> {
  get(cid: CID): V | undefined
  has(cid: CID): boolean
}

interface Entry<V> {
  readonly cid: CID
  value: V
  next: Entry<V> | undefined
}

/**
 * A 30-bit key from the last four bytes of the CID at `bytes[…, end)` (inside its digest):
 * uniform for sha2-256. 30 bits, so that every key is a small integer to V8 (a larger one is a
 * heap number, which the Map hashes and compares more slowly: lookups took ~15–30% longer).
 */
function hashAt(bytes: Uint8Array, end: number): number {
  return (bytes[end - 1]! | (bytes[end - 2]! << 8) | (bytes[end - 3]! << 16) | (bytes[end - 4]! << 24)) & 0x3fffffff
}

/**
 * A map keyed by CID bytes, without making CID strings: a CID's base32 string costs a few
 * microseconds per call, which hot paths (an import of 100k events looks each one up several
 * times) pay in full since every decoded link is a new CID object. Two CIDs are the same key
 * when their bytes are equal, as with `cid.equals`.
 */
export class CidMap<V> implements BlockLookup<V> {
  readonly #buckets = new Map<number, Entry<V>>()
  #size = 0

  constructor(entries?: Iterable<readonly [CID, V]>) {
    if (entries !== undefined) for (const [cid, v] of entries) this.set(cid, v)
  }

  get size(): number {
    return this.#size
  }

  /** The entry whose key's bytes are `bytes[start, end)`. */
  #findAt(bytes: Uint8Array, start: number, end: number): Entry<V> | undefined {
    const n = end - start
    search: for (let e = this.#buckets.get(hashAt(bytes, end)); e !== undefined; e = e.next) {
      const key = e.cid.bytes
      if (key.length !== n) continue
      for (let i = 0; i < n; i++) if (key[i] !== bytes[start + i]) continue search
      return e
    }
    return undefined
  }

  #find(cid: CID): Entry<V> | undefined {
    return this.#findAt(cid.bytes, 0, cid.bytes.length)
  }

  /**
   * The key whose bytes are exactly `bytes[start, end)`, or undefined: a decoder that meets a
   * link to a CID held here reuses that CID object instead of building another.
   */
  keyAt(bytes: Uint8Array, start: number, end: number): CID | undefined {
    return end - start < 4 ? undefined : this.#findAt(bytes, start, end)?.cid
  }

  get(cid: CID): V | undefined {
    return this.#find(cid)?.value
  }

  has(cid: CID): boolean {
    return this.#find(cid) !== undefined
  }

  set(cid: CID, value: V): this {
    const found = this.#find(cid)
    if (found !== undefined) found.value = value
    else this.#insert(cid, value)
    return this
  }

  #insert(cid: CID, value: V): void {
    const h = hashAt(cid.bytes, cid.bytes.length)
    this.#buckets.set(h, { cid, value, next: this.#buckets.get(h) })
    this.#size++
  }

  delete(cid: CID): boolean {
    const found = this.#find(cid)
    if (found === undefined) return false
    const h = hashAt(cid.bytes, cid.bytes.length)
    let prev: Entry<V> | undefined
    for (let e = this.#buckets.get(h); e !== undefined; prev = e, e = e.next) {
      if (e !== found) continue
      if (prev === undefined) {
        if (e.next === undefined) this.#buckets.delete(h)
        else this.#buckets.set(h, e.next)
      } else prev.next = e.next
      this.#size--
      return true
    }
    return false
  }

  clear(): void {
    this.#buckets.clear()
    this.#size = 0
  }

  *entries(): IterableIterator<[CID, V]> {
    for (let e of this.#buckets.values()) for (; e !== undefined; e = e.next!) yield [e.cid, e.value]
  }

  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v
  }

  *keys(): IterableIterator<CID> {
    for (const [cid] of this.entries()) yield cid
  }
}

/** A set of CIDs by their bytes (see CidMap). */
export class CidSet {
  readonly #map = new CidMap<true>()

  constructor(cids?: Iterable<CID>) {
    if (cids !== undefined) for (const c of cids) this.add(c)
  }

  get size(): number {
    return this.#map.size
  }

  has(cid: CID): boolean {
    return this.#map.has(cid)
  }

  add(cid: CID): this {
    this.#map.set(cid, true)
    return this
  }

  delete(cid: CID): boolean {
    return this.#map.delete(cid)
  }

  values(): IterableIterator<CID> {
    return this.#map.keys()
  }
}
