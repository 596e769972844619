// Node specs: fresh temporary folders, each removed after the test that made it.
import { afterEach } from 'vitest'
import { removeDir, tempDir } from './tmp.server.ts'

/** Registers the cleanup and returns a function that makes a fresh folder named `prefix…`. */
export function freshDirs(prefix: string): () => Promise<string> {
  const dirs: string[] = []
  afterEach(async () => {
    for (const d of dirs.splice(0)) await removeDir(d)
  })
  return async () => {
    const dir = await tempDir(prefix)
    dirs.push(dir)
    return dir
  }
}
