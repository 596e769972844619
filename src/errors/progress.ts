import { expectFunction } from './arguments.ts'

/**
 * A long operation's progress, passed to `onProgress`.
 *
 * @example
 * await store.import(car, { onProgress: (p) => console.log(`${p.operation}: ${p.blocks} blocks, ${p.bytes}/${p.totalBytes ?? '?'} bytes`) })
 */
export interface Progress {
  readonly operation: 'import' | 'export' | 'putFile' | 'verify'
  /** Blocks handled so far. */
  readonly blocks: number
  /** Bytes handled so far: CAR bytes read (import), CAR bytes written (export), file bytes chunked (putFile), block bytes checked (verify). */
  readonly bytes: number
  /** Total bytes when known ahead (a Blob/bytes/file of known size, verify's stored total if cheap), else undefined. */
  readonly totalBytes?: number
}

/**
 * Progress reporting and cancellation of a long operation (`import`, `export`, `putFile`,
 * `verify`). `onProgress` is called at most every 1 MiB or 1,000 blocks, then once when the
 * operation is done; what it throws aborts the operation as an abort does. An aborted
 * operation rejects with `signal.reason` (an `AbortError` DOMException unless the caller gave
 * `abort()` a reason of its own).
 *
 * @example
 * const controller = new AbortController()
 * cancelButton.onclick = () => controller.abort()
 * await store.import(car, { signal: controller.signal, onProgress: (p) => bar.update(p.bytes / (p.totalBytes ?? p.bytes)) })
 */
export interface ProgressOptions {
  /** Called with the progress so far (throttled), and once more when the operation is done. */
  onProgress?: (progress: Progress) => void
  /** Aborts the operation, which then rejects with `signal.reason`. */
  signal?: AbortSignal
}

/** What `onProgress` may be called for. */
export type ProgressOperation = Progress['operation']

/** Blocks between two reports, at most. */
export const PROGRESS_EVERY_BLOCKS = 1000
/** Bytes between two reports, at most. */
export const PROGRESS_EVERY_BYTES: number = 1 << 20

/** TypeError unless `signal` is undefined or an AbortSignal (checked by shape, so a signal of another realm passes). */
export function expectOptionalSignal(name: string, signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined
  if (signal === null || typeof signal !== 'object' || typeof (signal as AbortSignal).addEventListener !== 'function' || typeof (signal as AbortSignal).aborted !== 'boolean') {
    throw new TypeError(`"${name}" expected an AbortSignal`)
  }
  return signal as AbortSignal
}

/** Checks `onProgress` and `signal` of an options object (TypeError naming the bad one). */
export function checkProgressOptions(options: ProgressOptions): ProgressOptions {
  const onProgress = options.onProgress === undefined ? undefined : expectFunction<(p: Progress) => void>('onProgress', options.onProgress)
  const signal = expectOptionalSignal('signal', options.signal)
  return { ...(onProgress === undefined ? {} : { onProgress }), ...(signal === undefined ? {} : { signal }) }
}

/** Rejects with the signal's reason when it is aborted (`signal.throwIfAborted`, for runtimes without it). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw signal.reason
}

/**
 * Counts one operation's blocks and bytes, reports them throttled, and checks the abort signal.
 * `add` costs two additions and a compare until a report is due (every
 * PROGRESS_EVERY_BLOCKS blocks or PROGRESS_EVERY_BYTES bytes), plus a property read with a
 * signal. Operations without `onProgress` and `signal` make none (see `progressOf`).
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

/** A reporter for the operation, or undefined when it has neither `onProgress` nor `signal` (then nothing is counted). */
export function progressOf(operation: ProgressOperation, options: ProgressOptions, totalBytes?: number): ProgressReporter | undefined {
  return options.onProgress === undefined && options.signal === undefined ? undefined : new ProgressReporter(operation, options, totalBytes)
}
