// The object store, run on every engine that exists in the current runtime.
import { describe, expect, test } from 'vitest'
import type { CID } from 'multiformats/cid'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importer } from 'ipfs-unixfs-importer'
import { engineKinds } from '../support/engines.ts'
import { collect, openOn, pattern, sameBytes } from '../support/stores.ts'
import { concatBytes, encodeValue } from '../../src/block/codec.ts'

const kinds = await engineKinds()

async function referenceCid(bytes: Uint8Array): Promise<CID> {
  let last: CID | undefined
  for await (const e of importer([{ content: [bytes] }], new MemoryBlockstore(), { cidVersion: 1, rawLeaves: true })) last = e.cid
  return last!
}

for (const kind of kinds) {
  describe(`object store on ${kind.name}`, () => {
    test('put/get round trip, same value same CID, no second write', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        const value = { title: 'Notes', tags: ['a', 'b'], n: 3 }
        const cid = await store.put(value, { type: 'doc' })
        expect(cid.equals(encodeValue(value).cid)).toBe(true)
        expect(await store.get(cid)).toEqual(value)
        const heads = store.heads
        const again = await store.put({ n: 3, tags: ['a', 'b'], title: 'Notes' }, { type: 'doc' })
        expect(again.equals(cid)).toBe(true)
        expect(store.heads).toEqual(heads) // nothing written
        expect(store.version('$objects')).toBe(1)
        const [event] = await collect(store.read('$objects'))
        expect(event).toMatchObject({ type: 'object.put', data: { type: 'doc', size: encodeValue(value).bytes.length } })
        expect((event!.data as { cid: CID }).cid.equals(cid)).toBe(true)
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('objects({ type }) and referrers() from objects and events', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        const file = await store.putFile(new TextEncoder().encode('cover image bytes'))
        const doc = await store.put({ title: 'x', cover: file }, { type: 'doc' })
        const note = await store.put({ text: 'see', doc }, { type: 'note' })
        const ev = await store.append({ stream: 'feed', type: 'shared', data: { doc } })
        const docs = await collect(store.objects({ type: 'doc' }))
        expect(docs.map((o) => o.cid.toString())).toEqual([doc.toString()])
        expect((await collect(store.objects())).map((o) => o.type).sort()).toEqual(['doc', 'file', 'note'])
        expect(await collect(store.objects({ type: 'none' }))).toEqual([])
        const refs = await collect(store.referrers(doc))
        expect(refs.map((r) => `${r.kind}:${r.cid}`).sort()).toEqual([`event:${ev.cid}`, `object:${note}`].sort())
        expect((await collect(store.referrers(file))).map((r) => r.cid.toString())).toEqual([doc.toString()])
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('putFile gives the CID ipfs-unixfs-importer gives (CIDv1, raw leaves) and cat returns the bytes', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        const hello = await store.putFile(new TextEncoder().encode('hello world'))
        // `ipfs add --cid-version 1` of the same bytes
        expect(hello.toString()).toBe('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e')
        const big = pattern(1_500_000)
        const chunks = [big.subarray(0, 100_000), big.subarray(100_000, 1_000_001), big.subarray(1_000_001)]
        const cid = await store.putFile(
          (async function* () {
            yield* chunks
          })(),
        )
        expect(cid.equals(await referenceCid(big))).toBe(true)
        expect(cid.code).toBe(0x70)
        expect(sameBytes(concatBytes(await collect(store.cat(cid))), big)).toBe(true)
        const [info] = await collect(store.objects({ type: 'file' })).then((l) => l.filter((o) => o.cid.equals(cid)))
        expect(info!.size).toBe(big.length)
        expect(concatBytes(await collect(store.cat(hello)))).toEqual(new TextEncoder().encode('hello world'))
        const empty = await store.putFile(new Uint8Array(0))
        expect(empty.equals(await referenceCid(new Uint8Array(0)))).toBe(true)
        expect(concatBytes(await collect(store.cat(empty)))).toEqual(new Uint8Array(0))
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('bad input: non-IPLD values and bad sources are typed errors and write nothing', async () => {
      const fx = await kind.create()
      try {
        const store = await openOn(fx)
        await expect(store.put({ a: undefined })).rejects.toMatchObject({ code: 'CAIRN_INVALID_VALUE', path: 'value.a' })
        await expect(store.put({ a: NaN })).rejects.toMatchObject({ code: 'CAIRN_INVALID_VALUE' })
        await expect(store.put(new Map([[1, 'x']]))).rejects.toMatchObject({ code: 'CAIRN_INVALID_VALUE' })
        await expect(store.put({ a: 1 }, { type: '' })).rejects.toBeInstanceOf(TypeError)
        await expect(store.putFile('text' as never)).rejects.toBeInstanceOf(TypeError)
        await expect(store.putFile([new Uint8Array(2), 'x' as never])).rejects.toBeInstanceOf(TypeError)
        await expect(store.get('x' as never)).rejects.toBeInstanceOf(TypeError)
        await expect(store.get(encodeValue({ never: 'stored' }).cid)).rejects.toMatchObject({ code: 'CAIRN_NOT_FOUND' })
        await expect(collect(store.cat(encodeValue({ never: 'stored' }).cid))).rejects.toMatchObject({ code: 'CAIRN_NOT_FOUND' })
        expect(store.heads).toEqual([])
        expect(await collect(store.objects())).toEqual([])
        const doc = await store.put({ not: 'a file' })
        await expect(collect(store.cat(doc))).rejects.toMatchObject({ code: 'CAIRN_INVALID_VALUE' })
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test('a block whose bytes do not match its CID is refused on read', async () => {
      const fx = await kind.create()
      try {
        const engine = await fx.open()
        const good = encodeValue({ secret: 1 })
        const forged = encodeValue({ secret: 2 })
        // An engine stores what it is given; the layers above must catch a lie.
        await engine.commit({ blocks: [{ cid: good.cid, bytes: forged.bytes }], heads: [] })
        const { CairnStore } = await import('../../src/store/store.ts')
        const store = await CairnStore.open(engine)
        await expect(store.get(good.cid)).rejects.toMatchObject({ code: 'CAIRN_INVALID_BLOCK', cid: good.cid })
        await store.close()
      } finally {
        await fx.dispose()
      }
    })

    test.runIf(kind.persistent)('reopen keeps objects, files, types and referrers', async () => {
      const fx = await kind.create()
      try {
        let store = await openOn(fx)
        const bytes = pattern(600_000, 7)
        const file = await store.putFile(bytes, { type: 'photo' })
        const doc = await store.put({ photo: file }, { type: 'album' })
        const heads = store.heads.map(String)
        await store.close()
        store = await openOn(fx)
        expect(store.heads.map(String)).toEqual(heads)
        expect(await store.get(doc)).toEqual({ photo: file })
        expect(sameBytes(concatBytes(await collect(store.cat(file))), bytes)).toBe(true)
        expect((await collect(store.objects({ type: 'photo' }))).map((o) => [o.cid.toString(), o.size])).toEqual([[file.toString(), bytes.length]])
        expect((await collect(store.referrers(file))).map((r) => r.cid.toString())).toEqual([doc.toString()])
        const report = await store.verify()
        expect(report.dangling).toEqual([])
        expect(report.blocks).toBeGreaterThan(5) // 2 events, doc, file root and its leaves
        await store.close()
      } finally {
        await fx.dispose()
      }
    })
  })
}
