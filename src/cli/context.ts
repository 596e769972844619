// What every command shares: the common options, opening the store folder, the identity file,
// the abort signal, and printing results (human or --json).
import { readdir, readFile, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import process from 'node:process'
import type { Command } from 'commander'
import { CairnError, type CairnStore, type Identity, importIdentity, openStore } from '../index.node.ts'
import { fileError } from './io.ts'

/** The store folder when `--store` is not given. */
export const DEFAULT_STORE = './.cairn'

/** The identity file `identity new` and `identity show` use by default. */
export function defaultIdentityFile(): string {
  return process.env['CAIRN_IDENTITY'] ?? join(homedir(), '.cairn', 'identity')
}

/** Options every command takes. */
export interface CommonOptions {
  store: string
  json?: boolean
  identity?: string
}

/** Adds `--store` and `--json` to a command. */
export function withCommon(cmd: Command): Command {
  return cmd.option('-s, --store <dir>', 'the store folder', DEFAULT_STORE).option('--json', 'print JSON for scripts (one value, or one per line for lists)')
}

/** Adds `--identity FILE` (sign what this command writes or sends). */
export function withIdentity(cmd: Command): Command {
  return cmd.option('-i, --identity <file>', 'sign with the identity in this file (see `cairn identity new`)')
}

/** Whether a folder holds a Cairn files store (its first segment). */
export async function isStoreFolder(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((name) => /^seg-\d+\.car$/.test(name))
  } catch {
    return false
  }
}

/** Reads an identity file. */
export async function loadIdentity(file: string): Promise<Identity> {
  let bytes: Uint8Array
  try {
    bytes = new Uint8Array(await readFile(file))
  } catch (cause) {
    throw fileError('reading identity file', file, cause)
  }
  try {
    return await importIdentity(bytes)
  } catch (err) {
    if (err instanceof CairnError && err.file === undefined) throw new CairnError(err.code, `${file}: ${err.message}`, { file, cause: err })
    throw err
  }
}

/**
 * Opens the store folder of `--store`, which must exist and hold a store (`cairn init` makes
 * one): a typo in `--store` is CAIRN_NOT_FOUND rather than a new empty store.
 */
export async function openCliStore(options: CommonOptions): Promise<CairnStore> {
  const dir = resolve(options.store)
  let exists = false
  try {
    exists = (await stat(dir)).isDirectory()
  } catch {}
  if (!exists || !(await isStoreFolder(dir))) {
    throw new CairnError('CAIRN_NOT_FOUND', `no Cairn store in ${options.store} (create one with \`cairn init ${options.store}\`, or pass --store DIR)`, { file: options.store })
  }
  const signer = options.identity === undefined ? undefined : await loadIdentity(options.identity)
  return openStore(signer === undefined ? { path: dir } : { path: dir, signer })
}

/** Runs `body` with the store open, closing it afterwards whatever happens. */
export async function withStore<T>(options: CommonOptions, body: (store: CairnStore) => Promise<T>): Promise<T> {
  const store = await openCliStore(options)
  try {
    return await body(store)
  } finally {
    await store.close()
  }
}

/** The abort signal of this run: fired by the first Ctrl-C (SIGINT) or SIGTERM. */
export const interrupt: AbortController = new AbortController()
