// The full hostile-CAR fuzz run (Node): several seeds, each on the memory and the files engine,
// over 10,000 variants in all. Not part of `npm test` (see test/shared/fuzz.spec.ts for the
// fast subset). Run: npx tsx test/fuzz/fuzz.node.ts
//
//   CAIRN_FUZZ_SEED=<n>        one seed instead of the default four
//   CAIRN_FUZZ_ONLY=<i>        only variant i of each seed (reproduces a failure)
//   CAIRN_FUZZ_COUNT=<n>       variants per seed and engine (default 1400 memory, 1100 files)
//   CAIRN_FUZZ_ENGINE=<name>   memory or files only
//   CAIRN_FUZZ_VERBOSE=1       print every failure and known finding with its bytes
//
// Prints what ran (variants, accepted, refused by code, known findings, seeds) and exits 1 on
// any failure that is not a known finding (test/fuzz/findings.ts).
import { openFileStorage } from '../../src/storage/files/engine.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { removeDir, tempDir } from '../support/tmp.server.ts'
import { buildCorpora, describeCorpus } from './corpora.ts'
import { envInt, env } from './env.ts'
import { newTally, runSeed, summary, type EngineTarget } from './harness.ts'

const ENGINES: { target: EngineTarget; count: number }[] = [
  { target: { name: 'memory', open: async () => ({ storage: new MemoryStorage(), dispose: async () => {} }) }, count: 1400 },
  {
    target: {
      name: 'files',
      async open() {
        const dir = await tempDir('cairn-fuzz-')
        return { storage: await openFileStorage(dir), dispose: () => removeDir(dir) }
      },
    },
    count: 1100,
  },
]

const seedEnv = envInt('CAIRN_FUZZ_SEED')
const seeds = seedEnv === undefined ? [1, 2, 3, 4] : [seedEnv]
const only = envInt('CAIRN_FUZZ_ONLY')
const count = envInt('CAIRN_FUZZ_COUNT')
const engineName = env('CAIRN_FUZZ_ENGINE')
const verbose = env('CAIRN_FUZZ_VERBOSE') === '1' || only !== undefined
const engines = ENGINES.filter((e) => engineName === undefined || e.target.name === engineName)
if (engines.length === 0) throw new RangeError(`CAIRN_FUZZ_ENGINE must be memory or files, got ${engineName}`)

const started = Date.now()
const infos = await Promise.all((await buildCorpora()).map(describeCorpus))
const tally = newTally()
for (const seed of seeds) {
  for (const { target, count: defaultCount } of engines) {
    const t = Date.now()
    const before = tally.variants
    await runSeed(
      {
        seed,
        count: count ?? defaultCount,
        only,
        infos,
        engine: target,
        repro: (s, i) => `CAIRN_FUZZ_SEED=${s} CAIRN_FUZZ_ONLY=${i} CAIRN_FUZZ_ENGINE=${target.name} npx tsx test/fuzz/fuzz.node.ts`,
        log: (line) => {
          if (verbose || line.startsWith('FAILURE')) console.log(line)
        },
      },
      tally,
    )
    console.log(`seed ${seed} on ${target.name}: ${tally.variants - before} variants in ${((Date.now() - t) / 1000).toFixed(1)} s`)
  }
}
console.log(summary(tally, Date.now() - started))
process.exitCode = tally.failures.length > 0 ? 1 : 0
