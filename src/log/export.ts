import { CID } from 'multiformats/cid'
import { CidSet } from '../block/cid-map.ts'
import { Digest } from 'multiformats/hashes/digest'
import { blockLinks, decodeTrusted } from '../block/codec.ts'
import type { BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { LogViews } from './views/views.ts'
import type { EventBlock } from './event/interface.ts'
import { OBJECTS_STREAM, OBJECT_PUT } from './event/object-record.ts'
import { eventLinks, type EventLinks } from './event/links.ts'
import type { StorageEngine } from '../storage/interface.ts'
import { newEvents } from './new-events.ts'

/**
 * Every block reachable from `heads` and not from `since`, in batches: the new events, then the objects,
 * files and linked values they reach, minus any block an event of the peer's side also
 * reaches (found by walking the containment index upwards, so shared file chunks and
 * re-put objects are not sent twice). `horizon` is the views' size when the export was asked
 * for: events that arrive while it streams are neither ours nor the peer's.
 */
export async function* diffBlocks(views: LogViews, storage: StorageEngine, heads: readonly CID[], since: readonly CID[], horizon: number, unindexed: (cid: CID) => boolean = () => false): AsyncGenerator<BlockRecord[]> {
  const events = newEvents(views, heads, since)
  // Which events are ours, marked on first need (only the peer check below asks).
  let ours: Uint8Array | undefined
  const isOurs = (seq: number): boolean => {
    if (ours === undefined) {
      ours = new Uint8Array(views.size)
      for (const s of events) ours[s] = 1
    }
    return ours[seq] === 1
  }
  const isObjectPut = (seq: number): boolean => views.streamOf(seq) === OBJECTS_STREAM && views.typeOf(seq) === OBJECT_PUT
  const memo = new Map<string, boolean>()
  const reachedByPeer = (key: string): boolean => {
    const known = memo.get(key)
    if (known !== undefined) return known
    memo.set(key, false)
    let result = false
    for (const c of views.containers(key) ?? []) {
      // Only blocks are memoized (never events), so a memo hit needs no CID lookup.
      const memoized = memo.get(c)
      if (memoized !== undefined) {
        if (memoized) {
          result = true
          break
        }
        continue
      }
      const seq = views.seqOf(CID.parse(c))
      // Only an object record proves the peer holds a block: imports check those DAGs are
      // complete, while links in event data may point at nothing.
      const held = seq >= 0 ? isObjectPut(seq) && !isOurs(seq) && seq < horizon : reachedByPeer(c)
      if (held) {
        result = true
        break
      }
    }
    memo.set(key, result)
    return result
  }
  // The events, read in batches (one storage request each) and handed on a batch at a time.
  // Object puts and events whose data links somewhere are decoded on the way and only their
  // roots kept, so memory stays flat.
  const walk: EventLinks[] = []
  const eventCids = new EventCids(views)
  const read = (from: number): { seqs: number[]; cids: CID[]; blocks: Promise<(Uint8Array | undefined)[]> } => {
    const seqs = events.slice(from, from + READ_BATCH)
    const cids = seqs.map((s) => eventCids.cid(s))
    return { seqs, cids, blocks: readAhead(getMany(storage, cids)) }
  }
  // The next batch is read while this one is handed on.
  let next = events.length > 0 ? read(0) : undefined
  for (let i = 0; next !== undefined; i += READ_BATCH) {
    const { seqs, cids } = next
    const blocks = await next.blocks
    next = i + READ_BATCH < events.length ? read(i + READ_BATCH) : undefined
    const batch: BlockRecord[] = new Array(seqs.length)
    for (let k = 0; k < seqs.length; k++) {
      const cid = cids[k]!
      const bytes = blocks[k]
      if (bytes === undefined) throw new CairnError('CAIRN_CORRUPT', `event ${cid} is missing from storage`, { cid })
      batch[k] = { cid, bytes }
      if (isObjectPut(seqs[k]!) || views.isLinking(seqs[k]!) || unindexed(cid)) walk.push(eventLinks(decodeTrusted<EventBlock>(cid, bytes)))
    }
    yield batch
  }
  // The objects, files and linked values, depth first. When a block has not been read yet,
  // it is read together with the next ones on the stack (the walk takes them next unless
  // this block's links come first), at most READ_AHEAD blocks waiting at any time.
  const sent = new Set<string>()
  const ahead = new Map<string, Promise<Uint8Array | undefined>>()
  let batch: BlockRecord[] = []
  let batchBytes = 0
  for (const { roots, object: objectPut } of walk) {
    const stack = roots.map((cid) => ({ cid, key: cid.toString() }))
    const wanted = (e: { cid: CID; key: string }): boolean => !sent.has(e.key) && !views.has(e.cid) && !reachedByPeer(e.key)
    while (stack.length > 0) {
      const entry = stack.pop()!
      const { cid, key } = entry
      if (sent.has(key) || views.has(cid)) continue
      sent.add(key)
      if (reachedByPeer(key)) continue
      let pending = ahead.get(key)
      if (pending === undefined) {
        const next = [cid]
        const keys = [key]
        const last = Math.max(0, stack.length - 4 * READ_AHEAD) // looks a bounded way down
        for (let j = stack.length - 1; j >= last && ahead.size + next.length < READ_AHEAD; j--) {
          const e = stack[j]!
          if (!ahead.has(e.key) && !keys.includes(e.key) && wanted(e)) {
            next.push(e.cid)
            keys.push(e.key)
          }
        }
        const blocks = getMany(storage, next)
        for (let k = 1; k < keys.length; k++) ahead.set(keys[k]!, readAhead(blocks.then((b) => b[k])))
        pending = blocks.then((b) => b[0])
      } else ahead.delete(key)
      const block = await pending
      if (block === undefined) {
        if (objectPut) throw new CairnError('CAIRN_CORRUPT', `block ${cid} of object ${roots[0]} is missing from storage`, { cid })
        continue // a dangling app link: nothing to send
      }
      batch.push({ cid, bytes: block })
      batchBytes += block.length
      if (batch.length >= READ_BATCH || batchBytes >= WALK_BATCH_BYTES) {
        yield batch
        batch = []
        batchBytes = 0
      }
      for (const link of blockLinks(cid, block)) stack.push({ cid: link, key: link.toString() })
    }
  }
  if (batch.length > 0) yield batch
}

/**
 * Every block reachable from `roots` through links (dag-cbor and dag-pb links; raw blocks have
 * none), each once, depth first from the first root, in batches: the DAG of one or more
 * objects, files or events, whatever the log records about them. A root storage does not hold
 * is CAIRN_NOT_FOUND, thrown before the first batch; a block missing further down (a dangling
 * link in an app's value, say) is CAIRN_MISSING_BLOCK naming it, thrown when the walk reaches it.
 */
export async function* dagBlocks(storage: StorageEngine, roots: readonly CID[]): AsyncGenerator<BlockRecord[]> {
  const held = await Promise.all(roots.map((cid) => storage.has(cid)))
  const absent = held.indexOf(false)
  if (absent >= 0) throw new CairnError('CAIRN_NOT_FOUND', `no block ${roots[absent]} in this store to export`, { cid: roots[absent]! })
  const seen = new CidSet()
  const stack: { cid: CID; root: CID }[] = roots.map((cid) => ({ cid, root: cid })).reverse()
  let batch: BlockRecord[] = []
  let batchBytes = 0
  while (stack.length > 0) {
    const { cid, root } = stack.pop()!
    if (seen.has(cid)) continue
    seen.add(cid)
    const bytes = await storage.get(cid)
    if (bytes === undefined) throw new CairnError('CAIRN_MISSING_BLOCK', `block ${cid} of the DAG under ${root} is missing from this store`, { cid })
    batch.push({ cid, bytes })
    batchBytes += bytes.length
    if (batch.length >= READ_BATCH || batchBytes >= WALK_BATCH_BYTES) {
      yield batch
      batch = []
      batchBytes = 0
    }
    const links = blockLinks(cid, bytes)
    for (let i = links.length - 1; i >= 0; i--) stack.push({ cid: links[i]!, root })
  }
  if (batch.length > 0) yield batch
}

/** Several blocks in one storage request where the engine has one. */
function getMany(storage: StorageEngine, cids: readonly CID[]): Promise<(Uint8Array | undefined)[]> {
  return storage.getMany !== undefined ? storage.getMany(cids) : Promise.all(cids.map((c) => storage.get(c)))
}

/** A read started before it is awaited: marked handled, so that an export stopped early (or failing) leaves no unhandled rejection. Awaiting it still throws. */
function readAhead<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {})
  return p
}

/** Event blocks an export reads at once (and blocks it hands on at once). */
const READ_BATCH = 256
/** Blocks of objects are handed on once they add up to this many bytes. */
const WALK_BATCH_BYTES = 256 * 1024
/** Blocks of objects read ahead of the walk, at most. */
const READ_AHEAD = 16

/** How the views' event CIDs are laid out: all of them share it (CIDv1, one codec, one hash). */
interface CidLayout {
  readonly code: number
  readonly hash: number
  readonly length: number
  /** Bytes before the digest (version, codec, hash code and size): the same in every CID. */
  readonly header: Uint8Array
  readonly multihashAt: number
}

/**
 * Event CIDs for an export, made from the views' bytes without parsing each. multiformats'
 * CID.decode re-encodes the bytes it parsed into a fresh small array, whose buffer V8 must
 * then move off its heap (about a microsecond per CID: a fifth of a full export's time).
 * Here the bytes are copied into a slab of the export's own and the CID is built on views of
 * it, for every CID laid out like the first one (any other is decoded as usual). A slab
 * lives as long as any CID in it.
 */
class EventCids {
  readonly #views: LogViews
  #layout: CidLayout | undefined
  #slab = new Uint8Array(0)
  #at = 0

  constructor(views: LogViews) {
    this.#views = views
  }

  cid(seq: number): CID {
    const bytes = this.#views.cidBytes(seq)
    if (this.#layout === undefined) this.#layout = layoutOf(bytes)
    const layout = this.#layout
    const n = bytes.length
    if (n !== layout.length || !startsWith(bytes, layout.header)) return this.#views.cid(seq)
    if (this.#at + n > this.#slab.length) {
      this.#slab = new Uint8Array(CID_SLAB)
      this.#at = 0
    }
    const at = this.#at
    const slab = this.#slab
    for (let i = 0; i < n; i++) slab[at + i] = bytes[i]!
    this.#at = at + n
    const own = slab.subarray(at, at + n)
    const digest = new Digest(layout.hash, n - layout.header.length, own.subarray(layout.header.length), own.subarray(layout.multihashAt))
    return new CID(1, layout.code, digest, own)
  }
}

/** CIDs an export copies into one slab (of 36 bytes each, usually). */
const CID_SLAB = 64 * 1024

/** The layout of a CID like `bytes`; one that no CID has (so every one is decoded) when it is not CIDv1. */
function layoutOf(bytes: Uint8Array): CidLayout {
  const cid = CID.decode(bytes)
  if (cid.version !== 1) return { code: 0, hash: 0, length: -1, header: new Uint8Array(0), multihashAt: 0 }
  const length = cid.bytes.length
  return { code: cid.code, hash: cid.multihash.code, length, header: cid.bytes.slice(0, length - cid.multihash.digest.length), multihashAt: length - cid.multihash.bytes.length }
}

function startsWith(bytes: Uint8Array, head: Uint8Array): boolean {
  for (let i = 0; i < head.length; i++) if (bytes[i] !== head[i]) return false
  return true
}
