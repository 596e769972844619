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
