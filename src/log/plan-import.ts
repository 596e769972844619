import { CID } from 'multiformats/cid'
import { type BlockLookup, CidMap, CidSet } from '../block/cid-map.ts'
import { blockLinks, decodeTrusted, loadDagPb, verify, verifySync } from '../block/codec.ts'
import { SYNC_HASH_LIMIT } from '../block/hash.ts'
import { DAG_CBOR, DAG_PB, RAW, type BlockRecord } from '../block/interface.ts'
import type { ByteSource } from '../car/interface.ts'
import { readCar, type CarReadLimits } from '../car/reader.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { ProgressReporter } from '../errors/progress-reporter.ts'
import { assertCompleteDag, missingBlock, type StagedBlock } from '../objects/complete.ts'
import type { StorageEngine } from '../storage/interface.ts'
import { decodeStrictEvent } from './event/strict.ts'
import type { EventBlock } from './event/interface.ts'
import { eventLinks } from './event/links.ts'
import { assertObjectRecord, isObjectPut } from './event/object-record.ts'
import { compareCidEvents, sortCids } from './event/order.ts'
import type { AppendBase } from './plan-append.ts'
import type { PlannedEvent } from './plan.ts'
import { assertCausality, type CausalFacts } from './rules/causality.ts'
import { assertClock } from './rules/clock.ts'
import type { LogViews } from './views/views.ts'

/**
 * A verified CAR block held in memory until the import commits. One record serves the whole
 * import: the block to store, and — once the planner's walk decodes it as a new event — the
 * planned event (PlannedEvent: `cid`, `event`, `size`), so no map or object per event is added
 * beside it.
 */
export interface HeldBlock extends BlockRecord {
  /** The new event these bytes hold, once the planner's walk decoded them; undefined until then (or for a block that is no new event). */
  event: EventBlock | undefined
  /** Bytes of the block. */
  readonly size: number
  /** Set when a new event of the CAR names this one among its parents: it is no head after the import. */
  superseded: boolean
}

/** A new event of an import: a held block the walk decoded. */
type NewEvent = HeldBlock & { event: EventBlock }

/** A CAR read with every block verified against its CID: some blocks in memory, the rest staged. */
export interface VerifiedCar {
  roots: CID[]
  /** Verified blocks held in memory: every dag-cbor block (events among them) and small CARs whole. */
  blocks: CidMap<HeldBlock>
  /** Verified blocks written to storage during the read, unreferenced until the import commits. */
  staged: CidMap<StagedBlock>
}

/**
 * What an import will add, decided against the store's current state. It is the base on which
 * the records of its foreign DAGs are appended (see planAppend), which makes it a CommitPlan.
 */
export interface ImportPlan extends AppendBase {
  /** New events in canonical order, with their block's size. */
  readonly events: readonly PlannedEvent[]
  /** Blocks to store: the new events and every new block their objects and files reach, except those staged already. */
  readonly blocks: readonly BlockRecord[]
  /** Staged blocks the new events and objects reach that storage did not hold before: written already, made reachable by this commit. */
  readonly stagedBlocks: number
  /** The log's heads once the new events are in. */
  readonly heads: readonly CID[]
  /** Roots of foreign DAGs to record as objects, with the bytes of their DAG. */
  readonly foreign: readonly { cid: CID; size: number }[]
  /** The CAR's blocks, verified: indexing reads the new objects' blocks from here, not back from storage. */
  readonly verified: BlockLookup<BlockRecord>
}

export interface PlanOptions {
  now: number
  maxClockDrift: number
  foreignType: string
}

/**
 * What holding one block in memory costs beyond its bytes, as counted against `maxStagedBytes`:
 * its CID, the map entry, and — for an event — its decoded form and its planning. Measured: an
 * import of 100k small events peaks at ~7 KB of RSS per event (garbage included), so counting
 * 2 KiB keeps the peak within a few times `maxStagedBytes` whatever the CAR's shape; without it a
 * CAR of a million tiny blocks (43 MB) took 3 GB.
 */
export const STAGED_BLOCK_OVERHEAD: number = 2048

/** What a block staged to storage still costs in memory (its CID, a map entry, a key that protects it from compaction). */
export const STORED_BLOCK_OVERHEAD: number = 512

/**
 * Non-dag-cbor blocks (file chunks and UnixFS nodes) collect in memory up to this many bytes;
 * once there they are written to storage as one slice, unreferenced, and dropped from memory.
 * A CAR whose file blocks stay under it is imported from memory with a single commit.
 */
export const STAGE_SLICE_BYTES: number = 8 * 1024 * 1024

/** Writes blocks to storage without moving the heads (they stay unreferenced until the import commits). */
export type StageBlocks = (blocks: readonly BlockRecord[]) => Promise<readonly boolean[]>

/** How much an import may read and hold. */
export interface StagingLimits extends CarReadLimits {
  /** Bytes of blocks held in memory plus their overhead (see STAGED_BLOCK_OVERHEAD, STORED_BLOCK_OVERHEAD). */
  readonly maxStagedBytes: number
}

/**
 * Streams a CAR in, verifying each block's bytes against its CID as it arrives (the CAR
 * readers of the field do not). The import must commit atomically, so nothing it brings is
 * reachable before that commit; meanwhile dag-cbor blocks (events, small objects) are held in
 * memory, and file blocks (raw, dag-pb) beyond STAGE_SLICE_BYTES are written to storage through
 * `stage`, unreferenced, and forgotten but for their CID and size. So a CAR of files imports in
 * bounded memory whatever its size. `limits` bound the rest: a frame over `maxBlockBytes` is
 * refused from its length prefix, a CAR over `maxBytes` when it gets there, and the working set
 * — each held block's bytes plus STAGED_BLOCK_OVERHEAD, STORED_BLOCK_OVERHEAD per staged one —
 * may not pass `maxStagedBytes` (CAIRN_TOO_LARGE). Blocks staged before a failure stay in
 * storage unreferenced, for compaction to reclaim. `progress` counts each block read and the
 * CAR bytes read so far, and throws (ending the read) when the import is aborted.
 */
export async function readVerifiedCar(source: ByteSource, limits: StagingLimits, stage?: StageBlocks, progress?: ProgressReporter): Promise<VerifiedCar> {
  const car = await readCar(source, limits)
  const blocks = new CidMap<HeldBlock>()
  const staged = new CidMap<StagedBlock>()
  let held = 0
  let slice: BlockRecord[] = []
  let sliceBytes = 0
  const flush = async (): Promise<void> => {
    const fresh = await stage!(slice)
    slice.forEach((block, i) => {
      blocks.delete(block.cid)
      staged.set(block.cid, { cid: block.cid, size: block.bytes.length, fresh: fresh[i]! })
      held += STORED_BLOCK_OVERHEAD - block.bytes.length - STAGED_BLOCK_OVERHEAD
    })
    slice = []
    sliceBytes = 0
  }
  const slab = new ByteSlab()
  for await (const frame of car.blocks) {
    const cid = frame.cid
    if (blocks.has(cid) || (staged.size > 0 && staged.has(cid))) {
      // A block the CAR repeats: checked, not kept.
      const checking = verifyBlock(cid, frame.bytes)
      if (checking !== undefined) await checking
      if (progress !== undefined) progress.add(1, car.consumed - progress.bytes)
      continue
    }
    // The bytes kept are checked, not the source's view. Small dag-cbor blocks, held until the
    // commit, share slabs; others get bytes of their own.
    const bytes = cid.code === DAG_CBOR && frame.bytes.length <= ByteSlab.MAX ? slab.copy(frame.bytes) : frame.owned ? frame.bytes : frame.bytes.slice()
    const checking = verifyBlock(cid, bytes)
    if (checking !== undefined) await checking
    if (progress !== undefined) progress.add(1, car.consumed - progress.bytes)
    const block: HeldBlock = { cid, bytes, event: undefined, size: bytes.length, superseded: false }
    blocks.set(cid, block)
    held += bytes.length + STAGED_BLOCK_OVERHEAD
    if (stage !== undefined && cid.code !== DAG_CBOR) {
      slice.push(block)
      sliceBytes += block.bytes.length
      if (sliceBytes >= STAGE_SLICE_BYTES) await flush()
    }
    if (held > limits.maxStagedBytes) {
      throw new CairnError(
        'CAIRN_TOO_LARGE',
        `the import's working set passed its ${limits.maxStagedBytes}-byte budget (maxStagedBytes) after ${blocks.size + staged.size} blocks (each block held in memory counts its bytes plus ${STAGED_BLOCK_OVERHEAD} of bookkeeping, each staged to storage ${STORED_BLOCK_OVERHEAD}); raise it or send smaller CARs`,
      )
    }
  }
  return { roots: car.roots, blocks, staged }
}

/**
 * Copies small blocks into shared 64 KiB buffers: one typed array per block instead of an
 * ArrayBuffer and its native store each. Only for blocks kept together until the same commit
 * (an import's unique dag-cbor blocks); the ones stored are copied out before (ownSlabBytes), so
 * no slab outlives its import.
 */
class ByteSlab {
  /** Largest block copied into a slab. */
  static readonly MAX = 4096
  static readonly SIZE = 64 * 1024
  #buf = new Uint8Array(0)
  #at = 0

  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length
    if (this.#at + n > this.#buf.length) {
      this.#buf = new Uint8Array(ByteSlab.SIZE)
      this.#at = 0
    }
    const at = this.#at
    this.#buf.set(bytes, at)
    this.#at = at + n
    return this.#buf.subarray(at, at + n)
  }
}

/**
 * Copies the blocks to store that are windows into a slab (or any bigger buffer) together into
 * one buffer of exactly their size: one copy per import. An engine that keeps the views it is
 * given (in memory) then holds no slab, nor the slabs' blocks this import did not store
 * (repeats, blocks stored already); one that persists a view's whole buffer copies each down
 * to its own bytes (ownBytes).
 */
function ownSlabBytes(blocks: BlockRecord[]): void {
  let total = 0
  for (const { bytes } of blocks) if (bytes.length !== bytes.buffer.byteLength) total += bytes.length
  if (total === 0) return
  const buffer = new Uint8Array(total)
  let at = 0
  for (let i = 0; i < blocks.length; i++) {
    const { cid, bytes } = blocks[i]!
    if (bytes.length === bytes.buffer.byteLength) continue
    buffer.set(bytes, at)
    blocks[i] = { cid, bytes: buffer.subarray(at, at + bytes.length) }
    at += bytes.length
  }
}

/** `verify`, without a promise for small blocks (hashed synchronously either way) other than dag-pb (whose decoder `verify` loads). */
function verifyBlock(cid: CID, bytes: Uint8Array): Promise<void> | undefined {
  if (bytes.length > SYNC_HASH_LIMIT || cid.code === DAG_PB) return verify(cid, bytes)
  verifySync(cid, bytes)
  return undefined
}

/** Fields only a Cairn event has together: a root holding two of them claims to be one. */
const EVENT_FIELDS = ['stream', 'type', 'ts', 'tc', 'prev', 'parents'] as const

/**
 * Whether a dag-cbor root claims to be a Cairn event: a map with `v` and one event field, or
 * two event fields. Such a root is checked as an event (and refused when malformed), never
 * kept as a foreign object. Foreign roots (an atproto commit, a UnixFS directory) share at most
 * one field name with an event.
 */
function claimsToBeEvent(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array || CID.asCID(value) !== null) return false
  const fields = EVENT_FIELDS.filter((f) => f in value).length
  return fields >= 2 || ('v' in value && fields >= 1)
}

/**
 * Decides what a verified CAR adds: walks the events from its roots back to what the store
 * holds, checks each new event's format, parents, stream predecessor and clock, and checks
 * that every object and file they record is complete. Throws, naming the CID, at the first
 * problem; the store is not touched.
 */
export async function planImport(car: VerifiedCar, views: LogViews, storage: StorageEngine, currentHeads: readonly CID[], options: PlanOptions): Promise<ImportPlan> {
  const foreignRoots: CID[] = []
  /**
   * Events to visit, as three parallel stacks (no object per edge): the CID, the new event that
   * named it (undefined: a root), and how (ROOT, PARENT, PREV), for the message if it is missing.
   */
  const stack: CID[] = []
  const named: (NewEvent | undefined)[] = []
  const edges: number[] = []
  for (const root of car.roots) {
    if (views.has(root)) continue
    const block = car.blocks.get(root)
    if (block === undefined) {
      // Staged roots are file blocks (never dag-cbor), stored already: foreign like any held root.
      if (car.staged.has(root) || (await storage.has(root))) {
        if (!views.hasObject(root, options.foreignType)) foreignRoots.push(root)
        continue
      }
      throw missingBlock(root, 'a root of the CAR')
    }
    const value = root.code === DAG_CBOR ? decodeTrusted(root, block.bytes) : undefined
    if (value !== undefined && claimsToBeEvent(value)) {
      stack.push(root)
      named.push(undefined)
      edges.push(ROOT)
    } else if (!views.hasObject(root, options.foreignType)) foreignRoots.push(root)
  }

  /** New events, in the order the walk met them (then sorted canonically). */
  const events: NewEvent[] = []
  /** Stored events that a new event names as a parent: heads no more. */
  const storedParents = new CidSet()
  while (stack.length > 0) {
    const cid = stack.pop()!
    const from = named.pop()
    const edge = edges.pop()!
    let block = car.blocks.get(cid)
    if (block?.event !== undefined) {
      if (edge === PARENT) block.superseded = true
      continue
    }
    if (views.has(cid)) {
      if (edge === PARENT) storedParents.add(cid)
      continue
    }
    if (block === undefined) {
      // Events are dag-cbor, held in memory; a hostile CAR may name a staged block (never dag-cbor, refused below).
      const bytes = car.staged.has(cid) ? await storage.get(cid) : undefined
      if (bytes === undefined) throw missingBlock(cid, from === undefined ? 'a root of the CAR' : `${edge === PREV ? 'the stream predecessor' : 'a parent'} of event ${from.cid}`)
      block = { cid, bytes, event: undefined, size: bytes.length, superseded: false }
      car.blocks.set(cid, block)
    }
    const event = decodeStrictEvent(cid, block.bytes, car.blocks)
    block.event = event
    if (edge === PARENT) block.superseded = true
    const fresh = block as NewEvent
    events.push(fresh)
    for (const p of event.parents) {
      stack.push(p)
      named.push(fresh)
      edges.push(PARENT)
    }
    if (event.prev !== null) {
      stack.push(event.prev)
      named.push(fresh)
      edges.push(PREV)
    }
  }

  /** Stamp and stream of a new event or a stored one. */
  const factsOf = (cid: CID): CausalFacts => {
    const held = car.blocks.get(cid)?.event
    if (held !== undefined) return held
    const seq = views.seqOf(cid)
    return { ts: views.ts(seq), tc: views.tc(seq), stream: views.streamOf(seq) }
  }
  for (const { cid, event } of events) {
    assertClock(cid, event, options.now, options.maxClockDrift)
    assertCausality(cid, event, factsOf)
  }

  events.sort(compareCidEvents)
  const blocks: BlockRecord[] = [...events]
  const taken = new CidSet()
  let stagedBlocks = 0
  /** Queues a held CAR block for storing, once, unless storage has it; counts a staged one (stored already). New events are queued already. */
  const take = async (block: BlockRecord | StagedBlock): Promise<void> => {
    if ('bytes' in block && (block as HeldBlock).event !== undefined) return
    if (taken.has(block.cid)) return
    taken.add(block.cid)
    if (!('bytes' in block)) {
      if (block.fresh) stagedBlocks++
    } else if (!(await storage.has(block.cid))) blocks.push(block)
  }
  const checked = new Set<string>()
  const source = { car: car.blocks, staged: car.staged, storage }
  /** An object's DAG: must be complete, from the CAR and storage together. */
  const takeDag = (root: CID, why: string): Promise<number> => assertCompleteDag(root, views, source, checked, why, take)
  /** An app link's DAG: whatever of it the CAR holds is kept; missing parts are dangling. One walk per import. */
  const seen = new CidSet()
  const takeLinked = async (root: CID): Promise<void> => {
    const dag = [root]
    while (dag.length > 0) {
      const cid = dag.pop()!
      if (seen.has(cid)) continue
      seen.add(cid)
      const block = car.blocks.get(cid) ?? car.staged.get(cid)
      if (block === undefined) continue
      await take(block)
      const bytes = 'bytes' in block ? block.bytes : cid.code === DAG_CBOR || cid.code === DAG_PB ? await storage.get(cid) : undefined
      if (bytes !== undefined) dag.push(...blockLinks(cid, bytes))
    }
  }
  for (const { cid, event } of events) {
    if (isObjectPut(event)) {
      const data = event.data
      assertObjectRecord(cid, data)
      await takeDag(data.cid, `part of object ${data.cid} recorded by event ${cid}`)
    } else {
      for (const link of eventLinks(event).roots) await takeLinked(link)
    }
  }
  const foreign: { cid: CID; size: number }[] = []
  const roots = [...new CidSet(foreignRoots).values()]
  // Complete, as objects are: one walk for every DAG of the import, which ends at recorded objects.
  for (const root of roots) await takeDag(root, `part of the DAG under root ${root}`)
  if (roots.length > 0) {
    const sizeOf = carriedBytes(car, views, storage)
    for (const root of roots) foreign.push({ cid: root, size: await sizeOf(root) })
  }

  ownSlabBytes(blocks)
  const heads: CID[] = currentHeads.filter((c) => !storedParents.has(c))
  for (const e of events) if (!e.superseded) heads.push(e.cid)
  return { events, blocks, stagedBlocks, heads: sortCids(heads), foreign, verified: car.blocks }
}

/** No links (shared by every stored block below which the CAR carried nothing). */
const NONE: readonly CID[] = []

/**
 * The size of a foreign root (format v1 §6): the bytes of the blocks of its DAG that the CAR
 * carried (held or staged), counted once each, also under objects the store had recorded before.
 * Each root's walk goes through the CAR's blocks, in memory. Where it reaches a block the CAR did
 * not carry that heads a complete DAG (every block under a recorded object is marked so), the
 * carried blocks below it are found upward instead, from each carried block the views know as
 * complete (only those can be under it) through the containment index: no read, and nothing
 * walked that the CAR did not bring. Only a stored block outside recorded objects (an app link's
 * target) is read, once per import for every root (`below`). So a small CAR of many roots
 * naming a big held object reads nothing of it.
 */
function carriedBytes(car: VerifiedCar, views: LogViews, storage: StorageEngine): (root: CID) => Promise<number> {
  /** Stored blocks the CAR did not carry → carried blocks reachable from each. */
  const below = new CidMap<readonly CID[]>()
  /** Links of staged (non-raw) blocks, read back once. */
  const stagedLinks = new CidMap<readonly CID[]>()
  /** Blocks of recorded objects → the carried blocks under them; built on first need. */
  let underComplete: Map<string, CID[]> | undefined
  const carriedUnder = (key: string): readonly CID[] => {
    if (underComplete === undefined) {
      underComplete = new Map()
      for (const cid of [...car.blocks.keys(), ...car.staged.keys()]) {
        const start = cid.toString()
        if (!views.isComplete(start)) continue
        // Up from the carried block through every block and event that links to it.
        const seen = new Set([start])
        const up = [start]
        while (up.length > 0) {
          const containers = views.containers(up.pop()!)
          if (containers === undefined) continue
          for (const key of containers) {
            if (seen.has(key)) continue
            seen.add(key)
            up.push(key)
            const list = underComplete.get(key)
            if (list === undefined) underComplete.set(key, [cid])
            else list.push(cid)
          }
        }
      }
    }
    return underComplete.get(key) ?? NONE
  }
  const carried = (cid: CID): boolean => car.blocks.has(cid) || car.staged.has(cid)
  const read = async (cid: CID): Promise<CID[]> => {
    if (cid.code === DAG_PB) await loadDagPb()
    const bytes = await storage.get(cid)
    if (bytes === undefined) throw missingBlock(cid, 'part of a foreign DAG')
    return blockLinks(cid, bytes)
  }
  /** Fills `below` for `top` and for every stored, uncarried block under it not filled yet (children first). */
  const fill = async (top: CID): Promise<void> => {
    const stack: CID[] = [top]
    const links: (readonly CID[] | undefined)[] = [undefined]
    while (stack.length > 0) {
      const cid = stack.at(-1)!
      if (below.has(cid)) {
        stack.pop()
        links.pop()
        continue
      }
      let out = links.at(-1)
      if (out === undefined) {
        const key = cid.toString()
        if (views.isComplete(key) || (cid.code !== DAG_CBOR && cid.code !== DAG_PB)) {
          below.set(cid, carriedUnder(key))
          stack.pop()
          links.pop()
          continue
        }
        out = await read(cid)
        links[links.length - 1] = out
        const depth = stack.length
        for (const l of out) {
          if (carried(l) || below.has(l)) continue
          stack.push(l)
          links.push(undefined)
        }
        if (stack.length > depth) continue
      }
      stack.pop()
      links.pop()
      const found = new CidSet()
      for (const l of out) {
        if (carried(l)) found.add(l)
        else for (const c of below.get(l)!) found.add(c)
      }
      below.set(cid, found.size === 0 ? NONE : [...found.values()])
    }
  }
  return async (root: CID): Promise<number> => {
    let size = 0
    const seen = new CidSet()
    const stack = [root]
    while (stack.length > 0) {
      const cid = stack.pop()!
      if (seen.has(cid)) continue
      seen.add(cid)
      const held = car.blocks.get(cid)
      if (held !== undefined) {
        if (cid.code === DAG_PB) await loadDagPb()
        size += held.bytes.length
        stack.push(...blockLinks(cid, held.bytes))
        continue
      }
      const staged = car.staged.get(cid)
      if (staged !== undefined) {
        size += staged.size
        if (cid.code === RAW) continue
        let links = stagedLinks.get(cid)
        if (links === undefined) {
          links = await read(cid)
          stagedLinks.set(cid, links)
        }
        stack.push(...links)
        continue
      }
      if (!below.has(cid)) await fill(cid)
      stack.push(...below.get(cid)!)
    }
    return size
  }
}

/** How the walk reached an event: as a root of the CAR, a parent, a stream predecessor. */
const ROOT = 0
const PARENT = 1
const PREV = 2
