import type { ByteSource } from './interface.ts'

/** TypeError naming the argument unless `value` is a ByteSource. */
export function expectByteSource(name: string, value: unknown): ByteSource {
  const ok = value instanceof Uint8Array || (value !== null && typeof value === 'object' &&
    (Symbol.asyncIterator in value || Symbol.iterator in value || typeof (value as ReadableStream).getReader === 'function'))
  if (!ok) throw new TypeError(`"${name}" expected a Uint8Array, a ReadableStream or an (async) iterable of Uint8Array, got ${value === null ? 'null' : typeof value}`)
  return value as ByteSource
}

/** The chunks of a byte source, whatever its form; a chunk that is not a Uint8Array is a TypeError. */
export async function* chunksOf(source: ByteSource, name = 'source'): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) { yield source; return }
  let i = 0
  const check = (chunk: unknown): Uint8Array => {
    if (!(chunk instanceof Uint8Array)) throw new TypeError(`"${name}" chunk ${i} expected a Uint8Array, got ${chunk === null ? 'null' : typeof chunk}`)
    i++
    return chunk
  }
  if (typeof (source as ReadableStream<Uint8Array>).getReader === 'function') {
    const reader = (source as ReadableStream<Uint8Array>).getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        yield check(value)
      }
    } finally {
      reader.releaseLock()
    }
  }
  for await (const chunk of source as AsyncIterable<Uint8Array>) yield check(chunk)
}
