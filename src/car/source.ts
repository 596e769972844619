import type { ByteSource } from './interface.ts'

/** How a failure to read a stream is reported (a broken connection, bad gzip): as `wrap` returns it. */
export type ReadFailure = (cause: unknown) => unknown

/**
 * The chunks of a byte source, whatever its form; a chunk that is not a Uint8Array is a
 * TypeError. A ReadableStream is cancelled when the consumer stops early (a failed import
 * does not leave a download or `blob.stream()` running), and a failure to read it is thrown as
 * `onReadFailure` makes it (default: as is).
 */
export async function* chunksOf(source: ByteSource, name = 'source', onReadFailure: ReadFailure = (cause) => cause): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source
    return
  }
  let i = 0
  const check = (chunk: unknown): Uint8Array => {
    if (!(chunk instanceof Uint8Array)) throw new TypeError(`"${name}" chunk ${i} expected a Uint8Array, got ${chunk === null ? 'null' : typeof chunk}`)
    i++
    return chunk
  }
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    const reader = (source as ReadableStream<Uint8Array>).getReader()
    let done = false
    try {
      for (;;) {
        let result: ReadableStreamReadResult<Uint8Array>
        try {
          result = await reader.read()
        } catch (cause) {
          done = true
          throw onReadFailure(cause)
        }
        if (result.done) {
          done = true
          return
        }
        yield check(result.value)
      }
    } finally {
      if (!done) await reader.cancel().catch(() => {})
      reader.releaseLock()
    }
  }
  for await (const chunk of source as AsyncIterable<Uint8Array>) yield check(chunk)
}
