// Node specs of the files engine: committing in batches, checking presence, and killing a
// writer process at a random moment after it acknowledged some commits.
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { CID } from 'multiformats/cid'
import { expect } from 'vitest'
import { equalBytes } from '../../src/block/codec.ts'
import type { BlockRecord } from '../../src/block/interface.ts'
import type { FileStorage } from '../../src/storage/files/engine.ts'
import { CAR_HEADER, findRecords } from '../../src/storage/files/format.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Commits `blocks` `per` at a time, each batch's last block as the heads; returns the last heads. */
export async function commitAll(s: FileStorage, blocks: readonly BlockRecord[], per: number): Promise<CID[]> {
  let heads: CID[] = []
  for (let i = 0; i < blocks.length; i += per) {
    const batch = blocks.slice(i, i + per)
    heads = [batch.at(-1)!.cid]
    await s.commit({ blocks: batch, heads })
  }
  return heads
}

/**
 * Where the last commit record of the segment `file` ends (its header's end when it has
 * none): the segment's length once closed. While a store is open its last segment is longer
 * by the zeros small commits write ahead.
 */
export async function committedSize(file: string): Promise<number> {
  const bytes = new Uint8Array(await readFile(file))
  return findRecords(bytes, 0).at(-1)?.end ?? CAR_HEADER.length
}

/** Every block is there: `get` gives its bytes and `has` says yes. */
export async function expectPresent(s: FileStorage, blocks: readonly BlockRecord[]): Promise<void> {
  // equalBytes, not toEqual: Vitest's deep equality takes seconds on a 1 MiB array.
  for (const b of blocks) {
    const got = await s.get(b.cid)
    expect(got !== undefined && equalBytes(got, b.bytes), `get ${b.cid}`).toBe(true)
    expect(await s.has(b.cid), `has ${b.cid}`).toBe(true)
  }
}

/** No block is there: `has` says no and `get` gives nothing. */
export async function expectAbsent(s: FileStorage, blocks: readonly (BlockRecord | CID)[]): Promise<void> {
  for (const b of blocks) {
    const cid = CID.asCID(b) ?? (b as BlockRecord).cid
    expect(await s.has(cid), `has ${cid}`).toBe(false)
    expect(await s.get(cid), `get ${cid}`).toBeUndefined()
  }
}

/**
 * Runs `node --import tsx <script> ...args` (not the tsx CLI: it runs the script in a grandchild
 * that SIGKILL would miss), and SIGKILLs it at a random moment up to `maxDelayMs` after its
 * `target`-th line `ack …`. Resolves when it exited, with the text after `ack ` of each ack line.
 */
export async function killAfterAcks(script: string, args: readonly string[], target: number, maxDelayMs: number): Promise<{ acks: string[]; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const acks: string[] = []
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  let buffered = ''
  child.stdout.on('data', (d: Buffer) => {
    buffered += d.toString()
    const lines = buffered.split('\n')
    buffered = lines.pop()!
    for (const line of lines) {
      if (!line.startsWith('ack ')) continue
      acks.push(line.slice(4))
      if (acks.length === target) setTimeout(() => child.kill('SIGKILL'), Math.random() * maxDelayMs)
    }
  })
  await exited
  return { acks, stderr }
}
