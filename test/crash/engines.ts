// The two engines the crash suite kills writers of, opened through the public `openStore`.
import { FsBlockstore } from 'blockstore-fs'
import { openStore, type CairnStore } from '../../src/index.node.ts'

export type CrashEngine = 'files' | 'blockstore-fs'
export const CRASH_ENGINES: readonly CrashEngine[] = ['files', 'blockstore-fs']

/** `openStore({ path })`, or `openStore({ blockstore })` over a blockstore-fs in `dir`. */
export async function openCrashStore(engine: CrashEngine, dir: string): Promise<CairnStore> {
  if (engine === 'files') return openStore({ path: dir })
  const blockstore = new FsBlockstore(dir)
  await blockstore.open()
  return openStore({ blockstore })
}
