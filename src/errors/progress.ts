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

/**
 * A long operation's progress options, checked, with what the operation knows ahead. The
 * reporter itself (progress-reporter.ts) is made where the operation's code loads on first
 * use, so an app that never asks for progress does not load it.
 */
export interface ProgressPlan {
  readonly operation: ProgressOperation
  readonly options: ProgressOptions
  readonly totalBytes: number | undefined
}

/** Checks `onProgress` and `signal` (TypeError naming the bad one); undefined when the options have neither (then nothing is counted). */
export function progressPlan(operation: ProgressOperation, options: ProgressOptions, totalBytes?: number): ProgressPlan | undefined {
  const checked = checkProgressOptions(options)
  return checked.onProgress === undefined && checked.signal === undefined ? undefined : { operation, options: checked, totalBytes }
}
