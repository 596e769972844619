import type { Blockstore } from 'interface-blockstore'
import { MemoryBlockstore } from 'blockstore-core/memory'
import type { StorageEngine } from '../../src/storage/interface.ts'
import { MemoryStorage } from '../../src/storage/memory.ts'
import { openBlockstoreStorage } from '../../src/storage/blockstore.ts'
import { importServerOnly, runtime } from './runtime.ts'

/**
 * One place an engine keeps its data (a folder, a database name, a blockstore),
 * which a spec can open, close and open again to test persistence.
 */
export interface EngineFixture {
  readonly name: string
  /** True when a reopen must see what an earlier open committed. */
  readonly persistent: boolean
  open(): Promise<StorageEngine>
  dispose(): Promise<void>
}

export interface EngineKind {
  readonly name: string
  readonly persistent: boolean
  create(): Promise<EngineFixture>
}

type TmpModule = typeof import('./tmp.server.ts')
type FilesModule = typeof import('../../src/storage/files/engine.ts')
type IdbModule = typeof import('../../src/storage/indexeddb.ts')

let seq = 0
const unique = (): string => `cairn-${Date.now().toString(36)}-${(seq++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`

function memoryKind(): EngineKind {
  return {
    name: 'memory',
    persistent: false,
    async create() {
      return { name: 'memory', persistent: false, open: async () => new MemoryStorage(), dispose: async () => {} }
    },
  }
}

function blockstoreKind(name: string, make: () => Promise<{ blockstore: Blockstore; close?: () => Promise<void>; dispose: () => Promise<void> }>): EngineKind {
  return {
    name,
    persistent: true,
    async create() {
      const place = await make()
      return {
        name,
        persistent: true,
        open: () => openBlockstoreStorage(place.blockstore),
        dispose: place.dispose,
      }
    },
  }
}

/** The engines that exist in the runtime running the spec. */
export async function engineKinds(): Promise<EngineKind[]> {
  const kinds: EngineKind[] = [
    memoryKind(),
    // One MemoryBlockstore outlives each open, so a reopen must find what was committed.
    blockstoreKind('blockstore-core memory', async () => ({ blockstore: new MemoryBlockstore(), dispose: async () => {} })),
  ]
  if (runtime === 'browser') {
    const idb = (await import('../../src/storage/indexeddb.ts')) as IdbModule
    kinds.push({
      name: 'indexeddb',
      persistent: true,
      async create() {
        const dbName = unique()
        return {
          name: 'indexeddb',
          persistent: true,
          open: () => idb.openIndexedDbStorage(dbName),
          dispose: () => idb.deleteIndexedDbStorage(dbName),
        }
      },
    })
    const { IDBBlockstore } = await import('blockstore-idb')
    kinds.push({
      name: 'blockstore-idb',
      persistent: true,
      async create() {
        const dbName = unique()
        const opened: InstanceType<typeof IDBBlockstore>[] = []
        return {
          name: 'blockstore-idb',
          persistent: true,
          async open() {
            const bs = new IDBBlockstore(dbName)
            await bs.open()
            opened.push(bs)
            return openBlockstoreStorage(bs, { onClose: () => bs.close() })
          },
          async dispose() {
            for (const bs of opened) await bs.close().catch(() => {})
            await new Promise<void>((resolve) => {
              const req = indexedDB.deleteDatabase(dbName)
              req.onsuccess = req.onerror = req.onblocked = () => resolve()
            })
          },
        }
      },
    })
  } else {
    const tmp = await importServerOnly<TmpModule>(new URL('./tmp.server.ts', import.meta.url).href)
    const files = await importServerOnly<FilesModule>(new URL('../../src/storage/files/engine.ts', import.meta.url).href)
    kinds.push({
      name: 'files',
      persistent: true,
      async create() {
        const dir = await tmp.tempDir()
        return { name: 'files', persistent: true, open: () => files.openFileStorage(dir), dispose: () => tmp.removeDir(dir) }
      },
    })
    const { FsBlockstore } = await importServerOnly<typeof import('blockstore-fs')>('blockstore-fs')
    kinds.push({
      name: 'blockstore-fs',
      persistent: true,
      async create() {
        const dir = await tmp.tempDir()
        return {
          name: 'blockstore-fs',
          persistent: true,
          async open() {
            const bs = new FsBlockstore(dir)
            await bs.open()
            return openBlockstoreStorage(bs, { onClose: () => bs.close() })
          },
          dispose: () => tmp.removeDir(dir),
        }
      },
    })
  }
  return kinds
}

/** Runs `body` with a fresh place of `kind`, disposing it afterwards whatever happens. */
export async function withFixture(kind: EngineKind, body: (fx: EngineFixture) => Promise<void>): Promise<void> {
  const fx = await kind.create()
  try {
    await body(fx)
  } finally {
    await fx.dispose()
  }
}

/** An engine that delegates to `inner` except where `overrides` says otherwise: for fault injection and counting. */
export function wrapEngine(inner: StorageEngine, overrides: Partial<StorageEngine>): StorageEngine {
  return {
    kind: overrides.kind ?? inner.kind,
    ...(inner.scanPerBlock === undefined ? {} : { scanPerBlock: inner.scanPerBlock }),
    get: overrides.get ?? ((cid) => inner.get(cid)),
    // Batched reads pass through only when `get` is not overridden, so read counters see every read.
    ...((overrides.getMany ?? (overrides.get === undefined ? inner.getMany : undefined)) === undefined ? {} : { getMany: overrides.getMany ?? ((cids) => inner.getMany!(cids)) }),
    has: overrides.has ?? ((cid) => inner.has(cid)),
    blocks: overrides.blocks ?? (() => inner.blocks()),
    heads: overrides.heads ?? (() => inner.heads()),
    commit: overrides.commit ?? ((batch) => inner.commit(batch)),
    close: overrides.close ?? (() => inner.close()),
    ...((overrides.readDerived ?? inner.readDerived) === undefined ? {} : { readDerived: overrides.readDerived ?? ((name) => inner.readDerived!(name)) }),
    ...((overrides.writeDerived ?? inner.writeDerived) === undefined ? {} : { writeDerived: overrides.writeDerived ?? ((name, bytes) => inner.writeDerived!(name, bytes)) }),
    ...(inner.exclusive === undefined ? {} : { exclusive: <T>(task: () => Promise<T>) => inner.exclusive!(task) }),
    ...(inner.onExternalCommit === undefined ? {} : { onExternalCommit: (listener: () => void) => inner.onExternalCommit!(listener) }),
    ...((overrides.compact ?? inner.compact) === undefined ? {} : { compact: overrides.compact ?? ((live, options) => inner.compact!(live, options)) }),
  }
}
