// The CLI's exit codes: one per kind of failure, derived from the CairnError codes, so that a
// script can branch on `$?` without parsing messages. Listed in `cairn --help`.
import { CairnError, type CairnErrorCode } from '../index.node.ts'

/** The exit code of each kind of outcome. */
export const EXIT: Readonly<{ ok: 0; other: 1; usage: 2; notFound: 3; invalid: 4; conflict: 5; denied: 6; storage: 7; network: 8; aborted: 130 }> = Object.freeze({
  ok: 0,
  /** Anything not listed below (a bug, a closed store, a projection failure). */
  other: 1,
  /** A command line mistake: unknown command or option, a missing or malformed argument. */
  usage: 2,
  /** The store folder, a file, a block or an object does not exist. */
  notFound: 3,
  /** Bad input: malformed JSON, a bad block, event or CAR, a corrupt store, limits exceeded. */
  invalid: 4,
  /** A conflict: expected version, duplicate, or the store is open in another process. */
  conflict: 5,
  /** Refused: a bad or missing signature, no access, a policy gate. */
  denied: 6,
  /** The disk or the storage failed (I/O error, out of space or quota). */
  storage: 7,
  /** A sync peer could not be reached or answered outside the protocol. */
  network: 8,
  /** Interrupted (Ctrl-C): nothing half-done was kept. */
  aborted: 130,
} as const)

/** The exit code of each CairnError code. Every code is listed, so a new one fails the typecheck until it is placed. */
export const EXIT_OF_CODE: Readonly<Record<CairnErrorCode, number>> = Object.freeze({
  CAIRN_NOT_FOUND: EXIT.notFound,
  CAIRN_INVALID_BLOCK: EXIT.invalid,
  CAIRN_INVALID_VALUE: EXIT.invalid,
  CAIRN_INVALID_EVENT: EXIT.invalid,
  CAIRN_INVALID_CAR: EXIT.invalid,
  CAIRN_CORRUPT: EXIT.invalid,
  CAIRN_MISSING_BLOCK: EXIT.invalid,
  CAIRN_TOO_LARGE: EXIT.invalid,
  CAIRN_UNSUPPORTED: EXIT.invalid,
  CAIRN_VERSION_CONFLICT: EXIT.conflict,
  CAIRN_DUPLICATE_ID: EXIT.conflict,
  CAIRN_LOCKED: EXIT.conflict,
  CAIRN_INVALID_SIGNATURE: EXIT.denied,
  CAIRN_UNAUTHORIZED: EXIT.denied,
  CAIRN_REFUSED: EXIT.denied,
  CAIRN_STORAGE: EXIT.storage,
  CAIRN_QUOTA: EXIT.storage,
  CAIRN_SYNC: EXIT.network,
  CAIRN_CLOSED: EXIT.other,
  CAIRN_PROJECTION: EXIT.other,
})

/** A command line mistake the CLI itself finds (exit 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** The run was interrupted (Ctrl-C; exit 130). */
export class AbortedError extends Error {
  constructor() {
    super('interrupted; nothing half-done was kept')
    this.name = 'AbortedError'
  }
}

/** The exit code for whatever a command threw. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof AbortedError) return EXIT.aborted
  if (err instanceof UsageError || err instanceof TypeError || err instanceof RangeError) return EXIT.usage
  if (err instanceof CairnError) return EXIT_OF_CODE[err.code] ?? EXIT.other
  return EXIT.other
}

/** The `cairn --help` epilogue: the exit code table. */
export function exitCodeHelp(): string {
  const byExit = new Map<number, string[]>()
  for (const [code, exit] of Object.entries(EXIT_OF_CODE)) byExit.set(exit, [...(byExit.get(exit) ?? []), code])
  const rows: [number, string][] = [
    [EXIT.ok, 'success'],
    [EXIT.other, `other failures (${(byExit.get(EXIT.other) ?? []).join(', ')})`],
    [EXIT.usage, 'usage: unknown command or option, missing or malformed argument'],
    [EXIT.notFound, `not found: no store folder, file, block or object (${(byExit.get(EXIT.notFound) ?? []).join(', ')})`],
    [EXIT.invalid, `invalid input: bad JSON, block, event or CAR; corrupt store; limits (${(byExit.get(EXIT.invalid) ?? []).join(', ')})`],
    [EXIT.conflict, `conflict: expected version, duplicate, store in use (${(byExit.get(EXIT.conflict) ?? []).join(', ')})`],
    [EXIT.denied, `denied: signature, access, policy gate (${(byExit.get(EXIT.denied) ?? []).join(', ')})`],
    [EXIT.storage, `storage or I/O failure (${(byExit.get(EXIT.storage) ?? []).join(', ')})`],
    [EXIT.network, `sync peer unreachable or off-protocol (${(byExit.get(EXIT.network) ?? []).join(', ')})`],
    [EXIT.aborted, 'interrupted (Ctrl-C)'],
  ]
  return `Exit codes:\n${rows.map(([n, what]) => `  ${String(n).padStart(3)}  ${what}`).join('\n')}`
}

/** The one-line message printed on stderr: `cairn: CODE: message (cid …, file …)`. */
export function describeError(err: unknown): string {
  if (err instanceof CairnError) {
    const facts: string[] = []
    if (err.cid !== undefined && !err.message.includes(err.cid.toString())) facts.push(`cid ${err.cid}`)
    if (err.file !== undefined && !err.message.includes(err.file)) facts.push(`file ${err.file}`)
    if (err.path !== undefined) facts.push(`at ${err.path}`)
    for (const reason of err.reasons ?? []) facts.push(reason)
    return `cairn: ${err.code}: ${err.message}${facts.length === 0 ? '' : ` (${facts.join('; ')})`}`
  }
  if (err instanceof Error) return `cairn: ${err.message}`
  return `cairn: ${String(err)}`
}

/** The error as one JSON value, printed on stderr under `--json`. */
export function errorJson(err: unknown): Record<string, unknown> {
  const exit = exitCodeOf(err)
  if (err instanceof CairnError) {
    const out: Record<string, unknown> = { code: err.code, message: err.message, exit }
    if (err.cid !== undefined) out['cid'] = err.cid.toString()
    if (err.file !== undefined) out['file'] = err.file
    if (err.stream !== undefined) out['stream'] = err.stream
    if (err.expectedVersion !== undefined) out['expectedVersion'] = err.expectedVersion
    if (err.actualVersion !== undefined) out['actualVersion'] = err.actualVersion
    if (err.path !== undefined) out['path'] = err.path
    if (err.refused !== undefined) out['refused'] = err.refused.map(String)
    if (err.reasons !== undefined) out['reasons'] = [...err.reasons]
    return { error: out }
  }
  const name = err instanceof AbortedError ? 'ABORTED' : exit === EXIT.usage ? 'USAGE' : 'ERROR'
  return { error: { code: name, message: err instanceof Error ? err.message : String(err), exit } }
}
