/**
 * A growable list of event numbers (u32) kept in canonical order. Lists loaded from an index
 * snapshot start as views into the snapshot's buffer and are copied only when they grow.
 */
export class SeqList {
  /** Null while the list is the identity 0, 1, 2, … (the global order of a log that never took an older event). */
  #data: Uint32Array | null
  length: number

  constructor(data: Uint32Array | null = new Uint32Array(4), length: number = 0) {
    this.#data = data
    this.length = length
  }

  /** The list 0, 1, …, length-1, held without an array until something breaks the pattern. */
  static identity(length: number): SeqList {
    return new SeqList(null, length)
  }

  /** Whether the list is still the identity (it then costs no memory). */
  get isIdentity(): boolean {
    return this.#data === null
  }

  at(i: number): number {
    return this.#data === null ? i : this.#data[i]!
  }

  last(): number | undefined {
    return this.length === 0 ? undefined : this.at(this.length - 1)
  }

  /** The live entries (a view, not a copy: valid until the next change). */
  view(): Uint32Array {
    return this.#materialize().subarray(0, this.length)
  }

  push(seq: number): void {
    if (this.#data === null && seq === this.length) {
      this.length++
      return
    }
    const data = this.#materialize()
    if (this.length === data.length) this.#grow(this.length + 1)
    this.#data![this.length++] = seq
  }

  /**
   * Merges `add` (sorted by `compare`, none already present) in place with one pass from the
   * back, so a batch landing mid-list costs the tail once. Returns the first changed index.
   */
  merge(add: readonly number[], compare: (a: number, b: number) => number): number {
    const n = this.length
    const k = add.length
    if (k === 0) return n
    if (n === 0 || compare(this.at(n - 1), add[0]!) < 0) {
      for (const s of add) this.push(s)
      return n
    }
    if (this.#materialize().length < n + k) this.#grow(n + k)
    const data = this.#data!
    const first = firstIndex(n, (i) => compare(data[i]!, add[0]!) > 0)
    let i = n - 1
    let j = k - 1
    let w = n + k - 1
    while (j >= 0) {
      if (i >= first && compare(data[i]!, add[j]!) > 0) data[w--] = data[i--]!
      else data[w--] = add[j--]!
    }
    this.length = n + k
    return first
  }

  #materialize(): Uint32Array {
    if (this.#data === null) {
      const data = new Uint32Array(Math.max(4, this.length + (this.length >> 2)))
      for (let i = 0; i < this.length; i++) data[i] = i
      this.#data = data
    }
    return this.#data
  }

  #grow(min: number): void {
    const data = this.#materialize()
    // Double small lists; grow big ones by a quarter so slack stays a small share of memory.
    let cap = data.length < 4 ? 4 : data.length < 1 << 20 ? data.length * 2 : data.length + (data.length >> 2)
    if (cap < min) cap = min
    const next = new Uint32Array(cap)
    next.set(data.subarray(0, this.length))
    this.#data = next
  }
}

/** First index in [0, n) at which the monotone predicate (false… then true…) holds; n if none. */
export function firstIndex(n: number, pred: (i: number) => boolean): number {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (pred(mid)) hi = mid
    else lo = mid + 1
  }
  return lo
}
