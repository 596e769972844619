import type { CID } from 'multiformats/cid'
import type { StorageEngine } from '../storage/interface.ts'
import { INDEX_SNAPSHOT, loadSnapshotCodec, type SnapshotCodec } from './views/snapshot.ts'
import type { LogViews } from './views/views.ts'

/** Events after the last index snapshot that trigger a new one (with a sixteenth of the log). */
export const SNAPSHOT_MIN = 16384

/**
 * When the index snapshot is written: once at least `min` events arrived since the last one
 * (and, for big logs, a sixteenth of the log, so snapshot writes stay O(1) per event), or on
 * close once anything arrived. The columns are copied synchronously, inside the caller's
 * consistent moment, then hashed and written in the background, one write at a time. A failed
 * write only costs the next open some time: the previous snapshot stays and open indexes more.
 * The snapshot's codec loads on first use: the first snapshot due before it is loaded is
 * skipped (the next commit writes it), and `ready` loads it before a snapshot that must be
 * written (on close).
 */
export class SnapshotScheduler {
  readonly #storage: StorageEngine
  readonly #views: LogViews
  /** Events the last snapshot written (or loaded) covers. */
  #size: number
  #write: Promise<void> | undefined
  #codec: SnapshotCodec | undefined

  constructor(storage: StorageEngine, views: LogViews, loadedSize: number) {
    this.#storage = storage
    this.#views = views
    this.#size = loadedSize
  }

  /** Events covered by the last snapshot written or loaded. */
  get size(): number {
    return this.#size
  }

  /** Loads the snapshot's codec when a snapshot may be due (the engine keeps them, events arrived since the last); never throws (a failed load skips the snapshot). */
  async ready(): Promise<void> {
    if (this.#storage.writeDerived === undefined || this.#codec !== undefined || this.#views.size === this.#size) return
    this.#codec = await loadSnapshotCodec().catch(() => undefined)
  }

  /** Starts a snapshot write of `heads` and the views when the thresholds say so. */
  maybe(heads: readonly CID[], min: number, always = false): void {
    const views = this.#views
    const storage = this.#storage
    const since = views.size - this.#size
    if (storage.writeDerived === undefined || this.#write !== undefined) return
    if (always ? since === 0 : since < Math.max(min, this.#size >> 4)) return
    const codec = this.#codec
    if (codec === undefined) {
      void this.ready()
      return
    }
    const size = views.size
    // Encoded now, within the caller's consistent moment (the columns are live), hashed and written later.
    const encoded = (async () => codec.encodeColumns(views.columns(), heads))()
    this.#write = (async () => {
      try {
        await storage.writeDerived!(INDEX_SNAPSHOT, await encoded)
        this.#size = size
      } catch {
        // Derived data: a failed write leaves the previous snapshot, and the next open indexes more.
      } finally {
        this.#write = undefined
      }
    })()
  }

  /** Waits for the write in flight, if any. */
  async settled(): Promise<void> {
    await this.#write
  }
}
