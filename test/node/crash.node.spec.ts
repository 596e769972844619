// The crash suite: writer processes SIGKILLed at seeded moments while they append, put, store
// files and import CARs, on the files engine and on the blockstore adapter over blockstore-fs.
// After each kill the store is reopened and checked against the writer's plan: every
// acknowledged op whole, the op in flight all or nothing, verify() clean, a second reopen the
// same, and the store still takes appends (test/crash/harness.ts).
//
// `npm test` runs 10 kills per engine; the full run is `npm run test:crash`. Environment:
//   CAIRN_CRASH_KILLS   kills per engine (default 10)
//   CAIRN_CRASH_SEED    the seed (default: random, printed). Each engine's stores use seed,
//                       seed + 1, …; a failure names its store's seed, which re-runs it first.
//   CAIRN_CRASH_VERBOSE one line per kill
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, test } from 'vitest'
import { prepareCars, type DonorRound } from '../crash/donor.ts'
import { CRASH_ENGINES } from '../crash/engines.ts'
import { FileCids, newStats, runEpisode, summary, Timing, WriterPool } from '../crash/harness.ts'
import { removeDir, tempDir } from '../support/tmp.server.ts'

const KILLS = Number(process.env['CAIRN_CRASH_KILLS'] ?? 10)
const SEED = process.env['CAIRN_CRASH_SEED'] === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env['CAIRN_CRASH_SEED'])
if (!Number.isSafeInteger(KILLS) || KILLS < 1) throw new Error(`CAIRN_CRASH_KILLS expected a positive integer, got ${process.env['CAIRN_CRASH_KILLS']}`)
if (!Number.isSafeInteger(SEED) || SEED < 0) throw new Error(`CAIRN_CRASH_SEED expected a non-negative integer, got ${process.env['CAIRN_CRASH_SEED']}`)
const VERBOSE = process.env['CAIRN_CRASH_VERBOSE'] !== undefined
/** Kills per store: each store starts empty, so early commits (a first heads slot, a first segment) are killed often too. */
const PER_STORE = 5

describe(`crash suite (seed ${SEED}, ${KILLS} kills per engine)`, () => {
  let root: string
  let carsDir: string
  let donor: DonorRound[]
  const fileCids = new FileCids()
  const stats = newStats()
  let keep = false

  beforeAll(async () => {
    root = await tempDir('cairn-crash-')
    carsDir = join(root, 'cars')
    await mkdir(carsDir)
    donor = await prepareCars(carsDir)
  })

  afterAll(async () => {
    console.info(summary(stats, SEED))
    if (!keep) await removeDir(root)
  })

  // The engines run side by side (one writer child each at a time); each runs its stores in turn.
  for (const engine of CRASH_ENGINES) {
    test.concurrent(`${engine}: ${KILLS} SIGKILLs`, { timeout: 60_000 + KILLS * 20_000 }, async ({ expect }) => {
      const started = performance.now()
      const failures: string[] = []
      const timing = new Timing()
      const writers = new WriterPool()
      try {
        for (let e = 0; e * PER_STORE < KILLS; e++) {
          const seed = (SEED + e) % 2 ** 31
          const dir = join(root, `${engine}-${seed}`)
          await mkdir(dir)
          try {
            await runEpisode({ engine, seed, kills: Math.min(PER_STORE, KILLS - e * PER_STORE), dir, carsDir, donor, fileCids, timing, writers, stats, ...(VERBOSE ? { log: console.info } : {}) })
            await removeDir(dir)
          } catch (err) {
            keep = true // the failed store stays for inspection
            failures.push(err instanceof Error ? err.message : String(err))
          }
        }
      } finally {
        await writers.close()
      }
      stats.ms.set(engine, performance.now() - started)
      expect(failures, failures.join('\n\n')).toEqual([])
    })
  }
})
