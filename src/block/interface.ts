import type { CID } from 'multiformats/cid'

/** Multicodec codes of the block formats Cairn stores. */
export const DAG_CBOR = 0x71
export const RAW = 0x55
export const DAG_PB = 0x70
/** Multihash code of sha2-256, the only hash Cairn writes or accepts. */
export const SHA2_256 = 0x12

/**
 * Bytes that own their buffer exactly, for an engine that keeps or persists them: `bytes` when
 * they do, else a copy. Structured clone (IndexedDB) copies a view's whole underlying buffer, and
 * an engine holding a view keeps all of it alive, so a block that is a window into a bigger buffer
 * (a CAR chunk, an import's slab) is copied down to its own bytes first.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice()
}

/**
 * A block: its CID and its encoded bytes.
 *
 * @example
 * for await (const { cid, bytes } of storage.blocks()) await verify(cid, bytes)
 */
export interface BlockRecord {
  readonly cid: CID
  readonly bytes: Uint8Array
}

/**
 * A block with its decoded value.
 *
 * @example
 * const { cid, bytes, value } = encodeValue({ hello: 'world' })
 */
export interface Block<T = unknown> extends BlockRecord {
  readonly value: T
}
