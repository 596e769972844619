import * as dagCbor from '@ipld/dag-cbor'
import type { PBNode } from '@ipld/dag-pb'
import * as cborg from 'cborg'
import { CID } from 'multiformats/cid'
import { CairnError } from '../errors/cairn-error.ts'
import { Digest } from 'multiformats/hashes/digest'
import { sha256Digest, sha256DigestSync, sha256DigestSyncInto } from './hash.ts'
import { DAG_CBOR, DAG_PB, RAW, SHA2_256, type Block } from './interface.ts'
import { assertIpld, MAX_DEPTH } from './validate.ts'

/**
 * Encodes an IPLD value as a strict dag-cbor block with a CIDv1/sha2-256.
 * Throws CAIRN_INVALID_VALUE (naming the path) for undefined, NaN, non-string keys and the like.
 *
 * @example
 * const block = encodeValue({ hello: 'world' })   // { cid, bytes, value }
 */
export function encodeValue<T>(value: T, path = 'value'): Block<T> {
  assertIpld(value, path)
  return encodeChecked(value, path)
}

/** `encodeValue` for a value whose parts were already checked by `assertIpld`. */
export function encodeChecked<T>(value: T, path = 'value'): Block<T> {
  let bytes: Uint8Array
  try {
    bytes = dagCbor.encode(value)
  } catch (cause) {
    throw new CairnError('CAIRN_INVALID_VALUE', `${path}: ${(cause as Error).message}`, { path, cause })
  }
  return { cid: sha256BlockCid(DAG_CBOR, bytes), bytes, value }
}

/** @ipld/dag-pb's decoder, once loadDagPb has loaded it. */
let dagPbDecode: ((bytes: Uint8Array) => PBNode) | undefined

/**
 * Loads the dag-pb decoder (UnixFS files and directories), which the first load of an app does
 * not carry. Every async path that may meet a dag-pb block calls it first — `verify` and
 * `decodeBlock` do on their own — so the synchronous `decodeTrusted`, `decodeCanonical`,
 * `blockLinks` can decode one afterwards. Resolves at once when loaded.
 */
export async function loadDagPb(): Promise<void> {
  dagPbDecode ??= (await import('@ipld/dag-pb')).decode
}

/**
 * Wraps bytes as a raw block (CIDv1, codec raw, sha2-256). Anything but a Uint8Array (a string,
 * an ArrayBuffer, an array of numbers) is a TypeError.
 *
 * @example
 * const { cid } = await encodeRaw(new TextEncoder().encode('hi'))   // bafkrei…: a CIDv1 with the raw codec
 */
export async function encodeRaw(bytes: Uint8Array): Promise<Block<Uint8Array>> {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`"bytes" expected a Uint8Array, got ${bytes === null ? 'null' : typeof bytes}`)
  return { cid: sha256Cid(RAW, await sha256Digest(bytes)), bytes, value: bytes }
}

/**
 * Checks that `bytes` hash to `cid` (sha2-256 only) and that the codec is one Cairn reads.
 * Throws CAIRN_INVALID_BLOCK naming the CID otherwise.
 *
 * @example
 * await verify(cid, bytes)   // resolves, or throws CairnError { code: 'CAIRN_INVALID_BLOCK', cid }
 */
export async function verify(cid: CID, bytes: Uint8Array): Promise<void> {
  checkFormat(cid)
  if (cid.code === DAG_PB) await loadDagPb()
  if (!equalBytes(await sha256Digest(bytes), cid.multihash.digest)) {
    throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} does not match its bytes`, { cid })
  }
}

/**
 * Synchronous `verify`, for small blocks on hot paths.
 *
 * @example
 * verifySync(block.cid, block.bytes)   // returns, or throws CairnError { code: 'CAIRN_INVALID_BLOCK', cid }
 */
export function verifySync(cid: CID, bytes: Uint8Array): void {
  checkFormat(cid)
  if (!equalBytes(sha256DigestSync(bytes), cid.multihash.digest)) {
    throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} does not match its bytes`, { cid })
  }
}

function checkFormat(cid: CID): void {
  if (cid.multihash.code !== SHA2_256) {
    throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} uses hash 0x${cid.multihash.code.toString(16)}; only sha2-256 is accepted`, { cid })
  }
  if (cid.code !== DAG_CBOR && cid.code !== RAW && cid.code !== DAG_PB) {
    throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} uses codec 0x${cid.code.toString(16)}; Cairn reads dag-cbor, dag-pb and raw`, { cid })
  }
}

/**
 * Verifies then decodes a block by its codec (dag-cbor value, dag-pb node, raw bytes).
 *
 * @example
 * const { value } = await decodeBlock<{ title: string }>(cid, bytes)
 */
export async function decodeBlock<T = unknown>(cid: CID, bytes: Uint8Array): Promise<Block<T>> {
  await verify(cid, bytes)
  return { cid, bytes, value: decodeTrusted<T>(cid, bytes) }
}

/** CIDs are decoded from slabs of this size (see cidFromBytes). */
const CID_SLAB = 64 * 1024
let cidSlab = new Uint8Array(CID_SLAB)
let cidSlabAt = 0

/**
 * A CID from `bytes[start, end)`, decoded from a copy in a shared 64 KiB slab. Small arrays
 * (a CID's few dozen bytes, as cborg hands a tag's bytes over, or as a column copies them out)
 * live on V8's heap, and multiformats asks each for its `.buffer`, forcing V8 to move it
 * off-heap: ~2 µs per CID. A view into a slab is off-heap already. A slab lives as long as any
 * CID in it.
 */
export function cidFromBytes(bytes: Uint8Array, start = 0, end: number = bytes.length): CID {
  if (start < 0 || end > bytes.length || end < start) throw new Error('Incorrect length')
  const n = end - start
  if (cidSlabAt + n > CID_SLAB) {
    cidSlab = new Uint8Array(Math.max(CID_SLAB, n))
    cidSlabAt = 0
  }
  const at = cidSlabAt
  for (let i = 0; i < n; i++) cidSlab[at + i] = bytes[start + i]!
  cidSlabAt += n
  return cidOver(cidSlab.subarray(at, at + n))
}

/**
 * The CIDv1 of a sha2-256 digest under `code` (a codec below 128: dag-cbor, dag-pb, raw), its
 * bytes written into the CID slab (see cidFromBytes).
 */
export function sha256Cid(code: number, digest: Uint8Array): CID {
  return slabCid(code, digest, undefined)
}

/**
 * The CIDv1 (sha2-256) of a block's `bytes` under `code` (below 128): `sha256Cid` with the
 * digest hashed straight into the CID slab.
 */
export function sha256BlockCid(code: number, bytes: Uint8Array): CID {
  return slabCid(code, undefined, bytes)
}

/** A sha2-256 CIDv1 written into the CID slab: `digest`, or that of `bytes`. */
function slabCid(code: number, digest: Uint8Array | undefined, bytes: Uint8Array | undefined): CID {
  if (cidSlabAt + 36 > CID_SLAB) {
    cidSlab = new Uint8Array(CID_SLAB)
    cidSlabAt = 0
  }
  const at = cidSlabAt
  if (digest === undefined) sha256DigestSyncInto(bytes!, cidSlab, at + 4)
  else cidSlab.set(digest, at + 4)
  cidSlab[at] = 1
  cidSlab[at + 1] = code
  cidSlab[at + 2] = SHA2_256
  cidSlab[at + 3] = 32
  cidSlabAt += 36
  return sha256CidOver(cidSlab.subarray(at, at + 36), code)
}

/**
 * The CIDv1 whose 36 bytes are `view`: `0x01` ‖ `code` (below 128) ‖ `0x12 0x20` ‖ a sha2-256
 * digest, the layout of every block Cairn writes. Built without CID.inspectBytes, whose varint
 * reads make a view and an array per field.
 */
function sha256CidOver(view: Uint8Array, code: number): CID {
  return new CID(1, code, new Digest(SHA2_256, 32, view.subarray(4), view.subarray(2)), view)
}

/**
 * A CID whose bytes are `view`, with CID.decode's checks. multiformats' decode builds a CIDv1's
 * bytes anew (a small array on V8's heap, which its `.buffer` check then moves off-heap, ~1 µs
 * per CID); this keeps the view, already off-heap in a slab.
 */
function cidOver(view: Uint8Array): CID {
  // A CIDv1 with a one-byte codec over a sha2-256 digest (the usual case): its layout is known.
  if (view.length === 36 && view[0] === 1 && view[1]! < 0x80 && view[2] === SHA2_256 && view[3] === 32) return sha256CidOver(view, view[1]!)
  const specs = CID.inspectBytes(view)
  if (specs.size !== view.length) throw new Error('Incorrect length')
  const multihash = view.subarray(specs.size - specs.multihashSize)
  const digest = new Digest(specs.multihashCode, specs.digestSize, multihash.subarray(specs.multihashSize - specs.digestSize), multihash)
  return specs.version === 0 ? CID.createV0(digest as Digest<typeof SHA2_256, number>) : new CID(1, specs.codec, digest, view)
}

/** Tag 42 as @ipld/dag-cbor decodes it (`0x00` ‖ CID bytes), through cidFromBytes. */
function cidFromTag(decode: () => unknown): CID {
  const bytes = decode() as Uint8Array
  if (!(bytes instanceof Uint8Array) || bytes[0] !== 0) throw new Error('Invalid CID for CBOR tag 42; expected leading 0x00')
  return cidFromBytes(bytes, 1)
}

const cidTags: cborg.TagDecoder[] = []
cidTags[42] = cidFromTag
/** @ipld/dag-cbor's decoding rules, with tag 42 decoded by cidFromTag. */
const DAG_CBOR_DECODE: cborg.DecodeOptions = { ...dagCbor.decodeOptions, tags: cidTags }

/**
 * Decodes bytes already known to match `cid`. Throws CAIRN_INVALID_BLOCK when the codec rejects
 * them. `depthChecked`: the caller already bounded the nesting (the import's canonical scan).
 * A dag-pb block needs loadDagPb first.
 */
export function decodeTrusted<T = unknown>(cid: CID, bytes: Uint8Array, depthChecked = false): T {
  if (!depthChecked && cid.code === DAG_CBOR && bytes.length > MAX_BLOCK_DEPTH && cborNestsDeeperThan(bytes, MAX_BLOCK_DEPTH)) {
    throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} nests maps and lists deeper than ${MAX_BLOCK_DEPTH} levels`, { cid })
  }
  if (cid.code === DAG_PB && dagPbDecode === undefined) {
    throw new Error(`cannot decode dag-pb block ${cid}: the dag-pb decoder is not loaded (await loadDagPb() first)`)
  }
  try {
    if (cid.code === DAG_CBOR) return cborg.decode(bytes, DAG_CBOR_DECODE) as T
    if (cid.code === DAG_PB) return dagPbDecode!(bytes) as T
    return bytes as T
  } catch (cause) {
    throw new CairnError('CAIRN_INVALID_BLOCK', `block ${cid} is not valid ${cid.code === DAG_PB ? 'dag-pb' : 'dag-cbor'}: ${(cause as Error).message}`, { cid, cause })
  }
}

/** Every CID a decoded value links to, depth first, in encounter order. */
export function* linksOf(cid: CID, value: unknown): Generator<CID> {
  if (cid.code === DAG_PB) {
    for (const link of (value as PBNode).Links) yield link.Hash
  } else if (cid.code === DAG_CBOR) {
    yield* linksIn(value)
  }
}

/** The CIDs a block's bytes (already verified) link to; none for raw blocks. */
export function blockLinks(cid: CID, bytes: Uint8Array): CID[] {
  return cid.code === DAG_CBOR || cid.code === DAG_PB ? [...linksOf(cid, decodeTrusted(cid, bytes))] : []
}

/**
 * Every CID inside an IPLD value, depth first, in encounter order (without recursion, so any depth is safe).
 *
 * @example
 * const links = [...linksInValue({ cover: photoCid, pages: [a, b] })]   // [photoCid, a, b]
 */
export function* linksInValue(value: unknown): Generator<CID> {
  yield* linksIn(value)
}

/**
 * `linksInValue` into an array (`out`, returned): the same CIDs in the same order, without a
 * generator.
 */
export function linksIn(value: unknown, out: CID[] = []): CID[] {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) continue
    const asCid = CID.asCID(v)
    if (asCid !== null) out.push(asCid)
    else {
      const children = Array.isArray(v) ? v : Object.values(v)
      for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
    }
  }
  return out
}

/**
 * Whether `value` holds a link: `linksIn(value).length > 0`, found without collecting them (no
 * array per map or list). For values within MAX_DEPTH levels (checked or decoded ones): it recurses.
 */
export function hasLinks(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return false
  if (CID.asCID(value) !== null) return true
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasLinks(value[i])) return true
    return false
  }
  for (const key in value) if (Object.hasOwn(value, key) && hasLinks((value as Record<string, unknown>)[key])) return true
  return false
}

/**
 * Levels of maps and lists a dag-cbor block may hold: a value's MAX_DEPTH plus the event
 * envelope around `data`. Deeper blocks are refused before decoding, whose recursion would
 * overflow the stack a few thousand levels down.
 */
export const MAX_BLOCK_DEPTH: number = MAX_DEPTH + 1

/**
 * Whether CBOR bytes nest arrays and maps deeper than `max`, read without decoding or
 * recursion. Malformed bytes answer false: the decoder then says what is wrong.
 */
export function cborNestsDeeperThan(bytes: Uint8Array, max: number): boolean {
  // Items still to read at each open level (maps count keys and values).
  const open: number[] = []
  let at = 0
  let items = 1
  while (at < bytes.length) {
    const first = bytes[at++]!
    const major = first >> 5
    const info = first & 31
    let n = info
    if (info === 24) n = bytes[at++] ?? 0
    else if (info === 25) {
      n = ((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0)
      at += 2
    } else if (info === 26) {
      n = (((bytes[at] ?? 0) << 24) >>> 0) + ((bytes[at + 1] ?? 0) << 16) + ((bytes[at + 2] ?? 0) << 8) + (bytes[at + 3] ?? 0)
      at += 4
    } else if (info === 27) {
      let big = 0
      for (let i = 0; i < 8; i++) big = big * 256 + (bytes[at + i] ?? 0)
      n = big
      at += 8
    } else if (info > 27) return false // indefinite lengths and reserved values: not dag-cbor
    items--
    if (major === 2 || major === 3) at += n
    else if (major === 4 || major === 5) {
      const count = major === 5 ? n * 2 : n
      if (count > 0) {
        open.push(items)
        if (open.length > max) return true
        items = count
        continue
      }
    } else if (major === 6) {
      items++
      continue
    } // a tag wraps one item at the same level
    while (items === 0 && open.length > 0) items = open.pop()!
    if (items === 0 && open.length === 0) return false
  }
  return false
}

/** Whether `bytes` are the canonical dag-cbor encoding of the value they decode to. */
export function isCanonicalDagCbor(bytes: Uint8Array, value: unknown): boolean {
  try {
    return equalBytes(dagCbor.encode(value), bytes)
  } catch {
    return false
  }
}

/** Byte-wise equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The chunks joined into one array; a single chunk comes back as it is. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Byte-wise lexicographic comparison, the tie-break of Cairn's canonical order. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.length - b.length
}
