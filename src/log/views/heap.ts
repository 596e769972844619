/**
 * A binary heap ordered by `before(a, b)` (true when `a` comes out first). Shared by the
 * export walk (newest event first) and query merges (one cursor per list).
 */
export class Heap<T> {
  readonly #items: T[] = []
  readonly #before: (a: T, b: T) => boolean

  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before
  }

  get size(): number {
    return this.#items.length
  }

  /** The item that comes out next. */
  peek(): T | undefined {
    return this.#items[0]
  }

  push(item: T): void {
    const a = this.#items
    a.push(item)
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1
      if (!this.#before(a[i]!, a[p]!)) break
      ;[a[p], a[i]] = [a[i]!, a[p]!]
      i = p
    }
  }

  pop(): T | undefined {
    const a = this.#items
    const top = a[0]
    const last = a.pop()
    if (a.length > 0) {
      a[0] = last!
      this.fixTop()
    }
    return top
  }

  /** Restores the order after the top item's key changed in place. */
  fixTop(): void {
    const a = this.#items
    for (let i = 0; ; ) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < a.length && this.#before(a[l]!, a[m]!)) m = l
      if (r < a.length && this.#before(a[r]!, a[m]!)) m = r
      if (m === i) return
      ;[a[m], a[i]] = [a[i]!, a[m]!]
      i = m
    }
  }
}
