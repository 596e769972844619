// Compaction of the files engine on real files and real processes: segments rewritten past the
// dead-ratio threshold, the block table kept or dropped, blocks stored twice, reads during a
// compaction, and SIGKILL at random moments and at every step of a compaction, after which a
// reopen (from the block table and from a full scan alike) must see every live block and the
// same heads, and a compaction must finish the job.
//
// CAIRN_COMPACT_KILLS=<n> raises the number of random kills (default 30).
import { spawn } from 'node:child_process'
import { appendFile, cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build as bundle } from 'esbuild'
import type { CID } from 'multiformats/cid'
import { describe, expect, test } from 'vitest'
import { encodeRaw, encodeValue, equalBytes } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { type FileStorage, type FileStorageOptions, openFileStorage } from '../../src/storage/files/engine.ts'
import { encodeCommit } from '../../src/storage/files/format.ts'
import { expectAbsent, expectPresent } from '../support/files-engine.node.ts'
import { onLines } from '../support/child-lines.node.ts'
import { freshDirs } from '../support/temp-dirs.node.ts'

const RUNNER = fileURLToPath(new URL('./fixtures/compact-runner.ts', import.meta.url))
const KILLS = Number(process.env.CAIRN_COMPACT_KILLS ?? 30)

const freshDir = freshDirs('cairn-compact-')

const SEGMENT_BYTES = 64 * 1024
/** Folds every 256 blocks: a template's late rounds (under 256 blocks) stay after the table's cover. */
const TABLE_EVERY = 256
const OPTIONS: FileStorageOptions = { segmentBytes: SEGMENT_BYTES, tableEvery: TABLE_EVERY }

const sorted = (cids: readonly CID[]): string[] => cids.map(String).sort()
const keys = (blocks: readonly BlockRecord[]): string[] => blocks.map((b) => b.cid.toString()).sort()
const liveOf = (blocks: readonly BlockRecord[]): ((cid: CID) => boolean) => {
  const set = new Set(blocks.map((b) => b.cid.toString()))
  return (cid) => set.has(cid.toString())
}

/** Blocks of 200 B to ~6 kB, and every seventh a raw block of 20 kB: segments of 64 KiB hold a few dozen. */
async function blocksOf(n: number, tag: string): Promise<BlockRecord[]> {
  const out: BlockRecord[] = []
  for (let i = 0; i < n; i++) {
    if (i % 7 === 6) {
      const bytes = new Uint8Array(20_000).map((_, j) => Math.imul(j, 2654435761) >>> 24)
      bytes.set(new TextEncoder().encode(`${tag}/${i}`)) // each raw block its own
      out.push(await encodeRaw(bytes))
    } else out.push(encodeValue({ tag, i, pad: 'p'.repeat(200 + ((i * 977) % 6000)) }))
  }
  return out
}

interface Store {
  readonly dir: string
  readonly live: BlockRecord[]
  readonly dead: BlockRecord[]
  readonly heads: CID[]
}

/**
 * Rounds of live blocks (moving the heads) and dead ones (committed with the heads unchanged,
 * as an interrupted putFile leaves them), spread over many segments: `deadIn(round)` dead blocks
 * after round `round`'s 8 live ones (6 by default from round `deadFrom` on). Closing writes a
 * block table that covers everything.
 */
async function build(dir: string, rounds: number, deadFrom = 0, deadIn: (round: number) => number = (round) => (round < deadFrom ? 0 : 6), options: FileStorageOptions = OPTIONS): Promise<Store> {
  const s = await openFileStorage(dir, { ...options, tableOnClose: 1 })
  const live: BlockRecord[] = []
  const dead: BlockRecord[] = []
  let heads: CID[] = []
  for (let round = 0; round < rounds; round++) {
    const batch = await blocksOf(8, `live-${round}`)
    live.push(...batch)
    heads = [batch[0]!.cid]
    await s.commit({ blocks: batch, heads })
    if (deadIn(round) === 0) continue
    const garbage = await blocksOf(deadIn(round), `dead-${round}`)
    dead.push(...garbage)
    await s.commit({ blocks: garbage, heads })
  }
  await s.close()
  return { dir, live, dead, heads }
}

async function listAll(s: FileStorage): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  for await (const b of s.blocks()) {
    expect(out.has(b.cid.toString()), `listed twice: ${b.cid}`).toBe(false)
    out.set(b.cid.toString(), b.bytes)
  }
  return out
}

const segmentTemps = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((n) => /^seg-\d+\.car\..*\.tmp$/.test(n))
const segmentFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((n) => /^seg-\d+\.car$/.test(n)).sort()

/** The state a crash left: what one open sees. */
interface Seen {
  readonly listed: string[]
  readonly deadPresent: string[]
}

async function look(s: FileStorage, store: Store): Promise<Seen> {
  expect(sorted(await s.heads())).toEqual(sorted(store.heads))
  await expectPresent(s, store.live)
  const listed = await listAll(s)
  for (const b of store.live) expect(equalBytes(listed.get(b.cid.toString())!, b.bytes), `listed ${b.cid}`).toBe(true)
  const deadPresent: string[] = []
  for (const b of store.dead) {
    const got = await s.get(b.cid)
    if (got === undefined) continue
    expect(equalBytes(got, b.bytes)).toBe(true)
    deadPresent.push(b.cid.toString())
  }
  // Listed: the live blocks and the dead ones still there, nothing else.
  expect([...listed.keys()].sort()).toEqual([...keys(store.live), ...deadPresent].sort())
  return { listed: [...listed.keys()].sort(), deadPresent: deadPresent.sort() }
}

/**
 * After a crash: the reopen removes compaction temporaries, adopts any block table (a table
 * left stale by compaction would be refused or, worse, lose blocks), and sees every live block
 * and the heads; a reopen by full scan sees exactly the same; a compaction then removes every
 * dead block left, and a last reopen agrees.
 */
async function verifyAfterCrash(store: Store): Promise<void> {
  const { dir } = store
  let s = await openFileStorage(dir, OPTIONS)
  expect(await segmentTemps(dir)).toEqual([])
  expect(s.stats.tableIgnored).toBeUndefined()
  expect(s.stats.tableDamaged).toBeUndefined()
  const fromTable = await look(s, store)
  await s.close()
  await rm(join(dir, 'blocks.table'), { force: true })
  s = await openFileStorage(dir, OPTIONS)
  expect(s.stats.openedFromTable).toBe(0)
  expect(await look(s, store)).toEqual(fromTable)
  const report = await s.compact(liveOf(store.live), { minDeadRatio: 0 })
  expect(report.blocksRemoved).toBe(fromTable.deadPresent.length)
  await expectAbsent(s, store.dead)
  expect(await look(s, store)).toEqual({ listed: keys(store.live), deadPresent: [] })
  await s.close()
  s = await openFileStorage(dir, OPTIONS)
  expect(s.stats.tableIgnored).toBeUndefined()
  expect(await look(s, store)).toEqual({ listed: keys(store.live), deadPresent: [] })
  await s.close()
}

interface ChildRun {
  readonly lines: string[]
  readonly stderr: string
  /** Milliseconds from the child's `open` line to its `done` line (when it got there). */
  readonly compactMs: number | undefined
}

/**
 * The child, bundled from the sources into one file: it starts in a fraction of the time
 * `node --import tsx` takes to load the sources, and the spec starts dozens of them.
 */
async function bundleRunner(): Promise<string> {
  const outfile = join(await freshDir(), 'compact-runner.mjs')
  await bundle({ entryPoints: [RUNNER], bundle: true, platform: 'node', format: 'esm', outfile, logLevel: 'warning' })
  return outfile
}

/** Runs the compaction child `runner` on `dir`; kills it with SIGKILL `afterMs` after it opened the store, or as soon as it reports step `pauseAt` (where it waits). */
async function runChild(runner: string, dir: string, liveFile: string, kill: { afterMs?: number; pauseAt?: string }): Promise<ChildRun> {
  const child = spawn(process.execPath, [runner, dir, String(SEGMENT_BYTES), String(TABLE_EVERY), liveFile, kill.pauseAt ?? '-'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const lines: string[] = []
  let opened = 0
  let compactMs: number | undefined
  onLines(child.stdout, (line) => {
    lines.push(line)
    if (line === 'open') {
      opened = performance.now()
      if (kill.afterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), kill.afterMs)
    }
    if (line.startsWith('done ')) compactMs = performance.now() - opened
    if (kill.pauseAt !== undefined && line === `step ${kill.pauseAt}`) child.kill('SIGKILL')
  })
  await new Promise<void>((resolve) => child.on('close', () => resolve()))
  return { lines, stderr, compactMs }
}

/** A template store built once, copied afresh for each run. */
async function template(rounds: number, deadFrom: number, reopenRounds = 0): Promise<Store & { liveFile: string }> {
  const dir = await freshDir()
  let store = await build(dir, rounds, deadFrom)
  if (reopenRounds > 0) {
    // More rounds, with dead blocks, after the table's cover: closed without a fold, so the
    // table covers only the earlier segments (compaction then keeps it).
    const s = await openFileStorage(dir, { ...OPTIONS, tableEvery: 1_000_000, tableOnClose: 1_000_000 })
    const live = [...store.live]
    const dead = [...store.dead]
    let heads = store.heads
    for (let round = 0; round < reopenRounds; round++) {
      const batch = await blocksOf(8, `late-live-${round}`)
      live.push(...batch)
      heads = [batch[0]!.cid]
      await s.commit({ blocks: batch, heads })
      const garbage = await blocksOf(6, `late-dead-${round}`)
      dead.push(...garbage)
      await s.commit({ blocks: garbage, heads })
    }
    await s.close()
    store = { dir, live, dead, heads }
  }
  const liveFile = join(await freshDir(), 'live.json')
  await writeFile(liveFile, JSON.stringify(keys(store.live)))
  return { ...store, liveFile }
}

async function copyOf(t: Store): Promise<Store> {
  const dir = await freshDir()
  await cp(t.dir, dir, { recursive: true })
  return { ...t, dir }
}

describe('files engine: compaction', () => {
  test('segments are rewritten only past minDeadRatio; dead blocks in the others stay readable', async () => {
    const dir = await freshDir()
    // Segments of a few rounds each. No dead block in the first rounds, one per round next (a
    // few % of those segments), then 10 (about 40 %).
    const options = { ...OPTIONS, segmentBytes: 256 * 1024 }
    const store = await build(dir, 48, 0, (round) => (round < 16 ? 0 : round < 32 ? 1 : 10), options)
    const s = await openFileStorage(dir, options)
    const before = await segmentFiles(dir)
    const sizes = await Promise.all(before.map(async (n) => (await stat(join(dir, n))).size))
    // Nothing is 60 % dead.
    expect(await s.compact(liveOf(store.live), { minDeadRatio: 0.6 })).toEqual({ blocksRemoved: 0, bytesReclaimed: 0, segmentsRewritten: 0 })
    await expectPresent(s, store.dead)
    const report = await s.compact(liveOf(store.live), { minDeadRatio: 0.3 })
    expect(report.segmentsRewritten).toBeGreaterThan(0)
    expect(report.blocksRemoved).toBeGreaterThan(0)
    expect(report.blocksRemoved).toBeLessThan(store.dead.length)
    const after = await Promise.all(before.map(async (n) => (await stat(join(dir, n))).size))
    expect(await segmentFiles(dir)).toEqual(before) // numbering unchanged, no gap
    expect(sizes.reduce((a, b) => a + b) - after.reduce((a, b) => a + b)).toBe(report.bytesReclaimed)
    expect(after.filter((size, i) => size < sizes[i]!)).toHaveLength(report.segmentsRewritten!)
    // The early segments, holding no dead block, are untouched.
    expect(after[0]).toBe(sizes[0])
    const seen = await look(s, store)
    expect(seen.deadPresent).toHaveLength(store.dead.length - report.blocksRemoved)
    await s.close()
    const again = await openFileStorage(dir, options)
    expect(await look(again, store)).toEqual(seen)
    // Everything left goes with a ratio of 0.
    expect((await again.compact(liveOf(store.live), { minDeadRatio: 0 })).blocksRemoved).toBe(seen.deadPresent.length)
    await expectAbsent(again, store.dead)
    await again.close()
  })

  test('a block table covering only segments before the rewritten ones is kept; one covering a rewritten segment is replaced', async () => {
    const t = await template(16, 16, 8)
    let s = await openFileStorage(t.dir, OPTIONS)
    const tableBlocks = s.stats.tableBlocks
    expect(tableBlocks).toBe(16 * 8)
    const report = await s.compact(liveOf(t.live), { minDeadRatio: 0 })
    expect(report.blocksRemoved).toBe(t.dead.length)
    expect(s.stats.tableBlocks).toBeGreaterThanOrEqual(tableBlocks) // the old table, or a new one on top of it
    await s.close()
    s = await openFileStorage(t.dir, OPTIONS)
    expect(s.stats.tableIgnored).toBeUndefined()
    expect(await look(s, t)).toEqual({ listed: keys(t.live), deadPresent: [] })
    await s.close()

    // Dead blocks everywhere: the table covers rewritten segments, so it is dropped and rewritten.
    const spread = await template(16, 0)
    s = await openFileStorage(spread.dir, { ...OPTIONS, tableOnClose: 1 })
    const written = s.stats.tablesWritten
    expect(s.stats.openedFromTable).toBe(spread.live.length + spread.dead.length)
    await s.compact(liveOf(spread.live), { minDeadRatio: 0 })
    expect(s.stats.tablesWritten).toBe(written + 1)
    expect(s.stats.tableBlocks).toBe(spread.live.length)
    await s.close()
    s = await openFileStorage(spread.dir, OPTIONS)
    expect(s.stats).toMatchObject({ tableIgnored: undefined, openedFromTable: spread.live.length, scannedOnOpen: 0 })
    expect(await look(s, spread)).toEqual({ listed: keys(spread.live), deadPresent: [] })
    await s.close()
  })

  test('a block stored twice: the later copy is dropped, or becomes the block when its first copy goes; table and scan agree', async () => {
    const dir = await freshDir()
    const options = { ...OPTIONS, tableOnClose: 1 }
    const built = await build(dir, 10, 0, () => 20) // every early segment mostly dead
    // A last segment of live blocks only (the smallest segment limit starts a new one)...
    let s = await openFileStorage(dir, { ...options, segmentBytes: 19 })
    const more = await blocksOf(24, 'more')
    await s.commit({ blocks: more, heads: [more[0]!.cid] })
    await s.close()
    const store: Store = { ...built, live: [...built.live, ...more], heads: [more[0]!.cid] }
    // ... then later copies of a dead and a live block, appended as one more commit (the engine
    // never writes a block it holds; the format allows it).
    const deadTwice = store.dead[2]!
    const liveTwice = store.live[3]!
    const last = join(dir, (await segmentFiles(dir)).at(-1)!)
    await appendFile(last, encodeCommit([deadTwice, liveTwice], store.heads).buffer)
    const lastSize = (await stat(last)).size
    s = await openFileStorage(dir, options)
    await expectPresent(s, [deadTwice, liveTwice])
    // The first copies' segments are rewritten, not the last one: too little of it is dead.
    const isLive = liveOf(store.live)
    const report = await s.compact(isLive, { minDeadRatio: 0.2 })
    expect(report.segmentsRewritten).toBeGreaterThan(0)
    expect((await stat(last)).size).toBe(lastSize)
    expect(report.blocksRemoved).toBe(store.dead.length - 1)
    await expectPresent(s, [deadTwice, liveTwice])
    const seen = await look(s, store)
    expect(seen.deadPresent).toContain(deadTwice.cid.toString())
    await s.close()
    s = await openFileStorage(dir, options)
    expect(s.stats.openedFromTable).toBeGreaterThan(0)
    expect(await look(s, store)).toEqual(seen)
    await s.close()
    await rm(join(dir, 'blocks.table'))
    s = await openFileStorage(dir, options)
    expect(s.stats.openedFromTable).toBe(0)
    expect(await look(s, store)).toEqual(seen)
    // Every dead frame goes with a ratio of 0, the later copies included.
    await s.compact(isLive, { minDeadRatio: 0 })
    await expectAbsent(s, store.dead)
    await expectPresent(s, [liveTwice])
    await s.close()
    s = await openFileStorage(dir, OPTIONS)
    expect(await look(s, store)).toEqual({ listed: keys(store.live), deadPresent: [] })
    await s.close()
  })

  test('a compacted last segment whose blocks would fail the re-hash of the last commit on open (stored as given) reopens whole', async () => {
    const dir = await freshDir()
    let s = await openFileStorage(dir, OPTIONS)
    const live = await blocksOf(6, 'live')
    // Engines store bytes as given; the layers above verify. Open re-hashes the last commit's
    // blocks, so a compaction that wrote all the live blocks as the last commit would lose them.
    const odd: BlockRecord = { cid: encodeValue({ odd: 1 }).cid, bytes: encodeValue({ odd: 2 }).bytes }
    await s.commit({ blocks: [...live, odd], heads: [live[0]!.cid] })
    const dead = await blocksOf(6, 'dead')
    await s.commit({ blocks: dead, heads: [live[0]!.cid] })
    expect((await s.compact(liveOf([...live, odd]), { minDeadRatio: 0 })).blocksRemoved).toBe(dead.length)
    await s.close()
    s = await openFileStorage(dir, OPTIONS)
    expect(sorted(await s.heads())).toEqual([live[0]!.cid.toString()])
    await expectPresent(s, [...live, odd])
    await expectAbsent(s, dead)
    await s.close()
  })

  test('reads and a blocks() iteration during a compaction over many segments see every live block', async () => {
    const t = await template(30, 0)
    const s = await openFileStorage(t.dir, OPTIONS)
    const iteration = s.blocks()[Symbol.asyncIterator]()
    const first = await iteration.next() // started before the compaction, finished after it
    let done = false
    const compaction = s.compact(liveOf(t.live), { minDeadRatio: 0 }).finally(() => {
      done = true
    })
    let reads = 0
    while (!done) {
      for (const b of t.live) {
        const got = await s.get(b.cid)
        expect(got !== undefined && equalBytes(got, b.bytes), `get ${b.cid} during compaction`).toBe(true)
        expect(await s.has(b.cid)).toBe(true)
        reads++
        if (done) break
      }
    }
    expect((await compaction).blocksRemoved).toBe(t.dead.length)
    expect(reads).toBeGreaterThan(0)
    const listed = new Set<string>([String(first.value!.cid)])
    for (let r = await iteration.next(); !r.done; r = await iteration.next()) {
      expect(listed.has(r.value.cid.toString())).toBe(false)
      listed.add(r.value.cid.toString())
    }
    // The iteration read the segments as they were: every block then, once.
    expect([...listed].sort()).toEqual([...keys(t.live), ...keys(t.dead)].sort())
    await s.close()
  })

  test('gets of large blocks (two reads each) racing the swap of their segment find them', async () => {
    // Blocks over 64 KiB are read in two steps (frame header, then the bytes): a swap of their
    // segment's file between the two must not turn into a failed or missing read.
    const dir = await freshDir()
    // Segments of a few rounds, a dead block before the live ones in each: the live blocks move.
    const options = { ...OPTIONS, segmentBytes: 1024 * 1024 }
    let s = await openFileStorage(dir, { ...options, tableOnClose: 1 })
    const live: BlockRecord[] = []
    const big = async (tag: string): Promise<BlockRecord> => {
      const bytes = new Uint8Array(100_000).map((_, j) => Math.imul(j, 2654435761) >>> 24)
      bytes.set(new TextEncoder().encode(tag))
      return encodeRaw(bytes)
    }
    let heads: CID[] = []
    for (let round = 0; round < 12; round++) {
      await s.commit({ blocks: [await big(`dead-${round}`)], heads })
      const batch = [await big(`live-a-${round}`), await big(`live-b-${round}`)]
      live.push(...batch)
      heads = [batch[0]!.cid]
      await s.commit({ blocks: batch, heads })
    }
    await s.close()
    const template: Store = { dir, live, dead: [], heads }
    for (let attempt = 0; attempt < 8; attempt++) {
      const store = await copyOf(template)
      s = await openFileStorage(store.dir, options)
      let done = false
      const compaction = s.compact(liveOf(live), { minDeadRatio: 0 }).finally(() => {
        done = true
      })
      while (!done) {
        await Promise.all(
          live.map(async (b) => {
            const got = await s.get(b.cid)
            expect(got !== undefined && equalBytes(got, b.bytes), `get ${b.cid} during compaction`).toBe(true)
          }),
        )
      }
      expect((await compaction).blocksRemoved).toBe(12)
      await s.close()
    }
  })

  test('close() during a compaction: the compaction stops or finishes, and the store reopens whole', async () => {
    const t = await template(20, 0)
    const outcomes: string[] = []
    for (const delay of [0, 2, 5, 10, 20, 40]) {
      const store = await copyOf(t)
      const s = await openFileStorage(store.dir, OPTIONS)
      const compaction = s.compact(liveOf(store.live), { minDeadRatio: 0 }).then(
        () => 'done',
        (err: { code?: string }) => err.code ?? String(err),
      )
      await new Promise((resolve) => setTimeout(resolve, delay))
      await s.close()
      const outcome = await compaction
      expect(['done', 'CAIRN_CLOSED']).toContain(outcome)
      outcomes.push(outcome)
      await verifyAfterCrash(store)
    }
    expect(outcomes).toContain('CAIRN_CLOSED')
  })

  test('temporary files of a compaction a crash interrupted, torn or whole, are removed on open', async () => {
    const t = await template(12, 0)
    const store = await copyOf(t)
    const segments = await segmentFiles(store.dir)
    const original = await readFile(join(store.dir, segments[1]!))
    await writeFile(join(store.dir, `${segments[1]}.abc123.tmp`), original.subarray(0, 1000)) // torn
    await writeFile(join(store.dir, `${segments[2]}.x.tmp`), await readFile(join(store.dir, segments[2]!))) // whole
    await writeFile(join(store.dir, `${segments[0]}..tmp`), new Uint8Array(0)) // empty
    await verifyAfterCrash(store)
    expect(await readFile(join(store.dir, segments[1]!))).not.toEqual(original) // compacted by the verification
  })

  test(`SIGKILL at every step and at ${KILLS} random moments of a compaction: every live block and the heads survive`, async () => {
    // Dead blocks everywhere (the table is dropped), and only after the table's cover (it is kept).
    const runner = await bundleRunner()
    const templates = [await template(20, 0), await template(12, 12, 8)]
    let kills = 0
    let completed = 0
    const stepsSeen: string[] = []
    const phases = new Map<string, number>()
    for (const [which, t] of templates.entries()) {
      // One full run to learn the steps and how long a compaction takes.
      const probe = await copyOf(t)
      const full = await runChild(runner, probe.dir, t.liveFile, {})
      expect(full.lines, full.stderr).toContain('closed')
      await verifyAfterCrash(probe)
      const steps = full.lines.filter((l) => l.startsWith('step ')).map((l) => l.slice(5))
      expect(steps).toContain('swapped')
      expect(steps.includes('table removed')).toBe(which === 0)
      const written = steps.filter((step) => step.startsWith('written '))
      const renamed = steps.filter((step) => step.startsWith('renamed '))
      expect(written.length).toBeGreaterThan(3)
      expect(renamed).toHaveLength(written.length)
      // Stop at each kind of step (the first, second, a middle and the last of the repeated ones), then kill.
      const pick = (all: string[]): string[] => [all[0]!, all[1]!, all[all.length >> 1]!, all.at(-1)!]
      const chosen = [...new Set(steps.filter((step) => !step.startsWith('written ') && !step.startsWith('renamed ')).concat(pick(written), pick(renamed)))]
      for (const step of chosen) {
        const store = await copyOf(t)
        const before = await Promise.all((await segmentFiles(store.dir)).map((n) => readFile(join(store.dir, n))))
        const run = await runChild(runner, store.dir, t.liveFile, { pauseAt: step })
        expect(run.lines, run.stderr).toContain(`step ${step}`)
        expect(run.lines.some((l) => l.startsWith('done '))).toBe(false)
        if (step === 'surveyed' || step.startsWith('written ') || step === 'table removed') {
          // Nothing renamed yet: the segments are as they were, temporaries beside them.
          const now = await Promise.all((await segmentFiles(store.dir)).map((n) => readFile(join(store.dir, n))))
          expect(now.every((bytes, i) => equalBytes(bytes, before[i]!))).toBe(true)
          if (step !== 'surveyed') expect((await segmentTemps(store.dir)).length).toBeGreaterThan(0)
        }
        await verifyAfterCrash(store)
        kills++
        stepsSeen.push(step)
      }
      // Random moments from the open to about the compaction's end (narrowed when one finished first).
      let window = Math.max(5, full.compactMs!)
      const target = Math.ceil((KILLS * (which === 0 ? 2 : 1)) / 3)
      let landed = 0
      for (let round = 0; landed < target && round < target * 5; round++) {
        const store = await copyOf(t)
        const run = await runChild(runner, store.dir, t.liveFile, { afterMs: Math.random() * window })
        expect(run.lines, run.stderr).toContain('open')
        if (run.compactMs === undefined) {
          landed++
          // Where it landed: after the last step the child reported.
          const last =
            run.lines
              .filter((l) => l.startsWith('step '))
              .at(-1)
              ?.replace(/ \d+$/, ' n') ?? 'before the survey'
          phases.set(last, (phases.get(last) ?? 0) + 1)
        } else {
          completed++
          window = Math.max(5, Math.min(window, run.compactMs) * 0.9)
        }
        await verifyAfterCrash(store)
      }
      expect(landed).toBe(target)
      kills += landed
    }
    console.info(`compaction kill -9: ${kills} kills inside a compaction (${stepsSeen.length} at a chosen step), ${completed} runs finished before their kill; random kills after step: ${JSON.stringify(Object.fromEntries(phases))}`)
    expect(kills).toBeGreaterThanOrEqual(KILLS)
  }, 600_000)
})
