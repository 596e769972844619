// The entries of the files engine's block index, and their in-memory part: the lookup key of
// a CID, entry columns in typed arrays, and the tail (blocks committed since the block table
// was written) as a small hash table. locator.ts combines the tail with the table.
//
// Why not a Map from CID to position: a Map of one string per block costs ~100 bytes of heap
// per block and must be rebuilt by scanning every segment on open. An entry here is 20
// bytes: a 64-bit lookup key and its frame's position (segment, offset, content length).
// Most blocks live in the block table file, sorted by key, and stay on disk (see table/);
// blocks committed since the table was written live in memory, in a small open-addressing
// hash table (the tail) defined here.
//
// The key is the last 8 bytes of the CID (the end of its digest), not the whole CID. Keys
// of different CIDs can be equal (the same digest under another codec or CID version, or a
// weak hash), so a key only names candidates: the engine confirms one by reading the frame
// and comparing the CID bytes stored there, which it reads anyway to serve a get. That keeps
// `has` exact without keeping 36+ bytes of CID per block anywhere.

/** Number of 32-bit columns per entry: key high, key low, segment, frame offset, frame length. */
export const ENTRY_WORDS = 5
/** Bytes one entry takes: in a table page on disk, and per column set in memory. */
export const ENTRY_BYTES: number = ENTRY_WORDS * 4

/** High 32 bits of the lookup key of the CID bytes `bytes[start, end)`: bytes end-8..end-5, big-endian. */
export function keyHi(bytes: Uint8Array, start: number, end: number): number {
  return word(bytes, start, end - 8)
}

/** Low 32 bits of the lookup key: bytes end-4..end-1, big-endian. */
export function keyLo(bytes: Uint8Array, start: number, end: number): number {
  return word(bytes, start, end - 4)
}

function word(bytes: Uint8Array, start: number, at: number): number {
  if (at >= start) return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
  // CIDs shorter than 8 bytes: the missing leading bytes count as zeros.
  let w = 0
  for (let i = at; i < at + 4; i++) w = ((w << 8) | (i >= start ? bytes[i]! : 0)) >>> 0
  return w
}

/** Where a candidate block's frame sits. */
export interface FramePosition {
  readonly segment: number
  /** File offset of the frame's length varint. */
  readonly offset: number
  /** The frame's content length: CID bytes plus block bytes. */
  readonly length: number
}

/**
 * Index entries in commit (file) order, in growable columns: all a table write needs (it
 * sorts them, never looks one up). {@link TailIndex} adds the hash table for lookups.
 */
export class EntryColumns {
  protected entries = 0
  protected hiColumn: Uint32Array
  protected loColumn: Uint32Array
  protected segmentColumn: Uint32Array
  protected offsetColumn: Uint32Array
  protected lengthColumn: Uint32Array

  constructor(capacity = 256) {
    this.hiColumn = new Uint32Array(capacity)
    this.loColumn = new Uint32Array(capacity)
    this.segmentColumn = new Uint32Array(capacity)
    this.offsetColumn = new Uint32Array(capacity)
    this.lengthColumn = new Uint32Array(capacity)
  }

  get count(): number {
    return this.entries
  }

  hi(entry: number): number {
    return this.hiColumn[entry]!
  }

  lo(entry: number): number {
    return this.loColumn[entry]!
  }

  segment(entry: number): number {
    return this.segmentColumn[entry]!
  }

  offset(entry: number): number {
    return this.offsetColumn[entry]!
  }

  length(entry: number): number {
    return this.lengthColumn[entry]!
  }

  /**
   * The entries of `parts`, in order, for sorting: the columns are copied, no hash table is
   * built (a table write after a rescan concatenates millions of entries it never looks up).
   */
  static concat(parts: readonly EntryColumns[]): EntryColumns {
    if (parts.length === 1) return parts[0]!
    const out = new EntryColumns(parts.reduce((sum, part) => sum + part.entries, 0))
    for (const part of parts) {
      const n = part.entries
      out.hiColumn.set(part.hiColumn.subarray(0, n), out.entries)
      out.loColumn.set(part.loColumn.subarray(0, n), out.entries)
      out.segmentColumn.set(part.segmentColumn.subarray(0, n), out.entries)
      out.offsetColumn.set(part.offsetColumn.subarray(0, n), out.entries)
      out.lengthColumn.set(part.lengthColumn.subarray(0, n), out.entries)
      out.entries += n
    }
    return out
  }

  /** Appends an entry (no hash table: for a list that is only read back in order, or sorted). */
  push(hi: number, lo: number, segment: number, offset: number, length: number): void {
    if (this.entries === this.hiColumn.length) this.grow()
    const e = this.entries++
    this.hiColumn[e] = hi
    this.loColumn[e] = lo
    this.segmentColumn[e] = segment
    this.offsetColumn[e] = offset
    this.lengthColumn[e] = length
  }

  /** Entry numbers in key order: LSD radix sort, four 16-bit digits (stable, O(n)). */
  sortedOrder(): Uint32Array {
    const n = this.entries
    let src = new Uint32Array(n)
    for (let i = 0; i < n; i++) src[i] = i
    if (n < 2) return src
    let dst = new Uint32Array(n)
    const counts = new Uint32Array(65536)
    for (const [column, shift] of [
      [this.loColumn, 0],
      [this.loColumn, 16],
      [this.hiColumn, 0],
      [this.hiColumn, 16],
    ] as const) {
      counts.fill(0)
      for (let i = 0; i < n; i++) counts[(column[src[i]!]! >>> shift) & 0xffff]!++
      let sum = 0
      for (let d = 0; d < 65536; d++) {
        const c = counts[d]!
        counts[d] = sum
        sum += c
      }
      for (let i = 0; i < n; i++) {
        const e = src[i]!
        dst[counts[(column[e]! >>> shift) & 0xffff]!++] = e
      }
      const t = src
      src = dst
      dst = t
    }
    return src
  }

  /** Room for one more entry. */
  protected grow(): void {
    const grow = (a: Uint32Array): Uint32Array => {
      const b = new Uint32Array(a.length * 2)
      b.set(a)
      return b
    }
    this.hiColumn = grow(this.hiColumn)
    this.loColumn = grow(this.loColumn)
    this.segmentColumn = grow(this.segmentColumn)
    this.offsetColumn = grow(this.offsetColumn)
    this.lengthColumn = grow(this.lengthColumn)
  }
}

/**
 * The index of blocks committed since the block table: {@link EntryColumns} plus an
 * open-addressing hash table of entry numbers (linear probing, load at most 1/2). Equal keys
 * simply occupy several buckets. About 28 bytes per entry plus growth slack; it stays small
 * because the engine folds it into a new table once it reaches a threshold. (Also the index
 * of a rebuild: the blocks of a damaged table's part of the segments, rescanned, until a new
 * table holds them.)
 */
export class TailIndex extends EntryColumns {
  /** Entry number + 1 per bucket; 0 is empty. */
  #buckets = new Int32Array(1024)
  #shift = 32 - 10

  /** Bytes of memory held by the tail's arrays. */
  get byteLength(): number {
    return this.hiColumn.byteLength * ENTRY_WORDS + this.#buckets.byteLength
  }

  add(hi: number, lo: number, segment: number, offset: number, length: number): void {
    this.push(hi, lo, segment, offset, length)
    if (this.entries * 2 > this.#buckets.length) this.#rehash(this.#buckets.length * 2)
    else this.#place(this.entries - 1)
  }

  /** True when some entry has the key (hi, lo). */
  hasKey(hi: number, lo: number): boolean {
    const mask = this.#buckets.length - 1
    for (let b = this.#bucket(hi, lo); ; b = (b + 1) & mask) {
      const slot = this.#buckets[b]!
      if (slot === 0) return false
      if (this.hiColumn[slot - 1] === hi && this.loColumn[slot - 1] === lo) return true
    }
  }

  /**
   * Appends the position of every entry whose key is (hi, lo) to `out`, made when the first
   * is found if not given; returns it.
   */
  collect(hi: number, lo: number, out: FramePosition[]): FramePosition[]
  collect(hi: number, lo: number, out?: FramePosition[]): FramePosition[] | undefined
  collect(hi: number, lo: number, out?: FramePosition[]): FramePosition[] | undefined {
    const mask = this.#buckets.length - 1
    for (let b = this.#bucket(hi, lo); ; b = (b + 1) & mask) {
      const slot = this.#buckets[b]!
      if (slot === 0) return out
      const e = slot - 1
      if (this.hiColumn[e] === hi && this.loColumn[e] === lo) {
        out ??= []
        out.push({ segment: this.segmentColumn[e]!, offset: this.offsetColumn[e]!, length: this.lengthColumn[e]! })
      }
    }
  }

  /** Forgets entries `count` and after (the blocks of a commit dropped on open). */
  truncate(count: number): void {
    if (count >= this.entries) return
    this.entries = count
    this.#rehash(this.#buckets.length)
  }

  #bucket(hi: number, lo: number): number {
    // Keys are digest bytes, already uniform for real hashes; the multiply spreads the rest.
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.#shift
  }

  #place(e: number): void {
    const mask = this.#buckets.length - 1
    let b = this.#bucket(this.hiColumn[e]!, this.loColumn[e]!)
    while (this.#buckets[b] !== 0) b = (b + 1) & mask
    this.#buckets[b] = e + 1
  }

  #rehash(size: number): void {
    this.#buckets = new Int32Array(size)
    this.#shift = 32 - Math.log2(size)
    for (let e = 0; e < this.entries; e++) this.#place(e)
  }
}
