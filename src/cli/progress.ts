// The progress bar of long operations, drawn on stderr only when stderr is a terminal:
// `\r`-rewritten lines with counts, bytes, rate and (when the total is known) a bar and a
// percentage. Quiet otherwise, so pipes and logs get no control characters.
import process from 'node:process'
import type { Progress as ApiProgress, ProgressOptions } from '../index.node.ts'
import { AbortedError } from './exit-codes.ts'

/** What a progress bar shows; every field is optional. */
export interface ProgressState {
  /** Blocks handled so far (from the API's onProgress, when it reports them). */
  blocks?: number
  /** Bytes handled so far. */
  bytes?: number
  /** Bytes in all, when known (a file's size). */
  totalBytes?: number
}

/** Redraws at most this often. */
const REDRAW_MS = 100
const BAR_WIDTH = 24

/** Human bytes: `1.5 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`
}

/** A progress bar for one operation; a no-op when stderr is not a terminal. */
export class Progress {
  readonly #label: string
  readonly #enabled: boolean
  readonly #start = Date.now()
  #state: ProgressState = {}
  #lastDraw = 0
  #timer: ReturnType<typeof setInterval> | undefined
  #done = false

  constructor(label: string, initial: ProgressState = {}, enabled: boolean = process.stderr.isTTY === true) {
    this.#label = label
    this.#state = { ...initial }
    this.#enabled = enabled
    if (enabled) {
      this.#draw()
      // A tick keeps the elapsed time and rate moving while nothing is reported (a slow peer).
      this.#timer = setInterval(() => this.#draw(), 1000)
      this.#timer.unref?.()
    }
  }

  /** Merges new figures in; redraws when the last draw is old enough. */
  update(state: ProgressState): void {
    if (!this.#enabled || this.#done) return
    this.#state = { ...this.#state, ...state }
    if (Date.now() - this.#lastDraw >= REDRAW_MS) this.#draw()
  }

  /** Adds to the byte count. */
  addBytes(n: number): void {
    this.update({ bytes: (this.#state.bytes ?? 0) + n })
  }

  /** Draws the final figures and ends the line. */
  finish(state: ProgressState = {}): void {
    if (!this.#enabled || this.#done) return
    this.#state = { ...this.#state, ...state }
    this.#draw()
    this.#stop()
    process.stderr.write('\n')
  }

  /** Clears the line (on failure), leaving room for the error message. */
  clear(): void {
    if (!this.#enabled || this.#done) return
    this.#stop()
    process.stderr.write('\r\x1b[K')
  }

  #stop(): void {
    this.#done = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
  }

  #draw(): void {
    this.#lastDraw = Date.now()
    const { blocks, bytes, totalBytes } = this.#state
    const seconds = Math.max((Date.now() - this.#start) / 1000, 0.001)
    const parts = [this.#label]
    if (totalBytes !== undefined && totalBytes > 0) {
      const ratio = Math.min((bytes ?? 0) / totalBytes, 1)
      const filled = Math.round(ratio * BAR_WIDTH)
      parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}%`)
      parts.push(`${formatBytes(bytes ?? 0)} / ${formatBytes(totalBytes)}`)
    } else if (bytes !== undefined) {
      parts.push(formatBytes(bytes))
    }
    if (blocks !== undefined) parts.push(`${blocks.toLocaleString('en-US')} blocks`)
    // Nothing counted yet (an API call that reports nothing until it is done): the time alone.
    if (bytes !== undefined) parts.push(`${formatBytes(bytes / seconds)}/s`)
    parts.push(`${seconds.toFixed(1)} s`)
    process.stderr.write(`\r${parts.join('  ')}\x1b[K`)
  }
}

/**
 * Passes chunks through, counting their bytes into `progress`. Once `signal` fires it throws
 * AbortedError at once, even while the source waits for data (a stalled pipe).
 */
export async function* counted(source: AsyncIterable<Uint8Array>, progress: Progress, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]()
  const aborted =
    signal === undefined
      ? undefined
      : new Promise<never>((_, reject) => {
          if (signal.aborted) reject(new AbortedError())
          else signal.addEventListener('abort', () => reject(new AbortedError()), { once: true })
        })
  aborted?.catch(() => {})
  let finished = false
  try {
    for (;;) {
      const next = aborted === undefined ? await it.next() : await Promise.race([it.next(), aborted])
      if (next.done === true) {
        finished = true
        return
      }
      progress.addBytes(next.value.length)
      yield next.value
    }
  } finally {
    // Not awaited after an abort: a source waiting for data would hold the return back.
    if (!finished) it.return?.()?.catch(() => {})
  }
}

/**
 * `{ onProgress, signal }` for an API call, feeding `progress`. Only blocks are taken from the
 * API unless `bytesToo` (the byte counts of import, export and putFile come from the stream
 * boundary, which works with or without the API's reports).
 */
export function apiProgress(progress: Progress, signal: AbortSignal, bytesToo = false): ProgressOptions {
  return {
    signal,
    onProgress: (p: ApiProgress) => progress.update(bytesToo ? { blocks: p.blocks, bytes: p.bytes } : { blocks: p.blocks }),
  }
}
