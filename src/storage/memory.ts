import type { CID } from 'multiformats/cid'
import { CidMap } from '../block/cid-map.ts'
import type { BlockRecord } from '../block/interface.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { checkCompactArguments, type CommitBatch, type CompactOptions, type CompactReport, type StorageEngine } from './interface.ts'
import { expectDerivedBytes, expectDerivedName } from './derived.ts'

/**
 * Blocks in a Map, for tests and throwaway stores. Nothing survives the process.
 *
 * @example
 * const store = await openStore({ storage: new MemoryStorage() })
 */
export class MemoryStorage implements StorageEngine {
  readonly kind: string = 'memory'
  /** Each block's bytes by its CID (not the records committed: a Block's decoded value stays out). */
  readonly #blocks = new CidMap<Uint8Array>()
  /** Derived values, each a private copy: callers can neither change what is stored nor what they read. */
  readonly #derived = new Map<string, Uint8Array>()
  #heads: CID[] = []
  #closed = false

  async get(cid: CID): Promise<Uint8Array | undefined> {
    this.#open()
    return this.#blocks.get(cid)
  }

  /**
   * Several blocks in one call: no promise per block.
   *
   * @example
   * const [a, b] = await storage.getMany([cidA, cidB])
   */
  async getMany(cids: readonly CID[]): Promise<(Uint8Array | undefined)[]> {
    this.#open()
    const blocks = this.#blocks
    return cids.map((cid) => blocks.get(cid))
  }

  async has(cid: CID): Promise<boolean> {
    this.#open()
    return this.#blocks.has(cid)
  }

  async *blocks(): AsyncIterable<BlockRecord> {
    this.#open()
    yield* [...this.#blocks.entries()].map(([cid, bytes]) => ({ cid, bytes }))
  }

  async heads(): Promise<CID[]> {
    this.#open()
    return [...this.#heads]
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.#open()
    for (const block of batch.blocks) this.#blocks.set(block.cid, block.bytes)
    this.#heads = [...batch.heads]
  }

  /**
   * Deletes every block `live` rejects (see StorageEngine.compact); `minDeadRatio` does not apply.
   *
   * @example
   * const { blocksRemoved, bytesReclaimed } = await storage.compact((cid) => reachable.has(cid.toString()))
   */
  async compact(live: (cid: CID) => boolean, options?: CompactOptions): Promise<CompactReport> {
    checkCompactArguments(live, options)
    this.#open()
    let blocksRemoved = 0
    let bytesReclaimed = 0
    for (const [cid, bytes] of [...this.#blocks.entries()]) {
      if (live(cid)) continue
      this.#blocks.delete(cid)
      blocksRemoved++
      bytesReclaimed += bytes.length
    }
    return { blocksRemoved, bytesReclaimed }
  }

  async readDerived(name: string): Promise<Uint8Array | undefined> {
    this.#open()
    const stored = this.#derived.get(expectDerivedName(name))
    return stored === undefined ? undefined : new Uint8Array(stored)
  }

  async writeDerived(name: string, bytes: Uint8Array): Promise<void> {
    this.#open()
    expectDerivedName(name)
    // new Uint8Array(view) copies; a Buffer's slice() would not.
    this.#derived.set(name, new Uint8Array(expectDerivedBytes(bytes)))
  }

  async close(): Promise<void> {
    this.#closed = true
  }

  #open(): void {
    if (this.#closed) throw new CairnError('CAIRN_CLOSED', 'memory storage is closed')
  }
}
