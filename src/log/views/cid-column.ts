import { compareBytes } from '../../block/codec.ts'

/** Bytes every CID shares in the uniform layout: version, codec, hash code, digest length. */
const PREFIX = 4

/**
 * The CIDs of the indexed events, by arrival number, in one byte arena. Event CIDs are almost
 * always alike (CIDv1, dag-cbor, sha2-256: 4 bytes of prefix, then 32 of digest), so while
 * they are, only the digests are kept, at a fixed width: 32 bytes per event and no offsets.
 * The first CID that differs (another hash, another length) switches the column to variable
 * width with offsets, once.
 */
export class CidColumn {
  /** The shared prefix while uniform; undefined once variable. */
  #prefix: Uint8Array | undefined
  /** Stored bytes per CID while uniform. */
  #width = 0
  #bytes: Uint8Array = new Uint8Array(0)
  /** Variable layout only: CID `i` is bytes [offsets[i], offsets[i+1]). */
  #offsets: Uint32Array = new Uint32Array(1)
  #count = 0

  get uniform(): boolean {
    return this.#prefix !== undefined || this.#count === 0
  }

  /** Appends one CID's bytes; `capacity` is the caller's planned event count (for growth). */
  push(cid: Uint8Array, capacity: number): void {
    const n = this.#count
    if (n === 0 && cid.length >= PREFIX + 8) {
      this.#prefix = cid.slice(0, PREFIX)
      this.#width = cid.length - PREFIX
    }
    if (this.#prefix !== undefined && !this.#fits(cid)) this.#toVariable(capacity)
    if (this.#prefix !== undefined) {
      const w = this.#width
      if ((n + 1) * w > this.#bytes.length) this.#bytes = growBytes(this.#bytes, Math.max((n + 1) * w, capacity * w))
      this.#bytes.set(cid.subarray(PREFIX), n * w)
    } else {
      const at = this.#offsets[n]!
      if (n + 2 > this.#offsets.length) this.#offsets = growU32(this.#offsets, Math.max(n + 2, capacity + 1))
      if (at + cid.length > this.#bytes.length) this.#bytes = growBytes(this.#bytes, Math.max(at + cid.length, capacity * 38))
      this.#bytes.set(cid, at)
      this.#offsets[n + 1] = at + cid.length
    }
    this.#count = n + 1
  }

  /** The CID's bytes (a fresh array while uniform, a view otherwise). */
  full(seq: number): Uint8Array {
    if (this.#prefix === undefined) return this.#bytes.subarray(this.#offsets[seq]!, this.#offsets[seq + 1]!)
    const out = new Uint8Array(PREFIX + this.#width)
    out.set(this.#prefix, 0)
    out.set(this.#bytes.subarray(seq * this.#width, (seq + 1) * this.#width), PREFIX)
    return out
  }

  /** Whether the CID at `seq` has exactly these bytes. */
  equals(seq: number, cid: Uint8Array): boolean {
    if (this.#prefix === undefined) {
      const from = this.#offsets[seq]!
      const to = this.#offsets[seq + 1]!
      return cid.length === to - from && sameBytes(this.#bytes, from, to, cid, 0)
    }
    if (cid.length !== PREFIX + this.#width || !sameBytes(this.#prefix, 0, PREFIX, cid, 0)) return false
    return sameBytes(this.#bytes, seq * this.#width, (seq + 1) * this.#width, cid, PREFIX)
  }

  /** Byte order of two stored CIDs. */
  compare(a: number, b: number): number {
    if (this.#prefix === undefined) return compareBytes(this.full(a), this.full(b))
    const w = this.#width
    return compareBytes(this.#bytes.subarray(a * w, (a + 1) * w), this.#bytes.subarray(b * w, (b + 1) * w))
  }

  /** Byte order of a stored CID against given bytes. */
  compareTo(seq: number, cid: Uint8Array): number {
    if (this.#prefix === undefined) return compareBytes(this.full(seq), cid)
    const head = compareBytes(this.#prefix, cid.subarray(0, PREFIX))
    if (head !== 0) return head
    return compareBytes(this.#bytes.subarray(seq * this.#width, (seq + 1) * this.#width), cid.subarray(PREFIX))
  }

  /** FNV-1a of the last 8 bytes of the CID (its digest's tail): what the CID table hashes (see hashTail). */
  tailHash(seq: number): number {
    if (this.#prefix === undefined) return hashTail(this.#bytes, Math.max(this.#offsets[seq]!, this.#offsets[seq + 1]! - 8), this.#offsets[seq + 1]!)
    const end = (seq + 1) * this.#width
    return hashTail(this.#bytes, end - 8, end)
  }

  /** Forgets the CIDs from `count` on (an addition undone); the layout stays as it is. */
  truncate(count: number): void {
    if (count < this.#count) this.#count = count
  }

  /** Feeds the CID's bytes to a hash. */
  update(hash: { update(bytes: Uint8Array): unknown }, seq: number): void {
    if (this.#prefix === undefined) {
      hash.update(this.full(seq))
      return
    }
    hash.update(this.#prefix)
    hash.update(this.#bytes.subarray(seq * this.#width, (seq + 1) * this.#width))
  }

  /** The column as snapshot parts (views into live arrays). */
  parts(): CidColumnParts {
    const n = this.#count
    if (this.#prefix !== undefined) return { prefix: this.#prefix, width: this.#width, bytes: this.#bytes.subarray(0, n * this.#width), offsets: new Uint32Array(0) }
    return { prefix: undefined, width: 0, bytes: this.#bytes.subarray(0, this.#offsets[n]), offsets: this.#offsets.subarray(0, n + 1) }
  }

  static fromParts(parts: CidColumnParts, count: number): CidColumn {
    const c = new CidColumn()
    c.#count = count
    c.#bytes = parts.bytes
    if (parts.prefix !== undefined && count > 0) {
      c.#prefix = parts.prefix
      c.#width = parts.width
    } else if (count > 0) {
      c.#offsets = parts.offsets
    }
    return c
  }

  #fits(cid: Uint8Array): boolean {
    return cid.length === PREFIX + this.#width && sameBytes(this.#prefix!, 0, PREFIX, cid, 0)
  }

  #toVariable(capacity: number): void {
    const n = this.#count
    const bytes = new Uint8Array(Math.max(capacity, n + 1) * 38)
    const offsets = new Uint32Array(Math.max(capacity, n + 1) + 1)
    let at = 0
    for (let i = 0; i < n; i++) {
      const full = this.full(i)
      bytes.set(full, at)
      at += full.length
      offsets[i + 1] = at
    }
    this.#prefix = undefined
    this.#bytes = bytes
    this.#offsets = offsets
  }
}

/** What a snapshot stores of a CID column. */
export interface CidColumnParts {
  readonly prefix: Uint8Array | undefined
  readonly width: number
  readonly bytes: Uint8Array
  readonly offsets: Uint32Array
}

/** FNV-1a over `bytes[from, to)`: the CID table's hash of a CID's last 8 bytes, read in place (no view made per lookup). */
export function hashTail(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193)
  return h >>> 0
}

/** Whether a[from, to) equals b[at, at + to - from). */
function sameBytes(a: Uint8Array, from: number, to: number, b: Uint8Array, at: number): boolean {
  if (b.length < at + to - from) return false
  for (let i = from; i < to; i++) if (a[i] !== b[at + i - from]) return false
  return true
}

function growBytes(a: Uint8Array, cap: number): Uint8Array {
  const next = new Uint8Array(cap)
  next.set(a)
  return next
}

function growU32(a: Uint32Array, cap: number): Uint32Array {
  const next = new Uint32Array(cap)
  next.set(a)
  return next
}
