// The block table's on-disk format: page layout, checksums, constants. The block table is the
// files engine's index, persisted so that opening a store reads a small part of one file
// instead of scanning every segment. Engine-internal, rebuildable from the segments. The
// entries stay on disk: memory holds the first key of every page (the fence), a Bloom filter
// of the keys and a small LRU cache of pages; a lookup is a binary search of the fence and
// one page read (usually), verified by the page's checksum.
//
// Layout, in pages of 4096 bytes (all integers little-endian):
//   page 0, the header:
//     0    8   magic "CAIRNBT2"
//     8    4   format (2)
//     12   4   entry count n
//     16   4   covered segment number
//     20   4   covered end: offset just past the last commit record the table covers
//     24   4   start of that commit record's frame
//     28   4   page size (4096)
//     32   32  sha2-256 of that record frame's bytes
//     64   4   entries per page e (204)
//     68   4   skip count s
//     72   4   filter words w
//     76   4   zero
//     80   32  sha2-256 of header bytes [0, 80) followed by the whole meta section
//     112  ... zero
//   pages 1..m, m = ceil(n / e): the entries sorted by key, e per page (the last page may
//     have fewer), 20 bytes each: key high, key low, segment, frame offset, frame length
//     (tail-index.ts); then zeros; the page's last 4 bytes are a checksum of the rest of
//     it (pageSum), so a damaged page is caught when it is read, without reading the whole
//     file on open
//   the meta section, right after the last page:
//     8m   fence: the key (high, low) of each page's first entry
//     8s   skip: (segment, frame offset) of every block frame in the covered bytes that the
//          table does not index (a later copy of a block stored before), ascending
//     4w   key filter (key-filter.ts)
//
// The table indexes exactly the blocks committed up to the covered position; a store opening
// with it scans only the segment bytes after that. Opening reads the header and the meta
// section (about 1.3 bytes per entry) and checks its digest; pages are read on demand.
// Rewriting a table streams the old one's pages into the new file, merged with the sorted
// tail, so neither the old entries nor the new ones are ever all in memory.
//
// Reading a table (open, lookups, the cursor of a rewrite) is in reader.ts, writing one in
// writer.ts; both take the layout from here.
import { ENTRY_BYTES } from '../tail-index.ts'
import { fmix } from './key-filter.ts'

/** File name of the block table inside the store folder. */
export const TABLE_FILE = 'blocks.table'

/** The header's first 8 bytes. */
export const MAGIC: Uint8Array = new TextEncoder().encode('CAIRNBT2')
/** The format number in the header; a table of another format is ignored (and rewritten). */
export const FORMAT = 2
/** Bytes of a page, on disk and in the cache. */
export const PAGE_BYTES = 4096
/** Entries per page: as many as fit before the checksum. */
export const PAGE_ENTRIES: number = Math.floor((PAGE_BYTES - 4) / ENTRY_BYTES)
/** Byte offsets of the header's fields in page 0 (see the layout above). */
export const HEADER = {
  magic: 0,
  format: 8,
  count: 12,
  coverSegment: 16,
  coverEnd: 20,
  coverRecordStart: 24,
  pageBytes: 28,
  recordDigest: 32,
  perPage: 64,
  skipCount: 68,
  filterWords: 72,
  metaDigest: 80,
} as const
/** Header bytes the meta digest covers (it sits right after them). */
export const HEADED: number = HEADER.metaDigest
/** Pages read or written at a time when a table is rewritten. */
export const CHUNK_PAGES = 64

/** The commit a table covers: it indexes every block up to the end of this record. */
export interface TableCover {
  readonly segment: number
  /** Start of the record's frame. */
  readonly recordStart: number
  /** Offset just past the record's frame. */
  readonly end: number
  /** sha2-256 of the record frame's bytes: ties the table to these segments, not to others of the same length. */
  readonly recordDigest: Uint8Array
}

/** A page of the table that cannot be used: it fails its checksum, or cannot be read. */
export class TableDamage extends Error {
  override readonly name = 'TableDamage'
}

/** Frame positions as one number (segment · 2^32 + offset), as the skip list holds them. */
export const framePosition = (segment: number, offset: number): number => segment * 2 ** 32 + offset

/** Checksum of a page's first PAGE_BYTES - 4 bytes: murmur3-style over its words, seeded with its place in the table. */
export function pageSum(view: DataView, at: number, seed: number): number {
  let h = seed | 0
  for (let i = at; i < at + PAGE_BYTES - 4; i += 4) {
    let k = Math.imul(view.getUint32(i, true), 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  return fmix(h ^ PAGE_BYTES)
}

/** The seed of page `page` (1-based, as in the file) of a table of `count` entries: a page read from the wrong place fails. */
export const pageSeed = (page: number, count: number): number => Math.imul(page, 0x9e3779b1) ^ count

/** True when key (aHi, aLo) sorts before key (bHi, bLo): the table's order. */
export const less = (aHi: number, aLo: number, bHi: number, bLo: number): boolean => aHi < bHi || (aHi === bHi && aLo < bLo)
