// Bytes in and out of the CLI: stdin, stdout (with backpressure), files, and the abort signal.
import { open, stat } from 'node:fs/promises'
import process from 'node:process'
import { readChunks } from '../fs/durable.ts'
import { CairnError } from '../index.node.ts'
import { AbortedError } from './exit-codes.ts'

/** Bytes asked for per read(2) of a file. */
const READ_BYTES = 1 << 20

/** Throws AbortedError once `signal` has fired. */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortedError()
}

/** The error of a failed file operation: CAIRN_NOT_FOUND for a missing file, CAIRN_STORAGE otherwise; both name the file. */
export function fileError(what: string, file: string, cause: unknown): CairnError {
  if (cause instanceof CairnError) return cause
  const code = (cause as { code?: unknown } | null)?.code
  const detail = (cause as Error | null)?.message ?? String(cause)
  if (code === 'ENOENT') return new CairnError('CAIRN_NOT_FOUND', `${what} ${file}: no such file`, { file, cause })
  return new CairnError('CAIRN_STORAGE', `${what} ${file} failed (${detail})`, { file, cause })
}

/** The size of a file, or undefined when it cannot be known (a pipe). */
export async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const s = await stat(file)
    return s.isFile() ? s.size : undefined
  } catch (cause) {
    throw fileError('reading', file, cause)
  }
}

/** A file's bytes in fresh 1 MiB buffers (readers may keep slices of them). */
export async function* readFileChunks(file: string): AsyncGenerator<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>>
  try {
    fh = await open(file, 'r')
  } catch (cause) {
    throw fileError('opening', file, cause)
  }
  try {
    yield* readChunks(fh, READ_BYTES, (cause) => fileError('reading', file, cause))
  } finally {
    await fh.close().catch(() => {})
  }
}

/** Stdin's bytes, each chunk a Uint8Array of its own. */
export async function* readStdin(): AsyncGenerator<Uint8Array> {
  for await (const chunk of process.stdin as AsyncIterable<Uint8Array>) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

/** All of stdin as text. */
export async function readStdinText(): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of readStdin()) text += decoder.decode(chunk, { stream: true })
  return text + decoder.decode()
}

/** Lines of a byte stream (UTF-8), with their 1-based numbers; a last line without a newline counts. */
export async function* linesOf(source: AsyncIterable<Uint8Array>): AsyncGenerator<{ line: string; n: number }> {
  const decoder = new TextDecoder()
  let rest = ''
  let n = 0
  for await (const chunk of source) {
    rest += decoder.decode(chunk, { stream: true })
    let at = rest.indexOf('\n')
    while (at >= 0) {
      yield { line: rest.slice(0, at), n: ++n }
      rest = rest.slice(at + 1)
      at = rest.indexOf('\n')
    }
  }
  rest += decoder.decode()
  if (rest !== '') yield { line: rest, n: ++n }
}

/** Writes to stdout, waiting for it to drain when its buffer is full. */
export async function writeStdout(bytes: Uint8Array | string): Promise<void> {
  if (process.stdout.write(bytes)) return
  await new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      process.stdout.off('error', onError)
      resolve()
    }
    const onError = (err: Error): void => {
      process.stdout.off('drain', onDrain)
      reject(err)
    }
    process.stdout.once('drain', onDrain)
    process.stdout.once('error', onError)
  })
}

/** Whether stdin is a terminal (no data piped in). */
export function stdinIsTTY(): boolean {
  return process.stdin.isTTY === true
}
