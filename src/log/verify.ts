import type { CID } from 'multiformats/cid'
import { decodeBlock, linksOf } from '../block/codec.ts'
import { CairnError } from '../errors/cairn-error.ts'
import type { ProgressReporter } from '../errors/progress-reporter.ts'
import { assertEvent } from './event/format.ts'
import { eventLinks } from './event/links.ts'
import type { StorageEngine } from '../storage/interface.ts'

/**
 * What `verify()` found.
 *
 * @example
 * const { blocks, bytes, dangling } = await store.verify()
 */
export interface VerifyReport {
  /** Blocks read and re-hashed. */
  blocks: number
  bytes: number
  /** CIDs linked from event data or object values that the store does not hold. */
  dangling: CID[]
}

/** Why a block is reached decides whether its absence is corruption or a dangling app link. */
type Role = 'event' | 'dag'

/**
 * Walks every block reachable from the heads: events through parents and prev, objects
 * recorded by `$objects`, and every link inside objects and files. Re-hashes each block.
 * A missing event, object or file block is corruption; a CID in event data that the
 * store never held is reported as dangling. `progress` counts each block re-hashed and its
 * bytes, throws on an abort between blocks, and reports last when the walk is done.
 */
export async function verifyReachable(storage: StorageEngine, heads: readonly CID[], progress?: ProgressReporter): Promise<VerifyReport> {
  progress?.check()
  const report: VerifyReport = { blocks: 0, bytes: 0, dangling: [] }
  const seen = new Set<string>()
  const stack: { cid: CID; role: Role; from: CID | undefined; strict: boolean }[] = heads.map((cid) => ({ cid, role: 'event', from: undefined, strict: true }))
  while (stack.length > 0) {
    const { cid, role, from, strict } = stack.pop()!
    const key = cid.toString()
    if (seen.has(key)) continue
    seen.add(key)
    const bytes = await storage.get(cid)
    if (bytes === undefined) {
      if (!strict) {
        report.dangling.push(cid)
        continue
      }
      throw new CairnError('CAIRN_CORRUPT', `block ${cid}${from === undefined ? '' : `, linked from ${from},`} is missing`, { cid })
    }
    const block = await decodeBlock(cid, bytes)
    report.blocks++
    report.bytes += bytes.length
    progress?.add(1, bytes.length)
    if (role === 'event') {
      assertEvent(block.value, cid)
      const e = block.value
      for (const p of e.parents) stack.push({ cid: p, role: 'event', from: cid, strict: true })
      if (e.prev !== null) stack.push({ cid: e.prev, role: 'event', from: cid, strict: true })
      const links = eventLinks(e)
      for (const link of links.roots) stack.push({ cid: link, role: 'dag', from: cid, strict: links.object })
    } else {
      for (const link of linksOf(cid, block.value)) stack.push({ cid: link, role: 'dag', from: cid, strict })
    }
  }
  progress?.done()
  return report
}
