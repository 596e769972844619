import type { CID } from 'multiformats/cid'

/**
 * Stable error codes. Each names one kind of failure; callers branch on `code`, not on messages.
 *
 * @example
 * if (isCairnError(err)) console.error(err.code, err.cid?.toString() ?? err.file ?? '')
 */
export type CairnErrorCode =
  | 'CAIRN_NOT_FOUND'
  | 'CAIRN_VERSION_CONFLICT'
  | 'CAIRN_INVALID_BLOCK'
  | 'CAIRN_INVALID_VALUE'
  | 'CAIRN_INVALID_EVENT'
  | 'CAIRN_DUPLICATE_ID'
  | 'CAIRN_CLOSED'
  | 'CAIRN_CORRUPT'
  | 'CAIRN_UNSUPPORTED'
  | 'CAIRN_STORAGE'
  /** The browser refused a write because the origin is out of storage quota; nothing of it was written. Free space or ask for persistent storage, then retry. */
  | 'CAIRN_QUOTA'
  /** The store is open in another process (the files engine's lock is held by a live holder). */
  | 'CAIRN_LOCKED'
  | 'CAIRN_MISSING_BLOCK'
  | 'CAIRN_TOO_LARGE'
  | 'CAIRN_INVALID_CAR'
  /** A sync peer could not be reached, or answered outside the protocol (no Cairn error body, a broken stream). */
  | 'CAIRN_SYNC'
  /** A projection's reducer threw or returned a state that is not an IPLD value: the projection stopped. */
  | 'CAIRN_PROJECTION'
  /** A signed event whose signature does not verify (changed bytes, another key), or an unsigned event where signatures are required. */
  | 'CAIRN_INVALID_SIGNATURE'
  /** The access rules in the log do not let this author write this stream, or a sync request is unsigned, stale, replayed or from an unknown caller. */
  | 'CAIRN_UNAUTHORIZED'
  /** A policy gate refused an event; `reasons` says why. */
  | 'CAIRN_REFUSED'

/**
 * Extra facts an error carries so callers and logs can act on it without parsing the message.
 *
 * @example
 * try { await store.append(input, { expectedVersion: 3 }) }
 * catch (err) { if (isCairnError(err, 'CAIRN_VERSION_CONFLICT')) console.log(err.stream, err.expectedVersion, err.actualVersion) }
 */
export interface CairnErrorDetails {
  /** The block, event or object the failure is about. */
  cid?: CID
  /** Stream involved, for version conflicts and duplicates. */
  stream?: string
  expectedVersion?: number
  actualVersion?: number
  /** Where in a value the problem sits, e.g. `data.items[2]`. Never a file path: see `file`. */
  path?: string
  /** The file or folder on disk the failure is about (Node/Deno storage and CAR files). */
  file?: string
  /** Every event an import or append refused (access rules, gates), when there are several. */
  refused?: readonly CID[]
  /** What the policy gates said, one line per refusal. */
  reasons?: readonly string[]
  cause?: unknown
}

/**
 * The one error class of Cairn's domain failures. Argument mistakes are plain
 * `TypeError`/`RangeError`; everything else is a `CairnError` with a stable `code`.
 *
 * @example
 * try { await store.append(e, { expectedVersion: 3 }) }
 * catch (err) { if (isCairnError(err, 'CAIRN_VERSION_CONFLICT')) retry() }
 */
export class CairnError extends Error {
  readonly code: CairnErrorCode
  readonly cid: CID | undefined
  readonly stream: string | undefined
  readonly expectedVersion: number | undefined
  readonly actualVersion: number | undefined
  readonly path: string | undefined
  readonly file: string | undefined
  readonly refused: readonly CID[] | undefined
  readonly reasons: readonly string[] | undefined

  constructor(code: CairnErrorCode, message: string, details: CairnErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'CairnError'
    this.code = code
    this.cid = details.cid
    this.stream = details.stream
    this.expectedVersion = details.expectedVersion
    this.actualVersion = details.actualVersion
    this.path = details.path
    this.file = details.file
    this.refused = details.refused
    this.reasons = details.reasons
  }
}

/**
 * True when `err` is a CairnError, and, if `code` is given, one with that code.
 *
 * @example
 * if (isCairnError(err, 'CAIRN_NOT_FOUND')) return undefined
 */
export function isCairnError(err: unknown, code?: CairnErrorCode): err is CairnError {
  return err instanceof CairnError && (code === undefined || err.code === code)
}
