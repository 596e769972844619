// The CARs the writer imports: exports of another store (the donor) written to files by the parent
// before any writer runs. `car-<k>.car` is the donor's whole log after round k, so it holds rounds
// 0 … k, and importing it into a store that has some of them adds only the rest.
import { join } from 'node:path'
import { type CID, encodeValue, exportToFile, openStore } from '../../src/index.node.ts'
import { CARS, mix, rng } from './plan.ts'

export interface DonorEvent {
  stream: string
  type: string
  data: { round: number; i: number; of: number; pad: string; doc?: CID }
}

export interface DonorObject {
  cid: CID
  type: string
  size: number
  /** A put value, or a file's bytes. */
  value?: unknown
  bytes?: Uint8Array
}

export interface DonorRound {
  round: number
  events: DonorEvent[]
  objects: DonorObject[]
}

export const DONOR_TYPE = 'donor'
export const DONOR_FILE_TYPE = 'donor-file'

/** Writes `car-0.car` … `car-<CARS-1>.car` into `dir`; returns what each round holds. */
export async function prepareCars(dir: string): Promise<DonorRound[]> {
  const store = await openStore({ memory: true })
  const rounds: DonorRound[] = []
  for (let round = 0; round < CARS; round++) {
    const r = rng(mix(0xd0, round))
    const objects: DonorObject[] = []
    const value = { donor: round, note: 'n'.repeat(round * 40) }
    const doc = await store.put(value, { type: DONOR_TYPE })
    objects.push({ cid: doc, type: DONOR_TYPE, size: encodeValue(value).bytes.length, value })
    if (round % 2 === 1) {
      // A file of one to three 256 KiB chunks: an import brings a multi-block DAG.
      const bytes = new Uint8Array(100_000 * (round + 1) + round).map((_, i) => (i * 13 + round) & 0xff)
      objects.push({ cid: await store.putFile(bytes, { type: DONOR_FILE_TYPE }), type: DONOR_FILE_TYPE, size: bytes.length, bytes })
    }
    const of = 4 + round * 9
    const events: DonorEvent[] = Array.from({ length: of }, (_, i) => ({
      stream: `d${i % 3}`,
      type: 'donated',
      data: { round, i, of, pad: 'd'.repeat(Math.floor(r() * 200)), ...(i === 0 ? { doc } : {}) },
    }))
    await store.appendMany(events)
    rounds.push({ round, events, objects })
    await exportToFile(store, join(dir, `car-${round}.car`))
  }
  await store.close()
  return rounds
}
