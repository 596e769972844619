import type { CID } from 'multiformats/cid'

/** Multicodec codes of the block formats Cairn stores. */
export const DAG_CBOR = 0x71
export const RAW = 0x55
export const DAG_PB = 0x70
/** Multihash code of sha2-256, the only hash Cairn writes or accepts. */
export const SHA2_256 = 0x12

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
