/**
 * A growable list of event numbers (u32) kept in canonical order. Lists loaded from an index
 * snapshot start as views into the snapshot's buffer and are copied only when they grow.
 */
export class SeqList {
  #data: Uint32Array
  length: number

  constructor(data: Uint32Array = new Uint32Array(4), length: number = 0) {
    this.#data = data
    this.length = length
  }

  at(i: number): number {
    return this.#data[i]!
  }

  last(): number | undefined {
    return this.length === 0 ? undefined : this.#data[this.length - 1]
  }

  /** The live entries (a view, not a copy: valid until the next change). */
  view(): Uint32Array {
    return this.#data.subarray(0, this.length)
  }

  push(seq: number): void {
    if (this.length === this.#data.length) this.#grow(this.length + 1)
    this.#data[this.length++] = seq
  }

  /**
   * Merges `add` (sorted by `compare`, none already present) in place with one pass from the
   * back, so a batch landing mid-list costs the tail once. Returns the first changed index.
   */
  merge(add: readonly number[], compare: (a: number, b: number) => number): number {
    const n = this.length
    const k = add.length
    if (k === 0) return n
    if (n === 0 || compare(this.#data[n - 1]!, add[0]!) < 0) {
      for (const s of add) this.push(s)
      return n
    }
    if (this.#data.length < n + k) this.#grow(n + k)
    const data = this.#data
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

  #grow(min: number): void {
    // Double small lists; grow big ones by a quarter so slack stays a small share of memory.
    let cap = this.#data.length < 4 ? 4 : this.#data.length < 1 << 20 ? this.#data.length * 2 : this.#data.length + (this.#data.length >> 2)
    if (cap < min) cap = min
    const next = new Uint32Array(cap)
    next.set(this.#data.subarray(0, this.length))
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
