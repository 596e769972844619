import type { CID } from 'multiformats/cid'
import type { BlockRecord } from '../block/interface.ts'

/**
 * Streams a CARv1 (written by @ipld/car's CarWriter) of `blocks` under `roots`. Pull-based:
 * a block is read from `blocks` only when the consumer has taken the previous one, so
 * memory does not grow with the archive. An error from `blocks` ends the stream with it.
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
  for await (const chunk of out) yield chunk
  await producing
  if (failure !== undefined) throw failure.error
}
