/**
 * The media type of a CAR.
 *
 * @example
 * const response = new Response(await exportToBlob(store), { headers: { 'content-type': CAR_MEDIA_TYPE } })
 */
export const CAR_MEDIA_TYPE = 'application/vnd.ipld.car'

/**
 * A byte source an import reads: whole bytes, a web ReadableStream, or any async iterable of chunks.
 *
 * @example
 * await store.import(carBytes)                      // a Uint8Array
 * await store.import((await fetch(url)).body!)      // a ReadableStream
 */
export type ByteSource = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>

/** TypeError naming the argument unless `value` is a ByteSource. */
export function expectByteSource(name: string, value: unknown): ByteSource {
  const ok = value instanceof Uint8Array || (value !== null && typeof value === 'object' && (Symbol.asyncIterator in value || Symbol.iterator in value || typeof (value as ReadableStream).getReader === 'function'))
  if (!ok) throw new TypeError(`"${name}" expected a Uint8Array, a ReadableStream or an (async) iterable of Uint8Array, got ${value === null ? 'null' : typeof value}`)
  return value as ByteSource
}
