// The argument checks that load on first use (src/store/on-demand.ts: import's options, a
// signer, access rules, gates, a grant's or revocation's did:key; the file chunker's byte
// source): an app that opens, appends and reads does not ship them (test/node/bundle-budget),
// and a mistake still rejects with the TypeError/RangeError naming the argument, and changes
// nothing. `store.export` and `tx.putFile` still throw theirs synchronously.
import { describe, expect, test } from 'vitest'
import { createIdentity } from '../../src/identity/create.ts'
import type { Gate } from '../../src/log/rules/gates.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import type { StoreOptions } from '../../src/store/options.ts'
import { CairnStore } from '../../src/store/store.ts'
import { bytesOf, errorOf } from '../support/stores.ts'

/** The store's heads and stats, to compare before and after a refused call. */
async function state(store: CairnStore): Promise<unknown> {
  return { heads: store.heads.map(String), stats: await store.stats() }
}

describe('argument checks that load on first use', () => {
  test('openStore options: a bad signer, access or gates rejects with a TypeError naming it, and the storage is closed', async () => {
    const me = await createIdentity()
    const cases: [StoreOptions, RegExp][] = [
      [{ signer: { did: 'did:web:example.com', sign: me.sign } as never }, /^"signer\.did" expected an Ed25519 did:key/],
      [{ signer: { did: me.did, sign: 'no' } as never }, /^"signer\.sign" expected a function/],
      [{ signer: 'me' as never }, /"signer"/],
      [{ access: { admins: [] } }, /^"access\.admins" expected a non-empty array/],
      [{ access: { admins: [me.did, 'bob'] } }, /^"access\.admins\[1\]" expected an Ed25519 did:key, got "bob"/],
      [{ gates: 'no' as never }, /^"gates" expected an array of functions/],
      [{ gates: [() => {}, 42 as unknown as Gate] }, /^"gates\[1\]" expected a function/],
      // The checks run in the options' order: a bad clock is named before a bad signer.
      [{ clock: 1 as never, signer: 'me' as never }, /^"clock" expected a function/],
    ]
    for (const [options, message] of cases) {
      const storage = new MemoryStorage()
      const err = await errorOf(CairnStore.open(storage, options))
      expect(err, JSON.stringify(Object.keys(options))).toBeInstanceOf(TypeError)
      expect(err.message).toMatch(message)
      await expect(storage.getMany([])).rejects.toThrow(/closed/)
    }
    // The control: the same options, made valid, open.
    const store = await CairnStore.open(new MemoryStorage(), { signer: me, access: { admins: [me.did] }, gates: [() => {}] })
    expect(store.author).toBe(me.did)
    await store.close()
  })

  test('openStore clock: a reading that is not a time in ms fails the append or import naming "clock", with nothing written', async () => {
    const source = await CairnStore.open(new MemoryStorage(), { clock: () => Date.now() + 10 * 24 * 3_600_000 })
    await source.append({ stream: 's', type: 't' })
    const ahead = await bytesOf(source.export()) // ten days ahead: past the default drift of a day
    const cases: [unknown, ErrorConstructor, RegExp][] = [
      [Number.NaN, TypeError, /^"clock" returned NaN, expected a time in ms/],
      [undefined, TypeError, /^"clock" returned undefined/],
      ['soon', TypeError, /^"clock" returned "soon"/],
      [-5, RangeError, /^"clock" returned -5, expected a time in ms from 0 to 2\^53 - 1/],
      [1e20, RangeError, /^"clock" returned 100000000000000000000/],
    ]
    for (const [reading, type, message] of cases) {
      const store = await CairnStore.open(new MemoryStorage(), { clock: () => reading as number })
      const before = await state(store)
      // Before, the append wrote an event stamped ts -1 (or 1e20) that no replica could read back,
      // and the import took the CAR stamped ten days ahead: NaN + drift compares false.
      for (const write of [() => store.append({ stream: 's', type: 't' }), () => store.appendMany([{ stream: 's', type: 't' }]), () => store.put({ a: 1 }), () => store.import(ahead)]) {
        const err = await errorOf(write())
        expect(err, String(reading)).toBeInstanceOf(type)
        expect(err.message).toMatch(message)
        expect(await state(store)).toEqual(before)
      }
      await store.close()
    }
    // The control: a fractional reading, a Date or a numeric string stamps the ms, as before.
    for (const reading of [1_700_000_000_000.7, new Date(1_700_000_000_000), '1700000000000']) {
      const store = await CairnStore.open(new MemoryStorage(), { clock: () => reading as number })
      expect((await store.append({ stream: 's', type: 't' })).ts).toBe(1_700_000_000_000)
      await store.close()
    }
    await source.close()
  })

  test('import options: each bad limit or foreignType rejects naming it, with the store unchanged', async () => {
    const source = await CairnStore.open(new MemoryStorage())
    await source.append({ stream: 's', type: 't' })
    const car = await bytesOf(source.export())
    const store = await CairnStore.open(new MemoryStorage())
    await store.append({ stream: 'mine', type: 'x' })
    const before = await state(store)
    const cases: [object, ErrorConstructor, RegExp][] = [
      [{ maxBlockBytes: -1 }, RangeError, /^"maxBlockBytes" expected a non-negative integer, got -1/],
      [{ maxBytes: 1.5 }, TypeError, /^"maxBytes" expected a non-negative integer/],
      [{ maxStagedBytes: '1' }, TypeError, /^"maxStagedBytes" expected a non-negative integer/],
      [{ maxClockDrift: -5 }, RangeError, /^"maxClockDrift" expected a non-negative integer, got -5/],
      [{ foreignType: 7 }, TypeError, /"foreignType"/],
      // A type starting with a byte order mark went into the object.put events of a foreign CAR's
      // roots, which then read back as another value: no peer could import the log.
      [{ foreignType: '\ufeffphoto' }, RangeError, /^"foreignType" must not start with U\+FEFF/],
      [{ onProgress: 'no' }, TypeError, /^"onProgress" expected a function/],
      [{ signal: {} }, TypeError, /^"signal" expected an AbortSignal/],
    ]
    for (const [options, type, message] of cases) {
      const err = await errorOf(store.import(car, options))
      expect(err, JSON.stringify(options)).toBeInstanceOf(type)
      expect(err.message).toMatch(message)
      expect(await state(store)).toEqual(before)
    }
    const bad = await errorOf(store.import('car' as never))
    expect(bad).toBeInstanceOf(TypeError)
    expect(bad.message).toMatch(/^"source" expected a Uint8Array, a ReadableStream or an \(async\) iterable/)
    // The control: the same CAR with valid options imports.
    expect((await store.import(car, { maxBlockBytes: 1 << 20, maxBytes: car.length, maxStagedBytes: 1 << 20, maxClockDrift: 0x7fffffff, foreignType: 'x' })).events).toBe(1)
    await Promise.all([source.close(), store.close()])
  })

  test('grant and revoke: a bad did:key or grant options reject with a TypeError, nothing appended', async () => {
    const admin = await createIdentity()
    const other = await createIdentity()
    const store = await CairnStore.open(new MemoryStorage(), { signer: admin, access: { admins: [admin.did] } })
    const before = await state(store)
    const cases: [Promise<unknown>, RegExp][] = [
      [store.grant('did:key:nope', { streams: '*' }), /^"did" expected an Ed25519 did:key, got "did:key:nope"/],
      [store.grant(42 as never, { streams: '*' }), /^"did" expected an Ed25519 did:key, got 42/],
      [store.grant(other.did, 'all' as never), /"options"/],
      [store.grant(other.did, { streams: 1 as never }), /"streams"/],
      [store.grant(other.did, { streams: '*', admin: 'yes' as never }), /"admin"/],
      [store.revoke('bob'), /^"did" expected an Ed25519 did:key, got "bob"/],
    ]
    for (const [call, message] of cases) {
      const err = await errorOf(call)
      expect(err).toBeInstanceOf(TypeError)
      expect(err.message).toMatch(message)
    }
    expect(await state(store)).toEqual(before)
    // The control: valid arguments append a grant, then a revocation.
    expect((await store.grant(other.did, { streams: 'todo/' })).data).toEqual({ did: other.did, streams: 'todo/', admin: false })
    expect((await store.revoke(other.did)).data).toEqual({ did: other.did })
    await store.close()
  })

  test('putFile: a bad source rejects, a bad chunk rejects naming it; in a transaction a bad source throws synchronously', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    const before = await state(store)
    const source = await errorOf(store.putFile(null as never))
    expect(source).toBeInstanceOf(TypeError)
    expect(source.message).toMatch(/^"source" expected a Uint8Array, a ReadableStream or an \(async\) iterable of Uint8Array, got null/)
    const chunk = await errorOf(store.putFile([new Uint8Array(2), 'x' as never]))
    expect(chunk).toBeInstanceOf(TypeError)
    expect(chunk.message).toMatch(/^"source" chunk 1 expected a Uint8Array, got string/)
    expect(await state(store)).toEqual(before)
    const thrown = await errorOf(
      store
        .transaction((tx) => {
          try {
            void tx.putFile(7 as never)
          } catch (err) {
            return err
          }
          return 'no throw'
        })
        .then(({ value }) => Promise.reject(value)),
    )
    expect(thrown).toBeInstanceOf(TypeError)
    expect(thrown.message).toMatch(/^"source" expected a Uint8Array/)
    // The control: a valid stream of chunks is stored.
    const cid = await store.putFile([new Uint8Array([1, 2]), new Uint8Array([3])])
    expect(await bytesOf(store.cat(cid))).toEqual(new Uint8Array([1, 2, 3]))
    await store.close()
  })

  test('export still throws its argument mistakes synchronously', async () => {
    const store = await CairnStore.open(new MemoryStorage())
    expect(() => store.export({ since: 'x' as never })).toThrow(TypeError)
    expect(() => store.export({ onProgress: 1 as never })).toThrow(/^"onProgress" expected a function/)
    expect(() => store.export({ signal: 'x' as never })).toThrow(/^"signal" expected an AbortSignal/)
    await store.close()
  })
})
