import type { CID } from 'multiformats/cid'
import type { Sha256Stream } from '../../block/hash.ts'
import type { EventBlock } from '../event/interface.ts'
import { CidColumn, type CidColumnParts, hashTail } from './cid-column.ts'

/** An event to add, with the byte length of its block. */
export interface NewEvent {
  readonly cid: CID
  readonly event: EventBlock
  readonly size: number
}

/** A position in the canonical order `(ts, tc, CID bytes)`: an event's, or one given by a caller. */
export interface OrderKey {
  readonly ts: number
  readonly tc: number
  readonly cid: Uint8Array
}

/** The event columns as a snapshot holds them (typed arrays are views into the live ones). */
export interface EventColumnParts {
  readonly count: number
  readonly cids: CidColumnParts
  readonly ts: Float64Array
  readonly tc: Uint32Array
  readonly stream: Uint32Array
  readonly type: Uint32Array
  readonly parent: Uint32Array
  readonly table: Int32Array
  readonly eventBytes: number
  /** Events with several parents: arrival number → every parent's. */
  readonly parents: [number, number[]][]
  /** Events whose `tc` is TC_BIG or more: arrival number → tc. */
  readonly bigTc: [number, number][]
}

/** `tc` values from here up (any safe integer is valid, but real ones are small) live in a map. */
const TC_BIG = 0xffffffff

/** `parent` of an event without parents (the log's first events). */
const NO_PARENT = 0xffffffff
const NO_PARENTS = new Uint32Array(0)

/**
 * One row per event, by arrival number `seq` (0, 1, …): CID bytes, ts, tc, stream and type
 * ids, parents (as arrival numbers), and an open-addressing table from CIDs to arrival
 * numbers. A few dozen bytes per event, whatever its payload. Knows the canonical order
 * `(ts, tc, CID bytes)` between rows; the stream and type ids are given by the caller.
 */
export class EventColumns {
  #count = 0
  #cap = 0
  #cids = new CidColumn()
  #ts: Float64Array = new Float64Array(0)
  /** HLC counters below TC_BIG; larger ones (any safe integer is valid) are kept aside. */
  #tc: Uint32Array = new Uint32Array(0)
  readonly #bigTc = new Map<number, number>()
  #stream: Uint32Array = new Uint32Array(0)
  #type: Uint32Array = new Uint32Array(0)
  #parent: Uint32Array = new Uint32Array(0)
  /** Every parent of the events that have more than one. */
  readonly #merges = new Map<number, Uint32Array>()
  #table: Int32Array = new Int32Array(16)
  #eventBytes = 0

  /** Number of events. */
  get count(): number {
    return this.#count
  }

  /** Sum of the event blocks' sizes. */
  get eventBytes(): number {
    return this.#eventBytes
  }

  /** Arrival number of the event with these CID bytes, or -1. */
  seqOf(bytes: Uint8Array): number {
    const mask = this.#table.length - 1
    for (let i = hashTail(bytes, Math.max(0, bytes.length - 8), bytes.length) & mask; ; i = (i + 1) & mask) {
      const v = this.#table[i]!
      if (v === 0) return -1
      if (this.#cids.equals(v - 1, bytes)) return v - 1
    }
  }

  cidBytes(seq: number): Uint8Array {
    return this.#cids.full(seq)
  }

  ts(seq: number): number {
    return this.#ts[seq]!
  }

  tc(seq: number): number {
    const tc = this.#tc[seq]!
    return tc === TC_BIG ? this.#bigTc.get(seq)! : tc
  }

  streamId(seq: number): number {
    return this.#stream[seq]!
  }

  typeId(seq: number): number {
    return this.#type[seq]!
  }

  /** Arrival numbers of the event's parents (a view: do not keep across changes). */
  parents(seq: number): Uint32Array {
    const p = this.#parent[seq]!
    if (p === NO_PARENT) return NO_PARENTS
    return this.#merges.get(seq) ?? this.#parent.subarray(seq, seq + 1)
  }

  /** Canonical order between two events. */
  readonly compare = (a: number, b: number): number => this.#ts[a]! - this.#ts[b]! || this.tc(a) - this.tc(b) || this.#cids.compare(a, b)

  /** Canonical order between an event and a position key. */
  compareKey(seq: number, key: OrderKey): number {
    return this.#ts[seq]! - key.ts || this.tc(seq) - key.tc || this.#cids.compareTo(seq, key.cid)
  }

  /** Feeds the event's CID bytes to a hash. */
  hashCid(state: Sha256Stream, seq: number): void {
    this.#cids.update(state, seq)
  }

  /**
   * Appends a row for an event whose parents are all rows already (`parents`, their arrival
   * numbers in the event's order); returns its arrival number.
   */
  push(item: NewEvent, streamId: number, typeId: number, parents: readonly number[]): number {
    const seq = this.#count
    const event = item.event
    this.#ensure(seq + 1)
    this.#cids.push(item.cid.bytes, this.#cap)
    this.#ts[seq] = event.ts
    this.#tc[seq] = Math.min(event.tc, TC_BIG)
    if (event.tc >= TC_BIG) this.#bigTc.set(seq, event.tc)
    this.#stream[seq] = streamId
    this.#type[seq] = typeId
    this.#eventBytes += item.size
    this.#parent[seq] = parents[0] ?? NO_PARENT
    if (parents.length > 1) this.#merges.set(seq, Uint32Array.from(parents))
    this.#count = seq + 1
    this.#tableInsert(seq)
    return seq
  }

  /**
   * Removes the rows from `count` on, pushed since the columns had `count` rows (an addition
   * refused part-way), `bytes` being the sum of their sizes. Their table slots are emptied: each
   * took a slot that was empty before it, so the table is again what it was (linear probing).
   */
  truncate(count: number, bytes: number): void {
    const mask = this.#table.length - 1
    for (let seq = this.#count - 1; seq >= count; seq--) {
      let i = this.#cids.tailHash(seq) & mask
      while (this.#table[i] !== seq + 1) i = (i + 1) & mask
      this.#table[i] = 0
      this.#merges.delete(seq)
      this.#bigTc.delete(seq)
    }
    this.#cids.truncate(count)
    this.#eventBytes -= bytes
    this.#count = count
  }

  #ensure(count: number): void {
    if (count > this.#cap) {
      const cap = Math.max(64, this.#cap < 1 << 20 ? this.#cap * 2 : this.#cap + (this.#cap >> 2), count)
      this.#ts = grow(this.#ts, cap)
      this.#tc = grow(this.#tc, cap)
      this.#stream = grow(this.#stream, cap)
      this.#type = grow(this.#type, cap)
      this.#parent = grow(this.#parent, cap)
      this.#cap = cap
    }
    // Linear probing stays short below 70% load; the table costs 4 bytes per slot.
    if (count > this.#table.length * 0.7) this.#rehash(count * 2)
  }

  #rehash(min: number): void {
    let size = this.#table.length
    while (size < min) size *= 2
    this.#table = new Int32Array(size)
    for (let seq = 0; seq < this.#count; seq++) this.#tableInsert(seq)
  }

  #tableInsert(seq: number): void {
    const mask = this.#table.length - 1
    let i = this.#cids.tailHash(seq) & mask
    while (this.#table[i] !== 0) i = (i + 1) & mask
    this.#table[i] = seq + 1
  }

  /** The columns (views into live arrays: encode them before the next change). */
  parts(): EventColumnParts {
    const n = this.#count
    return {
      count: n,
      cids: this.#cids.parts(),
      ts: this.#ts.subarray(0, n),
      tc: this.#tc.subarray(0, n),
      stream: this.#stream.subarray(0, n),
      type: this.#type.subarray(0, n),
      parent: this.#parent.subarray(0, n),
      table: this.#table,
      eventBytes: this.#eventBytes,
      parents: [...this.#merges].map(([seq, ps]) => [seq, [...ps]]),
      bigTc: [...this.#bigTc],
    }
  }

  /** Columns over snapshot parts: the typed arrays are used in place, copied only as they grow. */
  static fromParts(p: EventColumnParts): EventColumns {
    const c = new EventColumns()
    const n = p.count
    c.#count = n
    c.#cap = n
    c.#cids = CidColumn.fromParts(p.cids, n)
    c.#ts = p.ts
    c.#tc = p.tc
    c.#stream = p.stream
    c.#type = p.type
    c.#parent = p.parent
    c.#table = p.table
    c.#eventBytes = p.eventBytes
    for (const [seq, ps] of p.parents) c.#merges.set(seq, Uint32Array.from(ps))
    for (const [seq, tc] of p.bigTc) c.#bigTc.set(seq, tc)
    return c
  }
}

type Typed = Uint8Array | Uint32Array | Float64Array | Int32Array
function grow<T extends Typed>(a: T, cap: number): T {
  const next = new (a.constructor as new (n: number) => T)(cap)
  next.set(a as never)
  return next
}
