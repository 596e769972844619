// Request and response bodies as byte streams, with web APIs only: gzip through
// (De)CompressionStream, bodies read whole under a size cap or gathered into a Blob, chunks
// whose read failures become CairnErrors, and byte counting.
import { concatBytes } from '../../block/codec.ts'
import { sha256Stream } from '../../block/hash.ts'
import { chunksOf } from '../../car/source.ts'
import { CairnError, type CairnErrorCode } from '../../errors/cairn-error.ts'

/**
 * A pull-based ReadableStream over an async iterator: the source is read only when the
 * consumer wants more, so a slow peer holds back the export (whose chunks are already about
 * 64 KiB, see writeCar). `first` is a result already taken from the iterator.
 */
export function iterableToStream(it: AsyncIterator<Uint8Array>, first?: IteratorResult<Uint8Array>): ReadableStream<Uint8Array> {
  let pending = first
  let finished = false
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = pending ?? (await it.next())
        pending = undefined
        if (next.done === true) {
          finished = true
          controller.close()
        } else {
          controller.enqueue(next.value)
        }
      },
      async cancel() {
        if (!finished) await it.return?.()
      },
    },
    { highWaterMark: 0 },
  )
}

/**
 * Chunks of a body (see chunksOf: cancelled when the consumer stops early) whose read failures
 * become a CairnError with `code`, or the abort reason once `signal` aborted.
 */
export function guardedChunks(stream: ReadableStream<Uint8Array>, code: CairnErrorCode, what: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  return chunksOf(stream, what, (cause) => (signal?.aborted === true ? signal.reason : new CairnError(code, `${what} could not be read: ${messageOf(cause)}`, { cause })))
}

/** Reads a request body, refusing it (CAIRN_TOO_LARGE) as soon as it passes `max` bytes. */
export async function readLimited(request: Request, max: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN)
  const tooLarge = (): CairnError => new CairnError('CAIRN_TOO_LARGE', `the request body exceeds ${max} bytes`)
  if (declared > max) throw tooLarge()
  if (request.body === null) return new Uint8Array(0)
  const parts: Uint8Array[] = []
  let size = 0
  for await (const chunk of guardedChunks(request.body, 'CAIRN_INVALID_VALUE', 'the request body')) {
    size += chunk.length
    if (size > max) throw tooLarge()
    parts.push(chunk)
  }
  return concatBytes(parts)
}

/** A response body read whole; a read failure is CAIRN_SYNC, or the abort reason once `signal` aborted. */
export async function responseBytes(response: Response, signal: AbortSignal | undefined): Promise<Uint8Array> {
  try {
    return new Uint8Array(await response.arrayBuffer())
  } catch (cause) {
    if (signal?.aborted === true) throw signal.reason
    throw new CairnError('CAIRN_SYNC', `reading the answer of ${response.url} failed: ${messageOf(cause)}`, { cause })
  }
}

/**
 * A stream gathered into a Blob of `type` (browsers only stream request bodies over HTTP/2,
 * and a Blob gives an exact Content-Length).
 */
export async function gatherBlob(stream: ReadableStream<Uint8Array>, type: string): Promise<Blob> {
  const parts: Uint8Array[] = []
  for await (const part of chunksOf(stream)) parts.push(part)
  return new Blob(parts as BlobPart[], { type })
}

// The DOM typings give (De)CompressionStream a `BufferSource` writable side, which does not
// match `ReadableStream<Uint8Array>`'s pipeThrough; the runtime accepts Uint8Array chunks.
type BytePair = ReadableWritablePair<Uint8Array, Uint8Array>

export function gzipStream(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return stream.pipeThrough(new CompressionStream('gzip') as unknown as BytePair)
}

export function gunzip(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return stream.pipeThrough(new DecompressionStream('gzip') as unknown as BytePair)
}

/** A pass-through that reports the byte length of each chunk. */
export function counter(count: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      count(chunk.length)
      controller.enqueue(chunk)
    },
  })
}

/**
 * A pass-through that hashes the bytes going by (sha-256) and hands the digest to `end` once
 * the stream ends; when `end` throws, the stream fails with that error instead of ending, so a
 * consumer that reads to the end (an import) never sees a clean end of a body whose digest is
 * wrong.
 */
export function digesting(end: (digest: Uint8Array) => void): TransformStream<Uint8Array, Uint8Array> {
  const hash = sha256Stream()
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      hash.update(chunk)
      controller.enqueue(chunk)
    },
    flush() {
      end(hash.digest())
    },
  })
}

/** An error's message, with its cause's when that says something more. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause
    return cause instanceof Error && cause.message !== err.message ? `${err.message} (${cause.message})` : err.message
  }
  return String(err)
}
