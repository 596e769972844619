import type { Progress, ProgressOperation, ProgressOptions, ProgressPlan } from './progress.ts'

// Loaded with the operations that report progress (on first use), not with the store: only
// types come from progress.ts, so it stays in the first-load chunk alone.

/** Blocks between two reports, at most. */
export const PROGRESS_EVERY_BLOCKS = 1000
/** Bytes between two reports, at most. */
export const PROGRESS_EVERY_BYTES: number = 1 << 20

/** Rejects with the signal's reason when it is aborted (`signal.throwIfAborted`, for runtimes without it). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw signal.reason
}

/**
 * Counts one operation's blocks and bytes, reports them throttled, and checks the abort signal.
 * `add` costs two additions and a compare until a report is due (every
 * PROGRESS_EVERY_BLOCKS blocks or PROGRESS_EVERY_BYTES bytes), plus a property read with a
 * signal. Operations without `onProgress` and `signal` make none (see `progressPlan`).
 */
export class ProgressReporter {
  readonly #operation: ProgressOperation
  readonly #onProgress: ((p: Progress) => void) | undefined
  readonly #signal: AbortSignal | undefined
  readonly #totalBytes: number | undefined
  blocks = 0
  bytes = 0
  #nextBlocks: number
  #nextBytes: number

  constructor(operation: ProgressOperation, options: ProgressOptions, totalBytes?: number) {
    this.#operation = operation
    this.#onProgress = options.onProgress
    this.#signal = options.signal
    this.#totalBytes = totalBytes
    this.#nextBlocks = this.#onProgress === undefined ? Infinity : PROGRESS_EVERY_BLOCKS
    this.#nextBytes = this.#onProgress === undefined ? Infinity : PROGRESS_EVERY_BYTES
  }

  /** Counts `blocks` and `bytes` more; reports when due. Throws the abort reason, or what `onProgress` throws. */
  add(blocks: number, bytes: number): void {
    this.blocks += blocks
    this.bytes += bytes
    if (this.#signal?.aborted === true) throw this.#signal.reason
    if (this.blocks >= this.#nextBlocks || this.bytes >= this.#nextBytes) this.#report()
  }

  /** Throws the abort reason when aborted. */
  check(): void {
    throwIfAborted(this.#signal)
  }

  /** The final report (after one last abort check). */
  done(): void {
    this.check()
    if (this.#onProgress !== undefined) this.#report()
  }

  #report(): void {
    this.#nextBlocks = this.blocks + PROGRESS_EVERY_BLOCKS
    this.#nextBytes = this.bytes + PROGRESS_EVERY_BYTES
    const progress: Progress = this.#totalBytes === undefined ? { operation: this.#operation, blocks: this.blocks, bytes: this.bytes } : { operation: this.#operation, blocks: this.blocks, bytes: this.bytes, totalBytes: this.#totalBytes }
    this.#onProgress!(progress)
  }
}

/** The reporter of a planned operation (none without a plan). */
export function reporterOf(plan: ProgressPlan | undefined): ProgressReporter | undefined {
  return plan === undefined ? undefined : new ProgressReporter(plan.operation, plan.options, plan.totalBytes)
}
