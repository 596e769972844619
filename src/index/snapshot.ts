import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { equalBytes } from '../block/codec.ts'
import { sha256 } from '../block/hash.ts'
import { LogViews, type SparseViews, type ViewColumns } from './views.ts'

/**
 * The index snapshot: the views' columns in one buffer, so opening a store maps them in
 * place instead of replaying history. Derived data: never synced, rebuildable from blocks.
 *
 *   "CAIRNIX1" | u32 LE header length | header (dag-cbor) | zero padding to 8 |
 *   sections (typed-array bytes, each 8-aligned, little-endian) | sha2-256 of all before
 *
 * The header names the heads the snapshot covers, the string tables, the sparse parts, and
 * each section's offset and length. Typed arrays are little-endian as every engine we run
 * on is (checked at load: a big-endian host rebuilds instead).
 */
const MAGIC = new TextEncoder().encode('CAIRNIX1')
const FORMAT = 1
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** The name of the index snapshot among the engine's derived values. */
export const INDEX_SNAPSHOT = 'index'

interface Header {
  v: number
  heads: CID[]
  count: number
  streamNames: string[]
  typeNames: string[]
  sparse: SparseViews
  sections: [string, number, number][]
}

const SECTIONS = ['cidBytes', 'cidOffsets', 'ts', 'tc', 'stream', 'type', 'size', 'parentOffsets', 'parents', 'order', 'table', 'streamLists', 'streamListOffsets', 'typeLists', 'typeListOffsets'] as const
type SectionName = typeof SECTIONS[number]
const KINDS: Record<SectionName, new (buffer: ArrayBuffer, offset: number, length: number) => Uint8Array | Uint32Array | Float64Array | Int32Array> = {
  cidBytes: Uint8Array, cidOffsets: Uint32Array, ts: Float64Array, tc: Uint32Array, stream: Uint32Array, type: Uint32Array,
  size: Uint32Array, parentOffsets: Uint32Array, parents: Uint32Array, order: Uint32Array, table: Int32Array,
  streamLists: Uint32Array, streamListOffsets: Uint32Array, typeLists: Uint32Array, typeListOffsets: Uint32Array,
}

const pad8 = (n: number): number => (n + 7) & ~7

/** Encodes the views and the heads they cover. Synchronous copy, then one hash. */
export async function encodeSnapshot(views: LogViews, heads: readonly CID[]): Promise<Uint8Array> {
  const c = views.columns()
  const sections: [string, number, number][] = []
  let offset = 0
  for (const name of SECTIONS) {
    const len = c[name].byteLength
    sections.push([name, offset, len])
    offset = pad8(offset + len)
  }
  const header: Header = { v: FORMAT, heads: [...heads], count: c.count, streamNames: [...c.streamNames], typeNames: [...c.typeNames], sparse: c.sparse, sections }
  const head = dagCbor.encode(header)
  const base = pad8(MAGIC.length + 4 + head.length)
  const out = new Uint8Array(base + offset + 32)
  out.set(MAGIC, 0)
  new DataView(out.buffer).setUint32(MAGIC.length, head.length, true)
  out.set(head, MAGIC.length + 4)
  for (const [name, at, len] of sections) {
    const a = c[name as SectionName]
    out.set(new Uint8Array(a.buffer, a.byteOffset, len), base + at)
  }
  const digest = await sha256(out.subarray(0, out.length - 32))
  out.set(digest.digest, out.length - 32)
  return out
}

/** Decodes a snapshot; undefined when it is damaged, of another format, or from a big-endian host. */
export async function decodeSnapshot(bytes: Uint8Array): Promise<{ views: LogViews; heads: CID[] } | undefined> {
  if (!LITTLE_ENDIAN || bytes.length < MAGIC.length + 4 + 32 || !equalBytes(bytes.subarray(0, MAGIC.length), MAGIC)) return undefined
  const digest = await sha256(bytes.subarray(0, bytes.length - 32))
  if (!equalBytes(digest.digest, bytes.subarray(bytes.length - 32))) return undefined
  // Typed arrays need aligned offsets: copy once if the buffer does not start on 8 bytes.
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice()
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
    const columns = { ...arrays, count: header.count, streamNames: header.streamNames, typeNames: header.typeNames, sparse: header.sparse } as unknown as ViewColumns
    const heads = header.heads.map((h) => CID.asCID(h) ?? CID.decode(h as unknown as Uint8Array))
    return { views: LogViews.fromColumns(columns), heads }
  } catch {
    return undefined
  }
}
