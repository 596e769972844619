// The storage contract, run against every engine that exists in the current runtime.
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { CID } from 'multiformats/cid'
import { encodeValue, encodeRaw } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { engineKinds } from '../support/engines.ts'
import { sameBytes } from '../support/stores.ts'

const kinds = await engineKinds()

function blocksOf(n: number, tag: string): BlockRecord[] {
  return Array.from({ length: n }, (_, i) => encodeValue({ tag, i, pad: 'x'.repeat(i % 7) }))
}

const sortCids = (cids: CID[]): string[] => cids.map(String).sort()

for (const kind of kinds) {
  describe(`storage contract: ${kind.name}`, () => {
    test('a new store is empty', async () => {
      const fx = await kind.create()
      try {
        const s = await fx.open()
        expect(await s.heads()).toEqual([])
        const all = []
        for await (const b of s.blocks()) all.push(b)
        expect(all).toEqual([])
        const missing = encodeValue({ missing: true })
        expect(await s.has(missing.cid)).toBe(false)
        expect(await s.get(missing.cid)).toBeUndefined()
        await s.close()
      } finally {
        await fx.dispose()
      }
    })

    test('commit makes blocks and heads visible together', async () => {
      const fx = await kind.create()
      try {
        const s = await fx.open()
        const first = blocksOf(5, 'a')
        await s.commit({ blocks: first, heads: [first[4]!.cid] })
        const raw = await encodeRaw(new Uint8Array(100_000).fill(7))
        const second = [...blocksOf(3, 'b'), raw]
        await s.commit({ blocks: second, heads: [second[0]!.cid, second[1]!.cid] })
        for (const b of [...first, ...second]) {
          expect(await s.has(b.cid)).toBe(true)
          expect(await s.get(b.cid)).toEqual(b.bytes)
        }
        expect(sortCids(await s.heads())).toEqual(sortCids([second[0]!.cid, second[1]!.cid]))
        const listed: string[] = []
        for await (const b of s.blocks()) listed.push(b.cid.toString())
        expect(listed.sort()).toEqual([...first, ...second].map((b) => b.cid.toString()).sort())
        await s.close()
      } finally {
        await fx.dispose()
      }
    })

    test('repeating a stored block in a later commit is harmless', async () => {
      const fx = await kind.create()
      try {
        const s = await fx.open()
        const [a, b] = blocksOf(2, 'dup')
        await s.commit({ blocks: [a!], heads: [a!.cid] })
        await s.commit({ blocks: [a!, b!], heads: [b!.cid] })
        const listed: string[] = []
        for await (const x of s.blocks()) listed.push(x.cid.toString())
        expect(listed.sort()).toEqual([a!.cid.toString(), b!.cid.toString()].sort())
        await s.close()
      } finally {
        await fx.dispose()
      }
    })

    test('getMany, where an engine offers it, returns blocks in the order asked, undefined for missing ones', async () => {
      const fx = await kind.create()
      try {
        const s = await fx.open()
        const [a, b, c] = blocksOf(3, 'many')
        await s.commit({ blocks: [a!, b!], heads: [b!.cid] })
        if (s.getMany !== undefined) {
          const got = await s.getMany([b!.cid, c!.cid, a!.cid, b!.cid])
          expect(got.map((x) => (x === undefined ? undefined : x.length))).toEqual([b!.bytes.length, undefined, a!.bytes.length, b!.bytes.length])
          expect(got[2]).toEqual(a!.bytes)
          expect(await s.getMany([])).toEqual([])
        }
        await s.close()
      } finally {
        await fx.dispose()
      }
    })

    test('getMany gives what get gives for any request: blocks of any size from several commits, repeats, missing ones', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(fc.oneof({ weight: 6, arbitrary: fc.nat(400) }, { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 300_000 }) }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
          fc.array(fc.nat(), { maxLength: 40 }),
          async (commits, picks) => {
            const fx = await kind.create()
            try {
              const s = await fx.open()
              const all: BlockRecord[] = []
              let n = 0
              for (const sizes of commits) {
                const blocks: BlockRecord[] = await Promise.all(sizes.map((size) => encodeRaw(new Uint8Array(size).fill(n++ & 255).map((x, i) => (i < 4 ? (n >> (i * 8)) & 255 : x)))))
                // A block of an earlier commit stored again now and then.
                if (all.length > 0 && n % 2 === 0) blocks.push(all[n % all.length]!)
                await s.commit({ blocks, heads: [] })
                all.push(...blocks)
              }
              const absent = encodeValue({ absent: n })
              const asked = picks.map((p) => (p % (all.length + 1) === all.length ? absent : all[p % (all.length + 1)]!).cid)
              if (s.getMany !== undefined) {
                const got = await s.getMany(asked)
                expect(got.length).toBe(asked.length)
                for (let i = 0; i < asked.length; i++) {
                  const one = await s.get(asked[i]!)
                  expect(got[i] === undefined, `block #${i}`).toBe(one === undefined)
                  if (one !== undefined) expect(sameBytes(got[i]!, one), `block #${i}`).toBe(true)
                }
              }
              await s.close()
            } finally {
              await fx.dispose()
            }
          },
        ),
        { numRuns: 10 },
      )
    })

    test('an empty commit only moves the heads', async () => {
      const fx = await kind.create()
      try {
        const s = await fx.open()
        const [a, b] = blocksOf(2, 'h')
        await s.commit({ blocks: [a!, b!], heads: [a!.cid] })
        await s.commit({ blocks: [], heads: [b!.cid] })
        expect(sortCids(await s.heads())).toEqual([b!.cid.toString()])
        await s.close()
      } finally {
        await fx.dispose()
      }
    })

    test('a closed engine refuses reads and writes with CAIRN_CLOSED', async () => {
      const fx = await kind.create()
      try {
        const s = await fx.open()
        const [a] = blocksOf(1, 'c')
        await s.close()
        await expect(s.get(a!.cid)).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(s.commit({ blocks: [a!], heads: [a!.cid] })).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
        await expect(s.heads()).rejects.toMatchObject({ code: 'CAIRN_CLOSED' })
      } finally {
        await fx.dispose()
      }
    })

    test.runIf(kind.persistent)('reopen sees every committed block and the last heads', async () => {
      const fx = await kind.create()
      try {
        let s = await fx.open()
        const all: BlockRecord[] = []
        let heads: CID[] = []
        for (let round = 0; round < 4; round++) {
          const batch = blocksOf(10, `r${round}`)
          all.push(...batch)
          heads = [batch[9]!.cid]
          await s.commit({ blocks: batch, heads })
        }
        await s.close()
        s = await fx.open()
        expect(sortCids(await s.heads())).toEqual(sortCids(heads))
        for (const b of all) expect(await s.get(b.cid)).toEqual(b.bytes)
        // and it keeps working after a reopen
        const more = blocksOf(2, 'after')
        await s.commit({ blocks: more, heads: [more[1]!.cid] })
        await s.close()
        s = await fx.open()
        expect(sortCids(await s.heads())).toEqual([more[1]!.cid.toString()])
        expect(await s.get(all[0]!.cid)).toEqual(all[0]!.bytes)
        await s.close()
      } finally {
        await fx.dispose()
      }
    })
  })
}
