/** The media type of a CAR. */
export const CAR_MEDIA_TYPE = 'application/vnd.ipld.car'

/** A byte source an import reads: whole bytes, a web ReadableStream, or any async iterable of chunks. */
export type ByteSource = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>
