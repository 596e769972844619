import type { CID } from 'multiformats/cid'
import type { BlockLookup } from '../block/cid-map.ts'
import { blockLinks, linksOf, loadDagPb } from '../block/codec.ts'
import { DAG_CBOR, DAG_PB, RAW, type BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { StorageEngine } from '../storage/interface.ts'

/** What a completeness walk asks of the indexes: whether a block heads a DAG known to be complete (a recorded object). */
export interface CompleteDags {
  isComplete(key: string): boolean
}

/**
 * A block an import wrote to storage before its commit (staged), verified, not yet reachable
 * from a head: known by CID and size, its bytes left in storage.
 */
export interface StagedBlock {
  readonly cid: CID
  readonly size: number
  /** False when storage held the block before the import staged it (it adds nothing new). */
  readonly fresh: boolean
}

/** Where a completeness walk finds blocks: an import's CAR (verified, in memory or staged) first, then storage. */
export interface DagSource {
  readonly car?: BlockLookup<BlockRecord>
  readonly staged?: BlockLookup<StagedBlock>
  readonly storage: StorageEngine
}

/**
 * Checks, before anything is committed, that the whole DAG under `root` is present: in the CAR
 * being imported or in storage. Blocks the views know head complete DAGs (recorded objects) end
 * the walk; any other stored block is walked through, since a block stored as the target of a
 * dangling-tolerant app link, or put into a shared blockstore by someone else, may lack
 * children. `take` receives each CAR block of the DAG once, held or staged. Returns the bytes
 * found in the CAR.
 * Throws CAIRN_MISSING_BLOCK naming the first missing block.
 */
export async function assertCompleteDag(root: CID, views: CompleteDags, source: DagSource, visited: Set<string>, why: string, take: (block: BlockRecord | StagedBlock) => Promise<void>): Promise<number> {
  let size = 0
  const stack = [root]
  // Blocks from elsewhere (the CAR, held or staged) must be canonical: the check loads once per
  // walk, not per block, and not at all for walks of local values.
  const { decodeCanonical } = source.car !== undefined || source.staged !== undefined ? await import('../block/canonical.ts') : { decodeCanonical: undefined }
  while (stack.length > 0) {
    const cid = stack.pop()!
    const key = cid.toString()
    if (visited.has(key) || views.isComplete(key)) continue
    visited.add(key)
    if (cid.code === DAG_PB) await loadDagPb()
    const fromCar = source.car?.get(cid)
    if (fromCar !== undefined) {
      // A block from elsewhere: dag-cbor must be canonical, so its CID is the one a put of its value gives.
      const links = [...linksOf(cid, decodeCanonical!(cid, fromCar.bytes))]
      await take(fromCar)
      size += fromCar.bytes.length
      stack.push(...links)
      continue
    }
    const staged = source.staged?.get(cid)
    if (staged !== undefined) {
      await take(staged)
      size += staged.size
      if (cid.code === RAW) continue
      // Verified when staged; read back for its links, checked canonical as CAR blocks are.
      const stored = await source.storage.get(cid)
      if (stored === undefined) throw missingBlock(cid, why)
      stack.push(...linksOf(cid, decodeCanonical!(cid, stored)))
      continue
    }
    if (cid.code !== DAG_CBOR && cid.code !== DAG_PB) {
      if (!(await source.storage.has(cid))) throw missingBlock(cid, why)
      continue
    }
    const bytes = await source.storage.get(cid)
    if (bytes === undefined) throw missingBlock(cid, why)
    stack.push(...blockLinks(cid, bytes))
  }
  return size
}

export function missingBlock(cid: CID, why: string): CairnError {
  return new CairnError('CAIRN_MISSING_BLOCK', `block ${cid} (${why}) is missing`, { cid })
}
