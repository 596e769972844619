import type { CID } from 'multiformats/cid'
import { concatBytes } from '../block/codec.ts'
import type { BlockRecord } from '../block/interface.ts'

/** CarWriter emits a few small pieces per block; they leave in chunks of at least this size. */
const CHUNK_BYTES = 64 * 1024

/**
 * Streams a CARv1 (written by @ipld/car's CarWriter) of `blocks` under `roots`, in chunks of
 * about 64 KiB (the last may be smaller; a larger block makes a larger one). Pull-based:
 * blocks are read from `blocks` only as the consumer takes chunks, so memory does not grow
 * with the archive. An error from `blocks` ends the stream with it.
 */
export async function* writeCar(roots: readonly CID[], blocks: AsyncIterable<BlockRecord>): AsyncGenerator<Uint8Array> {
  // Loaded on first export: stores that never export do not pay for it.
  const { CarWriter } = await import('@ipld/car/writer')
  const { writer, out } = CarWriter.create([...roots])
  let failure: { error: unknown } | undefined
  const producing = (async () => {
    try {
      for await (const block of blocks) await writer.put(block)
    } catch (error) {
      failure = { error }
    } finally {
      await writer.close()
    }
  })()
  let parts: Uint8Array[] = []
  let size = 0
  for await (const piece of out) {
    parts.push(piece)
    size += piece.length
    if (size >= CHUNK_BYTES) {
      yield concatBytes(parts)
      parts = []
      size = 0
    }
  }
  if (size > 0) yield concatBytes(parts)
  await producing
  if (failure !== undefined) throw failure.error
}
