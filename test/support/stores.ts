import type { CID } from 'multiformats/cid'
import { expect } from 'vitest'
import { concatBytes } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import { writeCar } from '../../src/car/writer.ts'
import { isCairnError } from '../../src/errors/cairn-error.ts'
import { CairnStore } from '../../src/store/store.ts'
import type { StoreOptions } from '../../src/store/options.ts'
import type { EngineFixture } from './engines.ts'

/** Opens a Cairn store on a fixture's engine. */
export async function openOn(fx: EngineFixture, options: StoreOptions = {}): Promise<CairnStore> {
  return CairnStore.open(await fx.open(), options)
}

/** Collects an async iterable. */
export async function collect<T>(it: AsyncIterable<T> | Iterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

/** A clock the test moves by hand. */
export function manualClock(start = 1_700_000_000_000): { now: () => number; set(ms: number): void } {
  let t = start
  return {
    now: () => t,
    set(ms: number) {
      t = ms
    },
  }
}

/** Byte equality without a deep-equal walk (Vitest's toEqual is slow on megabyte arrays). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Deterministic bytes that do not repeat within gigabytes (so no two file chunks share a block). */
export function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** How many bytes `store.cat(cid)` yields. */
export async function catBytes(store: CairnStore, cid: CID): Promise<number> {
  let n = 0
  for await (const c of store.cat(cid)) n += c.length
  return n
}

/** Every chunk of a byte stream, joined. */
export async function bytesOf(it: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  return concatBytes(await collect(it))
}

/** The error a promise rejects with; throws when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

/** What `p` rejected with, asserted to be an Error (fails when it resolves). */
export async function errorOf(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, 'expected a rejection').toBeInstanceOf(Error)
  return err as Error
}

/** The CairnError a promise rejects with (asserted to be one), with the details specs look at. */
export async function cairnFailure(p: Promise<unknown>): Promise<{ code?: string; message: string; cid?: CID; refused?: readonly CID[]; reasons?: readonly string[] }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, 'expected a refusal').toBeDefined()
  expect(isCairnError(err), String(err)).toBe(true)
  return err as never
}

/** A CARv1 of `blocks` under `roots`, as bytes. */
export function carOf(roots: CID[], blocks: BlockRecord[]): Promise<Uint8Array> {
  return bytesOf(
    writeCar(
      roots,
      (async function* () {
        yield* blocks
      })(),
    ),
  )
}
