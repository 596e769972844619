// Derived-data slots (readDerived/writeDerived), run against every engine of the current runtime.
import { describe, expect, test } from 'vitest'
import { encodeValue, equalBytes } from '../../src/block/codec.ts'
import type { StorageEngine } from '../../src/storage/interface.ts'
import { engineKinds, withFixture } from '../support/engines.ts'
import { rejection } from '../support/stores.ts'

const kinds = await engineKinds()

/** Deterministic bytes that differ at every position, so a shifted or mixed value shows. */
function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed * 2654435761 + 1
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** The derived methods, which every engine Cairn ships must have. */
function slots(s: StorageEngine): Required<Pick<StorageEngine, 'readDerived' | 'writeDerived'>> {
  expect(typeof s.readDerived).toBe('function')
  expect(typeof s.writeDerived).toBe('function')
  return { readDerived: (name) => s.readDerived!(name), writeDerived: (name, bytes) => s.writeDerived!(name, bytes) }
}

// equalBytes, not toEqual: Vitest's deep equality takes seconds on MiB arrays.
function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array)
  expect(actual!.length).toBe(expected.length)
  expect(equalBytes(actual!, expected)).toBe(true)
}

for (const kind of kinds) {
  describe(`derived slots: ${kind.name}`, () => {
    test('round trip, overwrite, missing names read as undefined', async () => {
      await withFixture(kind, async (fx) => {
        const s = await fx.open()
        const d = slots(s)
        expect(await d.readDerived('index')).toBeUndefined()
        const first = bytesOf(1000, 1)
        await d.writeDerived('index', first)
        expectBytes(await d.readDerived('index'), first)
        // A shorter value replaces a longer one whole.
        const second = bytesOf(10, 2)
        await d.writeDerived('index', second)
        expectBytes(await d.readDerived('index'), second)
        await d.writeDerived('empty', new Uint8Array(0))
        expectBytes(await d.readDerived('empty'), new Uint8Array(0))
        expect(await d.readDerived('projection.cart')).toBeUndefined()
        // Names are separate slots, including the ones that look like paths or devices.
        const odd = ['.', '..', 'con', 'a.', '-', '_x_', 'x'.repeat(64)]
        for (const [i, name] of odd.entries()) await d.writeDerived(name, bytesOf(20 + i, 10 + i))
        for (const [i, name] of odd.entries()) expectBytes(await d.readDerived(name), bytesOf(20 + i, 10 + i))
        expectBytes(await d.readDerived('index'), second)
        await s.close()
      })
    })

    test('values are copied in and out', async () => {
      await withFixture(kind, async (fx) => {
        const s = await fx.open()
        const d = slots(s)
        const bytes = bytesOf(64, 3)
        const kept = bytes.slice()
        const write = d.writeDerived('copy', bytes)
        bytes.fill(0) // changing the argument right after the call changes nothing stored
        await write
        const read = await d.readDerived('copy')
        expectBytes(read, kept)
        read!.fill(1)
        expectBytes(await d.readDerived('copy'), kept)
        // A view into a larger buffer stores only its own bytes.
        const big = bytesOf(200, 4)
        await d.writeDerived('view', big.subarray(50, 60))
        expectBytes(await d.readDerived('view'), big.slice(50, 60))
        await s.close()
      })
    })

    test('bad names and bytes are refused and write nothing', async () => {
      await withFixture(kind, async (fx) => {
        const s = await fx.open()
        const d = slots(s)
        const good = bytesOf(32, 5)
        await d.writeDerived('keep', good)
        for (const name of ['', 'Index', 'a/b', '../keep', 'a b', 'x'.repeat(65), 'é', 'keep\n', 'a\\b']) {
          expect(await rejection(d.writeDerived(name, bytesOf(8, 6))), name).toBeInstanceOf(RangeError)
          expect(await rejection(d.readDerived(name)), name).toBeInstanceOf(RangeError)
        }
        for (const name of [42, null, undefined, { name: 'keep' }]) {
          expect(await rejection(d.writeDerived(name as unknown as string, bytesOf(8, 6)))).toBeInstanceOf(TypeError)
          expect(await rejection(d.readDerived(name as unknown as string))).toBeInstanceOf(TypeError)
        }
        for (const bytes of ['abc', [1, 2, 3], new ArrayBuffer(4), new Uint16Array(2), null, undefined]) {
          expect(await rejection(d.writeDerived('keep', bytes as unknown as Uint8Array))).toBeInstanceOf(TypeError)
          expect(await rejection(d.writeDerived('fresh', bytes as unknown as Uint8Array))).toBeInstanceOf(TypeError)
        }
        expectBytes(await d.readDerived('keep'), good)
        expect(await d.readDerived('fresh')).toBeUndefined()
        await s.close()
      })
    })

    test('writes land in call order; derived values are not blocks and leave the heads alone', async () => {
      await withFixture(kind, async (fx) => {
        const s = await fx.open()
        const d = slots(s)
        const block = encodeValue({ derived: 'spec' })
        await s.commit({ blocks: [block], heads: [block.cid] })
        await Promise.all([1, 2, 3, 4, 5].map((i) => d.writeDerived('race', bytesOf(100 * i, i))))
        expectBytes(await d.readDerived('race'), bytesOf(500, 5))
        const listed: string[] = []
        for await (const b of s.blocks()) listed.push(b.cid.toString())
        expect(listed).toEqual([block.cid.toString()])
        expect((await s.heads()).map(String)).toEqual([block.cid.toString()])
        await s.close()
      })
    })

    test('a value of a few MB round-trips', async () => {
      await withFixture(kind, async (fx) => {
        const s = await fx.open()
        const d = slots(s)
        const big = bytesOf(4 * 1024 * 1024 + 3, 7)
        await d.writeDerived('snapshot', big)
        expectBytes(await d.readDerived('snapshot'), big)
        await s.close()
        if (kind.persistent) {
          const again = await fx.open()
          expectBytes(await slots(again).readDerived('snapshot'), big)
          await again.close()
        }
      })
    })

    test.runIf(kind.persistent)('values survive close and reopen, beside the blocks', async () => {
      await withFixture(kind, async (fx) => {
        let s = await fx.open()
        const block = encodeValue({ derived: 'persist' })
        await s.commit({ blocks: [block], heads: [block.cid] })
        await slots(s).writeDerived('index', bytesOf(300, 8))
        await slots(s).writeDerived('index', bytesOf(200, 9))
        await slots(s).writeDerived('other', bytesOf(5, 10))
        await s.close()
        s = await fx.open()
        expectBytes(await slots(s).readDerived('index'), bytesOf(200, 9))
        expectBytes(await slots(s).readDerived('other'), bytesOf(5, 10))
        expect(await slots(s).readDerived('never')).toBeUndefined()
        expect((await s.heads()).map(String)).toEqual([block.cid.toString()])
        await slots(s).writeDerived('index', bytesOf(7, 11))
        await s.close()
        s = await fx.open()
        expectBytes(await slots(s).readDerived('index'), bytesOf(7, 11))
        await s.close()
      })
    })

    test('a closed engine refuses derived reads and writes with CAIRN_CLOSED', async () => {
      await withFixture(kind, async (fx) => {
        const s = await fx.open()
        const d = slots(s)
        await d.writeDerived('index', bytesOf(10, 12))
        await s.close()
        expect(await rejection(d.readDerived('index'))).toMatchObject({ code: 'CAIRN_CLOSED' })
        expect(await rejection(d.writeDerived('index', bytesOf(10, 13)))).toMatchObject({ code: 'CAIRN_CLOSED' })
      })
    })
  })
}
