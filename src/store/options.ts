import type { CID } from 'multiformats/cid'
import { expectCids, expectObject, expectOptionalBoolean, type KnownKeys } from '../errors/arguments.ts'
import { CairnError } from '../errors/cairn-error.ts'
import { checkProgressOptions, type ProgressOptions } from '../errors/progress.ts'
import type { Signer } from '../identity/interface.ts'
import type { VerifyFn } from '../log/rules/signatures.ts'
import type { LogOpenOptions } from '../log/log.ts'
import type { AccessConfig } from '../log/rules/access-names.ts'
import type { Gate } from '../log/rules/gates.ts'

// Each options type of the store sits here with its defaults and the one function that
// checks it and applies them; the checks that only cold paths need (import's options and
// defaults, a signer, access rules, gates, a grant) sit in on-demand.ts, loaded on first use.

/**
 * Options of a store, given to `openStore` beside the location.
 *
 * @example
 * const store = await openStore({ path: './data', signer: me, requireSignatures: true, gates: [small] })
 */
export interface StoreOptions {
  /**
   * Wall clock in ms for HLC stamps, and for the clock-drift check of imports. Default
   * `Date.now`. A reading that is not a time in ms from 0 to 2^53 - 1 (NaN, undefined, a
   * negative number) fails the append or import that asked for it with a TypeError/RangeError
   * naming `clock`, and writes nothing.
   */
  clock?: () => number
  /**
   * Ignore the persisted index snapshot and rebuild the indexes from the blocks alone
   * (the snapshot is then rewritten). Default false: open loads the snapshot and indexes only
   * the events committed after it.
   */
  rebuildIndex?: boolean
  /**
   * Signs every event this replica appends: each carries `author` (the signer's did:key) and
   * the last event of each batch a signature that covers the batch (format v1, "Signatures").
   */
  signer?: Signer
  /** Refuse unsigned events, on append (a store without `signer` cannot append) and on import. Default false. */
  requireSignatures?: boolean
  /**
   * Access rules in the log: the store's root admins (every replica of one store is opened
   * with the same list). Admins grant and revoke the rest (`grant`, `revoke`); an event is
   * admitted iff its author held a grant for its stream in the event's own causal past.
   */
  access?: AccessConfig
  /** Policy gates: each sees every candidate event on append and import and may refuse it (CAIRN_REFUSED). */
  gates?: readonly Gate[]
}

/** Defaults of `StoreOptions` (no signer, no access rules: see `StoreOptions`). */
export const STORE_DEFAULTS: Readonly<Required<Omit<StoreOptions, 'signer' | 'access'>>> = Object.freeze({
  clock: () => Date.now(),
  rebuildIndex: false,
  requireSignatures: false,
  gates: Object.freeze([]) as readonly Gate[],
})

/** The keys of `StoreOptions` (openStore takes them too). */
export const STORE_KEYS: KnownKeys<StoreOptions> = { clock: 1, rebuildIndex: 1, signer: 1, requireSignatures: 1, access: 1, gates: 1 }

/**
 * Checks `StoreOptions` and applies the defaults. The checks of `clock`, `signer`, `access` and
 * `gates` load with the store's other cold checks (on-demand.ts), only when one of them is given.
 */
export async function normalizeStoreOptions(options: StoreOptions): Promise<LogOpenOptions> {
  expectObject('options', options, STORE_KEYS)
  const trusted = options.clock === undefined && options.signer === undefined && options.access === undefined && options.gates === undefined ? undefined : await import('./on-demand.ts')
  return {
    clock: options.clock === undefined ? STORE_DEFAULTS.clock : trusted!.expectClock(options.clock),
    rebuildIndex: options.rebuildIndex === undefined ? STORE_DEFAULTS.rebuildIndex : expectOptionalBoolean('rebuildIndex', options.rebuildIndex),
    trust: {
      signer: options.signer === undefined ? undefined : trusted!.expectSigner(options.signer),
      requireSignatures: expectOptionalBoolean('requireSignatures', options.requireSignatures),
      access: options.access === undefined ? undefined : trusted!.expectAccess(options.access),
      gates: options.gates === undefined ? STORE_DEFAULTS.gates : trusted!.expectGates(options.gates),
      verify: lazyVerify,
    },
  }
}

let verifier: Promise<VerifyFn> | undefined
/** verifySignature, loaded (with the rest of the sync paths, log/on-demand.ts) on the first signed event an import meets: apps that never import signed events do not ship it. */
const lazyVerify: VerifyFn = async (did, bytes, sig) => {
  verifier ??= import('../log/on-demand.ts').then((m) => m.verifySignature)
  return (await verifier)(did, bytes, sig)
}

/**
 * What `grant` gives.
 *
 * @example
 * await store.grant(peer.did, { streams: '*', admin: true })
 */
export interface GrantOptions {
  /** A stream prefix the grantee may write (`'todo/'`), or `'*'` for every stream. */
  streams: string
  /** Whether the grantee may also grant and revoke (and write every stream). Default false. */
  admin?: boolean
}

/** Refuses grant/revoke on a store opened without access rules. */
export function expectAccessRules(access: AccessConfig | undefined, what: string): void {
  if (access === undefined) throw new CairnError('CAIRN_UNSUPPORTED', `${what} needs a store opened with access rules (openStore({ …, access: { admins } }))`)
}

/**
 * What `store.export` writes. Without `roots`, the log: every block reachable from the heads
 * (beyond `since`), rooted at the heads. With `roots`, just the DAGs of those objects, files
 * or events, rooted at them. Plus progress and cancellation (see `ProgressOptions`).
 *
 * @example
 * // What a peer lacks, with a progress line and a way to cancel:
 * const controller = new AbortController()
 * const car = store.export({ since: peerHeads, signal: controller.signal, onProgress: (p) => console.log(p.blocks, p.bytes) })
 * // One file as a CAR rooted at it, for `ipfs-car unpack` or a pinning service:
 * await exportToFile(store, './photo.car', { roots: [photoCid] })
 */
export interface ExportOptions extends ProgressOptions {
  /**
   * Heads (or any events) the receiver is known to hold. The CAR then carries exactly the
   * blocks reachable from our heads and not from these. CIDs this store does not know are
   * ignored. Omit for a full export. Not together with `roots` (TypeError).
   */
  since?: readonly CID[]
  /**
   * Export just the DAGs under these CIDs (objects, files, any block the store holds): every
   * block reachable from them through links — dag-cbor links, UnixFS dag-pb links; raw blocks
   * end the walk — each once, with these CIDs, in this order, as the CAR's roots, so that
   * `ipfs-car unpack` and pinning services take it as is. No events come with them (unless a
   * root is an event: its DAG is then the whole history behind it). A root the store does not
   * hold rejects with CAIRN_NOT_FOUND (`cid` names it) before any byte is written; a block
   * missing under a root (a dangling link in an app's value) rejects with CAIRN_MISSING_BLOCK
   * naming it, when the walk gets there. At least one CID; not together with `since`.
   */
  roots?: readonly CID[]
}

/** `ExportOptions`, checked: the `since` set (empty for a full export), or the `roots` to export alone, and the progress options. */
export interface NormalizedExport {
  readonly since: CID[]
  readonly roots: CID[] | undefined
  readonly progress: ProgressOptions
}

/** The keys of `ExportOptions`. */
const EXPORT_KEYS: KnownKeys<ExportOptions> = { since: 1, roots: 1, onProgress: 1, signal: 1 }

/** Checks `ExportOptions` (TypeError/RangeError naming the bad one). */
export function normalizeExportOptions(options: ExportOptions): NormalizedExport {
  expectObject('options', options, EXPORT_KEYS)
  const progress = checkProgressOptions(options)
  if (options.roots === undefined) return { since: options.since === undefined ? [] : expectCids('since', options.since), roots: undefined, progress }
  if (options.since !== undefined) throw new TypeError('"roots" and "since" cannot be combined')
  const roots = expectCids('roots', options.roots)
  if (roots.length === 0) throw new RangeError('"roots" expected at least one CID')
  return { since: [], roots, progress }
}

/**
 * How `store.import` reads a CAR: limits, the type of foreign roots, progress and cancellation
 * (see `ProgressOptions`; an aborted import changes nothing).
 *
 * @example
 * const controller = new AbortController()
 * const report = await store.import(response.body!, {
 *   maxBytes: 64 << 20,
 *   foreignType: 'photo',
 *   signal: controller.signal,
 *   onProgress: ({ bytes, totalBytes }) => console.log(`${bytes} of ${totalBytes ?? '?'} bytes`),
 * })
 */
export interface ImportOptions extends ProgressOptions {
  /** Largest block accepted, in bytes; a longer frame is refused before it is buffered. Default 4 MiB. */
  maxBlockBytes?: number
  /** Largest CAR accepted, in bytes. Default 1 GiB. */
  maxBytes?: number
  /**
   * The memory an import may hold until its commit, counted as each block's bytes plus 2 KiB
   * of bookkeeping (CIDs, maps, decoded events), so that a CAR of millions of tiny blocks cannot
   * take gigabytes: past it the import fails with CAIRN_TOO_LARGE and changes nothing visible.
   * File blocks (raw, dag-pb) are written to storage in 8 MiB slices as they arrive,
   * unreferenced until the commit, and then count 512 bytes each. Default 1 GiB.
   */
  maxStagedBytes?: number
  /** Events stamped more than this many ms ahead of the local clock are refused. Default one day. */
  maxClockDrift?: number
  /** `$objects` type recorded for the roots of a CAR that holds no Cairn events. Default 'car'. */
  foreignType?: string
}

/**
 * What an import added. Importing the same CAR again reports zeros and the same heads.
 *
 * @example
 * const { events, heads, foreign } = await store.import(car)
 */
export interface ImportReport {
  /** Blocks newly stored (events, objects, file blocks, and any local `$objects` events). */
  blocks: number
  /** Events from the CAR newly added to the log. */
  events: number
  /** The log's heads after the import. */
  heads: CID[]
  /** The CAR's roots. */
  roots: CID[]
  /** Roots of foreign DAGs (no Cairn events) kept as objects. */
  foreign: CID[]
}
