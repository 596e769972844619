// Progress and cancellation (issue 12, item 4): `onProgress` and `signal` on import, export,
// putFile and verify; `export({ roots })`. Reports are throttled, monotone and end at the true
// totals; an abort (or a throwing onProgress) rejects with the signal's reason, and an aborted
// import changes nothing on every engine (what it staged, compaction reclaims).
import { describe, expect, test } from 'vitest'
import type { CID } from 'multiformats/cid'
import { encodeRaw } from '../../src/block/codec.ts'
import { readCar } from '../../src/car/reader.ts'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import type { Progress } from '../../src/errors/progress.ts'
import type { PutFileOptions } from '../../src/objects/interface.ts'
import { STAGE_SLICE_BYTES } from '../../src/log/plan-import.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { CairnStore } from '../../src/store/store.ts'
import { exportToBlob, importFromBlob } from '../../src/transports/blob.ts'
import { engineKinds, withFixture } from '../support/engines.ts'
import { bytesOf, collect, pattern, rejection, sameBytes } from '../support/stores.ts'

const kinds = await engineKinds()
const MiB = 1 << 20

interface Fixture {
  readonly car: Uint8Array
  /** Frames in the CAR. */
  readonly carBlocks: number
  readonly file: CID
  readonly fileBytes: Uint8Array
  readonly doc: CID
  /** How many reports an import of `car` (as bytes) makes. */
  readonly importReports: number
}

let shared: Promise<Fixture> | undefined
/** A source store: 2,500 small events (several block reports), a file past one staging slice, a value linking to it. */
function fixture(): Promise<Fixture> {
  shared ??= (async () => {
    const source = await CairnStore.open(new MemoryStorage())
    const batch = Array.from({ length: 2500 }, (_, i) => ({ stream: `s-${i % 7}`, type: 'tick', data: { i } }))
    await source.appendMany(batch)
    const fileBytes = pattern(STAGE_SLICE_BYTES + 3 * MiB, 5)
    const file = await source.putFile(fileBytes)
    const doc = await source.put({ title: 'cover', cover: file, parts: [await source.put({ part: 1 })] }, { type: 'doc' })
    const car = await bytesOf(source.export())
    const read = await readCar([car], { maxBlockBytes: 1 << 22, maxBytes: car.length })
    const carBlocks = (await collect(read.blocks)).length
    await source.close()
    let importReports = 0
    const probe = await CairnStore.open(new MemoryStorage())
    await probe.import(car, { onProgress: () => importReports++ })
    await probe.close()
    return { car, carBlocks, file, fileBytes, doc, importReports }
  })()
  return shared
}

/** Reports are monotone, of one operation, and throttled to about one per MiB or 1,000 blocks. */
function expectWellFormed(reports: Progress[], operation: Progress['operation']): Progress {
  expect(reports.length).toBeGreaterThan(0)
  for (let i = 0; i < reports.length; i++) {
    const p = reports[i]!
    expect(p.operation).toBe(operation)
    if (i > 0) {
      expect(p.blocks).toBeGreaterThanOrEqual(reports[i - 1]!.blocks)
      expect(p.bytes).toBeGreaterThanOrEqual(reports[i - 1]!.bytes)
    }
  }
  const last = reports.at(-1)!
  // Throttled: at most one report per 1,000 blocks or per MiB (plus the final one, and a large chunk's).
  expect(reports.length).toBeLessThanOrEqual(Math.ceil(last.blocks / 1000) + Math.ceil(last.bytes / MiB) + 2)
  return last
}

/** What an import must leave as it was when it fails or is aborted. */
async function visible(store: CairnStore): Promise<unknown> {
  return {
    heads: store.heads.map(String),
    stats: await store.stats(),
    state: String(await store.stateHash()),
    events: (await collect(store.query({ limit: 5 }))).map((e) => String(e.cid)),
    objects: (await collect(store.objects())).map((o) => String(o.cid)),
  }
}

/** The CAR in 256 KiB chunks, calling `at(bytesSoFar)` before each. */
async function* chunked(car: Uint8Array, at: (offset: number) => void): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < car.length; i += 256 * 1024) {
    at(i)
    yield car.subarray(i, i + 256 * 1024)
  }
}

/**
 * A put whose onProgress aborts its signal at the first report: rejects with the signal's
 * reason before its last byte was reported (`total` bytes in all).
 */
async function abortedByItsFirstReport(put: (options: PutFileOptions) => Promise<unknown>, total: number): Promise<void> {
  const mid = new AbortController()
  const seen: number[] = []
  const err = await rejection(
    put({
      signal: mid.signal,
      onProgress: (p) => {
        seen.push(p.bytes)
        mid.abort()
      },
    }),
  )
  expect(err).toBe(mid.signal.reason)
  expect(seen.at(-1)).toBeLessThan(total)
}

describe('progress reports', () => {
  test('import: monotone, throttled, ending at the CAR blocks and bytes, with totalBytes for bytes and Blobs', async () => {
    const fx = await fixture()
    const reports: Progress[] = []
    const store = await CairnStore.open(new MemoryStorage())
    await store.import(fx.car, { onProgress: (p) => reports.push(p) })
    const last = expectWellFormed(reports, 'import')
    expect(reports.length).toBeGreaterThan(3)
    expect(last).toEqual({ operation: 'import', blocks: fx.carBlocks, bytes: fx.car.length, totalBytes: fx.car.length })
    await store.close()

    const viaBlob: Progress[] = []
    const other = await CairnStore.open(new MemoryStorage())
    await importFromBlob(other, new Blob([fx.car as Uint8Array<ArrayBuffer>]), { onProgress: (p) => viaBlob.push(p) })
    expect(expectWellFormed(viaBlob, 'import')).toEqual({ operation: 'import', blocks: fx.carBlocks, bytes: fx.car.length, totalBytes: fx.car.length })
    // A stream of unknown length: no totalBytes.
    const streamed: Progress[] = []
    const third = await CairnStore.open(new MemoryStorage())
    await third.import(
      chunked(fx.car, () => {}),
      { onProgress: (p) => streamed.push(p) },
    )
    expect(expectWellFormed(streamed, 'import')).toEqual({ operation: 'import', blocks: fx.carBlocks, bytes: fx.car.length })
    await other.close()
    await third.close()
  }, 120_000)

  test('export: monotone, ending at the blocks and bytes of the CAR it wrote; exportToBlob passes options through', async () => {
    const fx = await fixture()
    const store = await CairnStore.open(new MemoryStorage())
    await store.import(fx.car)
    const reports: Progress[] = []
    const car = await bytesOf(store.export({ onProgress: (p) => reports.push(p) }))
    expect(sameBytes(car, fx.car)).toBe(true)
    const last = expectWellFormed(reports, 'export')
    expect(reports.length).toBeGreaterThan(3)
    expect(last).toEqual({ operation: 'export', blocks: fx.carBlocks, bytes: car.length })
    const viaBlob: Progress[] = []
    const blob = await exportToBlob(store, { roots: [fx.file], onProgress: (p) => viaBlob.push(p) })
    expect(expectWellFormed(viaBlob, 'export').bytes).toBe(blob.size)
    await store.close()
  }, 120_000)

  test('putFile: bytes end at the file size (totalBytes for bytes), blocks at the blocks of its DAG', async () => {
    const fx = await fixture()
    const store = await CairnStore.open(new MemoryStorage())
    const reports: Progress[] = []
    const cid = await store.putFile(fx.fileBytes, { onProgress: (p) => reports.push(p) })
    expect(String(cid)).toBe(String(fx.file))
    const last = expectWellFormed(reports, 'putFile')
    expect(reports.length).toBeGreaterThan(3)
    const dag = await readCar([await bytesOf(store.export({ roots: [cid] }))], { maxBlockBytes: 1 << 22, maxBytes: 1 << 30 })
    expect(last).toEqual({ operation: 'putFile', blocks: (await collect(dag.blocks)).length, bytes: fx.fileBytes.length, totalBytes: fx.fileBytes.length })
    await store.close()
  }, 120_000)

  test("verify: ends at the report's blocks and bytes", async () => {
    const fx = await fixture()
    const store = await CairnStore.open(new MemoryStorage())
    await store.import(fx.car)
    const reports: Progress[] = []
    const report = await store.verify({ onProgress: (p) => reports.push(p) })
    expect(expectWellFormed(reports, 'verify')).toEqual({ operation: 'verify', blocks: report.blocks, bytes: report.bytes })
    expect(reports.length).toBeGreaterThan(3)
    await store.close()
  }, 120_000)

  test('no onProgress, no signal: the operations behave as before', async () => {
    const fx = await fixture()
    const store = await CairnStore.open(new MemoryStorage())
    expect((await store.import(fx.car, {})).blocks).toBe(fx.carBlocks)
    expect(sameBytes(await bytesOf(store.export({})), fx.car)).toBe(true)
    await store.close()
  }, 120_000)
})

for (const kind of kinds) {
  describe(`an aborted import changes nothing (${kind.name})`, () => {
    test('aborted before it starts, while file blocks are staged, and by a throwing onProgress at the final report', async () => {
      const fx = await fixture()
      await withFixture(kind, async (place) => {
        const store = await CairnStore.open(await place.open())
        await store.append({ stream: 'mine', type: 'x', data: { n: 1 } })
        const before = await visible(store)

        const early = new AbortController()
        const reason = new Error('stop before')
        early.abort(reason)
        expect(await rejection(store.import(fx.car, { signal: early.signal }))).toBe(reason)
        expect(await visible(store)).toEqual(before)

        // Past one staging slice of file blocks (written to storage, unreferenced), then abort.
        const during = new AbortController()
        // The file's blocks come last in the CAR: abort a MiB past its first staging slice.
        const abortAt = fx.car.length - fx.fileBytes.length + STAGE_SLICE_BYTES + MiB
        let readTo = 0
        const err = await rejection(
          store.import(
            chunked(fx.car, (at) => {
              readTo = at
              if (at >= abortAt) during.abort()
            }),
            { signal: during.signal },
          ),
        )
        // Stopped between blocks, not at the end of the CAR.
        expect(readTo).toBeLessThan(abortAt + MiB)
        expect((err as Error).name).toBe('AbortError')
        expect(err).toBe(during.signal.reason)
        expect(await visible(store)).toEqual(before)

        // onProgress throwing at its last report (the final one, just before the commit) is an abort too.
        const boom = new Error('progress bar broke')
        let calls = 0
        const thrown = await rejection(
          store.import(fx.car, {
            onProgress: () => {
              if (++calls === fx.importReports) throw boom
            },
          }),
        )
        expect(thrown).toBe(boom)
        expect(await visible(store)).toEqual(before)

        // What the aborted imports staged is unreferenced: compaction reclaims it.
        const { bytesReclaimed } = await store.compact({ minDeadRatio: 0 })
        expect(bytesReclaimed).toBeGreaterThanOrEqual(STAGE_SLICE_BYTES)
        expect(await visible(store)).toEqual(before)
        // And the same CAR, not aborted, imports whole.
        await store.import(fx.car)
        expect(await store.verify()).toMatchObject({ dangling: [] })
        const after = await visible(store)
        expect(after).not.toEqual(before)
        await store.close()
        if (place.persistent) {
          const reopened = await CairnStore.open(await place.open())
          expect(await visible(reopened)).toEqual(after)
          await reopened.close()
        }
      })
    }, 180_000)
  })
}

describe('abort and throwing onProgress: export, putFile, verify', () => {
  test('export: aborted before, the first next() rejects with the reason; aborted midway, the next one does', async () => {
    const fx = await fixture()
    const store = await CairnStore.open(new MemoryStorage())
    await store.import(fx.car)
    const early = new AbortController()
    early.abort('nope')
    expect(await rejection(bytesOf(store.export({ signal: early.signal })))).toBe('nope')

    const during = new AbortController()
    const it = store.export({ signal: during.signal })[Symbol.asyncIterator]()
    expect((await it.next()).done).toBe(false)
    during.abort()
    expect(await rejection(it.next())).toBe(during.signal.reason)
    expect((await it.next()).done).toBe(true)

    const boom = new Error('boom')
    expect(
      await rejection(
        bytesOf(
          store.export({
            onProgress: () => {
              throw boom
            },
          }),
        ),
      ),
    ).toBe(boom)
    await store.close()
  }, 120_000)

  test('putFile: aborted before or while chunking, or by onProgress at the end, records nothing', async () => {
    const fx = await fixture()
    const store = await CairnStore.open(new MemoryStorage())
    await store.append({ stream: 'mine', type: 'x' })
    const before = await visible(store)
    const early = new AbortController()
    early.abort('early')
    expect(await rejection(store.putFile(fx.fileBytes, { signal: early.signal }))).toBe('early')

    const during = new AbortController()
    async function* slowly(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < fx.fileBytes.length; i += MiB) {
        if (i >= 2 * MiB) during.abort()
        yield fx.fileBytes.subarray(i, i + MiB)
      }
    }
    expect(await rejection(store.putFile(slowly(), { signal: during.signal }))).toBe(during.signal.reason)
    // One whole Uint8Array is handed on a MiB at a time: an abort from onProgress lands midway.
    await abortedByItsFirstReport((options) => store.putFile(fx.fileBytes, options), fx.fileBytes.length)
    const boom = new Error('boom')
    let reports = 0
    const probe = await CairnStore.open(new MemoryStorage())
    await probe.putFile(fx.fileBytes, { onProgress: () => reports++ })
    await probe.close()
    let calls = 0
    const last = await rejection(
      store.putFile(fx.fileBytes, {
        onProgress: () => {
          if (++calls === reports) throw boom
        },
      }),
    )
    expect(last).toBe(boom)
    expect(await visible(store)).toEqual(before)
    // Not aborted: recorded.
    expect(String(await store.putFile(fx.fileBytes))).toBe(String(fx.file))
    expect((await collect(store.objects())).map((o) => String(o.cid))).toEqual([String(fx.file)])
    await store.close()
  }, 120_000)

  test("a transaction's putFile: reports as store.putFile does; aborted before or while chunking, or by onProgress at the end, the transaction commits nothing", async () => {
    const fx = await fixture()
    // What store.putFile reports for this file.
    const direct: Progress[] = []
    const probe = await CairnStore.open(new MemoryStorage())
    await probe.putFile(fx.fileBytes, { onProgress: (p) => direct.push(p) })
    await probe.close()

    const store = await CairnStore.open(new MemoryStorage())
    await store.append({ stream: 'mine', type: 'x' })
    const before = await visible(store)
    /** A transaction that appends, then puts the file with `options`. */
    const withFile = (options: PutFileOptions) =>
      store.transaction(async (tx) => {
        tx.append({ stream: 'mine', type: 'file.added' })
        return tx.putFile(fx.fileBytes, options)
      })
    const early = new AbortController()
    early.abort('early')
    expect(await rejection(withFile({ signal: early.signal }))).toBe('early')
    // A body that does not await the file: the transaction waits for it, and fails with it.
    expect(
      await rejection(
        store.transaction((tx) => {
          tx.append({ stream: 'mine', type: 'file.added' })
          tx.putFile(fx.fileBytes, { signal: early.signal }).catch(() => {})
        }),
      ),
    ).toBe('early')
    await abortedByItsFirstReport(withFile, fx.fileBytes.length)
    // A throw from the final report, once the file is chunked.
    const boom = new Error('boom')
    let calls = 0
    const last = await rejection(
      withFile({
        onProgress: () => {
          if (++calls === direct.length) throw boom
        },
      }),
    )
    expect(last).toBe(boom)
    expect(await visible(store)).toEqual(before)
    // Not aborted: the reports of store.putFile, and the file committed with the append.
    const reports: Progress[] = []
    const { value, events } = await withFile({ signal: new AbortController().signal, onProgress: (p) => reports.push(p) })
    expect(reports).toEqual(direct)
    expect(String(value)).toBe(String(fx.file))
    expect(events.map((e) => e.type)).toEqual(['file.added'])
    expect((await collect(store.objects())).map((o) => String(o.cid))).toEqual([String(fx.file)])
    await store.close()
  }, 120_000)

  test('verify: aborted before or midway rejects with the reason', async () => {
    const fx = await fixture()
    const store = await CairnStore.open(new MemoryStorage())
    await store.import(fx.car)
    const early = new AbortController()
    early.abort('early')
    expect(await rejection(store.verify({ signal: early.signal }))).toBe('early')
    const during = new AbortController()
    let reports = 0
    const err = await rejection(
      store.verify({
        signal: during.signal,
        onProgress: () => {
          reports++
          during.abort()
        },
      }),
    )
    expect(err).toBe(during.signal.reason)
    expect(reports).toBe(1)
    await store.close()
  }, 120_000)
})

describe('argument checks', () => {
  test('a non-function onProgress or a non-AbortSignal signal is a TypeError, before anything runs', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const bad = [{ onProgress: 'yes' }, { onProgress: null }, { signal: {} }, { signal: 'abort' }, { signal: null }] as never[]
    const car = await bytesOf(store.export())
    for (const options of bad) {
      await expect(store.import(car, options)).rejects.toThrow(TypeError)
      await expect(store.putFile(new Uint8Array(3), options)).rejects.toThrow(TypeError)
      await expect(store.verify(options)).rejects.toThrow(TypeError)
      expect(() => store.export(options)).toThrow(TypeError)
      await expect(store.transaction((tx) => tx.putFile(new Uint8Array(3), options))).rejects.toThrow(TypeError)
    }
    expect(await collect(store.objects())).toEqual([])
    await store.close()
  })

  test('exportToBlob and importFromBlob without a store: a TypeError naming "store", not an untyped one from inside', async () => {
    for (const store of [null, undefined, {}, 'store']) {
      await expect(exportToBlob(store as never)).rejects.toThrow(/^"store" expected a CairnStore/)
      await expect(importFromBlob(store as never, new Blob([]))).rejects.toThrow(/^"store" expected a CairnStore/)
    }
  })

  test('roots: not with since (TypeError), at least one (RangeError), CIDs only (TypeError)', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const cid = await store.put({ a: 1 })
    expect(() => store.export({ roots: [cid], since: [] })).toThrow(TypeError)
    expect(() => store.export({ roots: [] })).toThrow(RangeError)
    expect(() => store.export({ roots: ['bafy'] as never })).toThrow(TypeError)
    expect(() => store.export({ roots: cid as never })).toThrow(TypeError)
    await store.close()
  })
})

describe('export({ roots })', () => {
  test("an object's CAR holds every block it links to, rooted at it, and no event; another store imports it as a foreign object", async () => {
    const fx = await fixture()
    const store = await CairnStore.open(new MemoryStorage())
    await store.import(fx.car)
    const car = await bytesOf(store.export({ roots: [fx.doc] }))
    const read = await readCar([car], { maxBlockBytes: 1 << 22, maxBytes: 1 << 30 })
    expect(read.roots.map(String)).toEqual([String(fx.doc)])
    const blocks = await collect(read.blocks)
    const fileDag = await collect((await readCar([await bytesOf(store.export({ roots: [fx.file] }))], { maxBlockBytes: 1 << 22, maxBytes: 1 << 30 })).blocks)
    // The doc, its part, and the file's whole DAG; each block once; no event.
    expect(blocks.length).toBe(2 + fileDag.length)
    expect(new Set(blocks.map((b) => String(b.cid))).size).toBe(blocks.length)
    expect(String(blocks[0]!.cid)).toBe(String(fx.doc))
    for (const b of fileDag) expect(blocks.some((x) => x.cid.equals(b.cid))).toBe(true)

    const other = await CairnStore.open(new MemoryStorage())
    const report = await other.import(car, { foreignType: 'doc' })
    expect(report).toMatchObject({ events: 0, foreign: [fx.doc], roots: [fx.doc] })
    expect((await collect(other.objects())).map((o) => [String(o.cid), o.type])).toEqual([[String(fx.doc), 'doc']])
    expect(await other.get(fx.doc)).toMatchObject({ title: 'cover' })
    expect(sameBytes(await bytesOf(other.cat(fx.file)), fx.fileBytes)).toBe(true)
    expect(await other.verify()).toMatchObject({ dangling: [] })
    // Several roots: each a root of the CAR, shared blocks once.
    const both = await readCar([await bytesOf(store.export({ roots: [fx.file, fx.doc] }))], { maxBlockBytes: 1 << 22, maxBytes: 1 << 30 })
    expect(both.roots.map(String)).toEqual([String(fx.file), String(fx.doc)])
    expect((await collect(both.blocks)).length).toBe(blocks.length)
    await store.close()
    await other.close()
  }, 120_000)

  test('a root the store lacks rejects with CAIRN_NOT_FOUND naming it; a missing block under a root with CAIRN_MISSING_BLOCK naming that block', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const absent = (await encodeRaw(new Uint8Array([1, 2, 3]))).cid
    const err = await rejection(bytesOf(store.export({ roots: [absent] })))
    expect(isCairnError(err, 'CAIRN_NOT_FOUND')).toBe(true)
    expect(String((err as { cid: CID }).cid)).toBe(String(absent))
    // An event's data may link to a block nobody holds; the event's DAG then lacks it.
    const event = await store.append({ stream: 's', type: 't', data: { link: absent } })
    const missing = await rejection(bytesOf(store.export({ roots: [event.cid] })))
    expect(isCairnError(missing, 'CAIRN_MISSING_BLOCK')).toBe(true)
    expect(String((missing as { cid: CID }).cid)).toBe(String(absent))
    await store.close()
  })
})
