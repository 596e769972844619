import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { equalBytes } from '../../block/codec.ts'
import type { SparseViews, ViewColumns } from './views.ts'

/**
 * The index snapshot's byte format, loaded on first use (snapshot.ts): the views' columns in one buffer, so opening a store maps them in
 * place instead of replaying history. Derived data: never synced, rebuildable from blocks.
 *
 *   "CAIRNIX1" | u32 LE header length | header (dag-cbor) | zero padding to 8 |
 *   sections (typed-array bytes, each 8-aligned, little-endian) | checksum (8 bytes) of all before
 *
 * The header names the heads the snapshot covers, the string tables, the sparse parts, and
 * each section's offset and length. Typed arrays are little-endian as every engine we run
 * on is (checked at load: a big-endian host rebuilds instead).
 *
 * The checksum catches torn and damaged files, not tampering (the snapshot never leaves the
 * device and every event block it leads to is verified against its CID when read). It is a
 * two-lane multiply-xor hash over 32-bit words: ~20× faster than sha2-256 in JS, and unlike
 * WebCrypto it does not copy a 100 MB buffer (which would stay in the process's RSS).
 */
const MAGIC = new TextEncoder().encode('CAIRNIX1')
const FORMAT = 3
const CHECKSUM = 8
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

interface Header {
  v: number
  heads: CID[]
  count: number
  eventBytes: number
  /** The CID column's shared prefix while uniform (null when variable) and its stored width. */
  cidPrefix: Uint8Array | null
  cidWidth: number
  orderIsArrival: boolean
  streamNames: string[]
  typeNames: string[]
  sparse: SparseViews
  sections: [string, number, number][]
}

const SECTIONS = ['cidBytes', 'cidOffsets', 'ts', 'tc', 'stream', 'type', 'parent', 'order', 'table', 'streamLists', 'streamListOffsets', 'typeLists', 'typeListOffsets'] as const
type SectionName = (typeof SECTIONS)[number]
type Section = Uint8Array | Uint32Array | Float64Array | Int32Array
const KINDS: Record<SectionName, new (buffer: ArrayBuffer, offset: number, length: number) => Section> = {
  cidBytes: Uint8Array,
  cidOffsets: Uint32Array,
  ts: Float64Array,
  tc: Uint32Array,
  stream: Uint32Array,
  type: Uint32Array,
  parent: Uint32Array,
  order: Uint32Array,
  table: Int32Array,
  streamLists: Uint32Array,
  streamListOffsets: Uint32Array,
  typeLists: Uint32Array,
  typeListOffsets: Uint32Array,
}

/** The typed arrays of the columns, by section name. */
function sectionsOf(c: ViewColumns): Record<SectionName, Section> {
  return {
    cidBytes: c.cids.bytes,
    cidOffsets: c.cids.offsets,
    ts: c.ts,
    tc: c.tc,
    stream: c.stream,
    type: c.type,
    parent: c.parent,
    order: c.order,
    table: c.table,
    streamLists: c.streamLists,
    streamListOffsets: c.streamListOffsets,
    typeLists: c.typeLists,
    typeListOffsets: c.typeListOffsets,
  }
}

const pad8 = (n: number): number => (n + 7) & ~7

/** Encodes the views' columns (`LogViews.columns()`) and the heads they cover, synchronously: the columns are live. */
export function encodeColumns(c: ViewColumns, heads: readonly CID[]): Uint8Array {
  const arrays = sectionsOf(c)
  const sections: [string, number, number][] = []
  let offset = 0
  for (const name of SECTIONS) {
    const len = arrays[name].byteLength
    sections.push([name, offset, len])
    offset = pad8(offset + len)
  }
  const header: Header = {
    v: FORMAT,
    heads: [...heads],
    count: c.count,
    eventBytes: c.eventBytes,
    cidPrefix: c.cids.prefix ?? null,
    cidWidth: c.cids.width,
    orderIsArrival: c.orderIsArrival,
    streamNames: [...c.streamNames],
    typeNames: [...c.typeNames],
    sparse: c.sparse,
    sections,
  }
  const head = dagCbor.encode(header)
  const base = pad8(MAGIC.length + 4 + head.length)
  const out = new Uint8Array(base + offset + CHECKSUM)
  out.set(MAGIC, 0)
  new DataView(out.buffer).setUint32(MAGIC.length, head.length, true)
  out.set(head, MAGIC.length + 4)
  for (const [name, at, len] of sections) {
    const a = arrays[name as SectionName]
    out.set(new Uint8Array(a.buffer, a.byteOffset, len), base + at)
  }
  out.set(checksum(out.subarray(0, out.length - CHECKSUM)), out.length - CHECKSUM)
  return out
}

/**
 * Decodes a snapshot into columns for `LogViews.fromColumns` (the table a copy of its own) and
 * the heads they cover; undefined when it is damaged, of another format, or from a big-endian host.
 */
export function decodeColumns(bytes: Uint8Array): { columns: ViewColumns; heads: CID[] } | undefined {
  if (!LITTLE_ENDIAN || bytes.length < MAGIC.length + 4 + CHECKSUM || !equalBytes(bytes.subarray(0, MAGIC.length), MAGIC)) return undefined
  // Typed arrays need aligned offsets: copy once if the buffer does not start on 8 bytes.
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice()
  if (!equalBytes(checksum(bytes.subarray(0, bytes.length - CHECKSUM)), bytes.subarray(bytes.length - CHECKSUM))) return undefined
  try {
    const headLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true)
    const header = dagCbor.decode<Header>(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + headLength))
    if (header.v !== FORMAT) return undefined
    const base = pad8(MAGIC.length + 4 + headLength)
    const arrays = {} as Record<SectionName, Uint8Array | Uint32Array | Float64Array | Int32Array>
    for (const [name, at, len] of header.sections) {
      const Kind = KINDS[name as SectionName]
      if (Kind === undefined) return undefined
      const width = (Kind as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT
      arrays[name as SectionName] = new Kind(bytes.buffer as ArrayBuffer, bytes.byteOffset + base + at, len / width)
    }
    for (const name of SECTIONS) if (arrays[name] === undefined) return undefined
    const columns: ViewColumns = {
      count: header.count,
      cids: { prefix: header.cidPrefix ?? undefined, width: header.cidWidth, bytes: arrays.cidBytes as Uint8Array, offsets: arrays.cidOffsets as Uint32Array },
      ts: arrays.ts as Float64Array,
      tc: arrays.tc as Uint32Array,
      stream: arrays.stream as Uint32Array,
      type: arrays.type as Uint32Array,
      parent: arrays.parent as Uint32Array,
      order: arrays.order as Uint32Array,
      orderIsArrival: header.orderIsArrival,
      table: arrays.table as Int32Array,
      streamLists: arrays.streamLists as Uint32Array,
      streamListOffsets: arrays.streamListOffsets as Uint32Array,
      typeLists: arrays.typeLists as Uint32Array,
      typeListOffsets: arrays.typeListOffsets as Uint32Array,
      eventBytes: header.eventBytes,
      streamNames: header.streamNames,
      typeNames: header.typeNames,
      sparse: header.sparse,
    }
    const heads = header.heads.map((h) => CID.asCID(h) ?? CID.decode(h as unknown as Uint8Array))
    if (heads.length === 0 || !consistent(columns)) return undefined
    // The table is written in place by later inserts: give the views their own copy, so the
    // engine's buffer (which it may cache) stays as stored.
    return { columns: { ...columns, table: columns.table.slice() }, heads }
  } catch {
    return undefined
  }
}

/** Two 32-bit multiply-xor lanes over the bytes (see the module comment); 8 bytes out. */
function checksum(bytes: Uint8Array): Uint8Array {
  let a = 0x9e3779b9 ^ bytes.length
  let b = 0x85ebca6b
  const words = bytes.byteOffset % 4 === 0 ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2) : new Uint32Array(bytes.slice(0, bytes.length & ~3).buffer)
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    a = Math.imul(a ^ w, 0x01000193)
    b = Math.imul((b ^ w) + (a >>> 15), 0xcc9e2d51)
  }
  for (let i = words.length * 4; i < bytes.length; i++) a = Math.imul(a ^ bytes[i]!, 0x01000193)
  const out = new Uint8Array(8)
  const view = new DataView(out.buffer)
  view.setUint32(0, a >>> 0, true)
  view.setUint32(4, b >>> 0, true)
  return out
}

/**
 * Whether decoded columns are shaped as the views need: the checksum catches damage, this
 * catches a snapshot that a buggy or foreign writer made well-formed but wrong (sizes, ids
 * and arrival numbers out of range, a CID table that could not terminate a probe).
 */
function consistent(c: ViewColumns): boolean {
  const n = c.count
  const below = (a: ArrayLike<number>, limit: number): boolean => {
    for (let i = 0; i < a.length; i++) if (!(a[i]! < limit)) return false
    return true
  }
  const offsetsOk = (offsets: Uint32Array, entries: number, total: number): boolean => {
    if (offsets.length !== entries + 1 || offsets[0] !== 0 || offsets[entries] !== total) return false
    for (let i = 0; i < entries; i++) if (offsets[i]! > offsets[i + 1]!) return false
    return true
  }
  if (!Number.isSafeInteger(n) || n < 1 || n >= 0xffffffff || !Number.isSafeInteger(c.eventBytes)) return false
  if (c.ts.length !== n || c.tc.length !== n || c.stream.length !== n || c.type.length !== n || c.parent.length !== n) return false
  const cids = c.cids
  if (cids.prefix !== undefined) {
    if (!(cids.prefix instanceof Uint8Array) || cids.prefix.length !== 4 || !Number.isSafeInteger(cids.width) || cids.width < 8 || cids.bytes.length !== n * cids.width) return false
  } else if (!offsetsOk(cids.offsets, n, cids.bytes.length)) return false
  const t = c.table
  if (t.length < 16 || (t.length & (t.length - 1)) !== 0 || n > t.length * 0.7) return false
  for (let i = 0; i < t.length; i++) if (t[i]! < 0 || t[i]! > n) return false
  if (c.orderIsArrival ? c.order.length !== 0 : c.order.length !== n || !below(c.order, n)) return false
  const streams = c.streamNames.length
  const types = c.typeNames.length
  if (!below(c.stream, streams) || !below(c.type, types)) return false
  for (let i = 0; i < n; i++) if (c.parent[i]! !== 0xffffffff && c.parent[i]! >= n) return false
  if (!offsetsOk(c.streamListOffsets, streams, c.streamLists.length) || !below(c.streamLists, n)) return false
  if (!offsetsOk(c.typeListOffsets, types, c.typeLists.length) || !below(c.typeLists, n)) return false
  if (c.streamLists.length !== n || c.typeLists.length !== n) return false
  const sp = c.sparse
  const seqOk = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) < n
  for (const [, list] of [...sp.correlations, ...sp.causations]) if (!list.every(seqOk)) return false
  for (const [sid, ids] of sp.ids) if (!(sid < streams) || !ids.every(([, seq]) => seqOk(seq))) return false
  for (const [seq, ps] of sp.parents) if (!seqOk(seq) || !ps.every(seqOk)) return false
  for (const [seq] of sp.bigTc) if (!seqOk(seq)) return false
  if (!sp.linking.every(seqOk)) return false
  for (const o of sp.objects) if (!seqOk(o[3])) return false
  return true
}
