// The sync client: one pull, then a push when the server lacks something, against a
// createSyncHandler server (see protocol.ts). Heads agreed with each url are remembered per
// store, so the next sync's pull is exact.
import type { CID } from 'multiformats/cid'
import { CAR_MEDIA_TYPE } from '../../car/interface.ts'
import type { ImportOptions, ImportReport } from '../../store/options.ts'
import { CairnError } from '../../errors/cairn-error.ts'
import { expectFunction, expectObject, expectOptionalBoolean, expectString, type KnownKeys } from '../../errors/arguments.ts'
import { expectOptionalSignal } from '../../errors/progress.ts'
import type { Signer } from '../../identity/interface.ts'
import type { CairnStore } from '../../store/store.ts'
import { expectStore } from '../store-argument.ts'
import { counter, digesting, gatherBlob, guardedChunks, gunzip, gzipStream, iterableToStream, messageOf, responseBytes } from './body.ts'
import {
  ACCEPT_ENCODING_HEADER,
  CBOR_MEDIA_TYPE,
  checkImportOptions,
  ENCODING_HEADER,
  ROUTES,
  bodyDigest,
  bodyEncoding,
  decodePushAnswer,
  encodePullBody,
  errorOfAnswer,
  expectSigner,
  signRequest,
  sortedCids,
  toBase64url,
  withoutTrailingSlashes,
} from './protocol.ts'

/**
 * Options of {@link sync}.
 *
 * @example
 * await sync(store, url, { signer: me, signal: AbortSignal.timeout(30_000), import: { maxBytes: 64 << 20 } })
 */
export interface SyncOptions {
  /** The fetch to use (default: the global one). Handy for tests, auth or retries. */
  fetch?: typeof fetch
  /** Ask for gzip answers and gzip the push. Default true. */
  gzip?: boolean
  /** Aborts the sync; each import is atomic, so an abort leaves both sides consistent. */
  signal?: AbortSignal
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>
  /**
   * Limits applied to the pulled CAR, and its import's `onProgress` (see `ImportOptions`).
   * `signal` reaches the import and the push's export too, unless `import.signal` is given.
   */
  import?: ImportOptions
  /**
   * Signs every request (its method, path, body digest, time and a fresh nonce; see
   * `signRequest`), so the server knows the caller's did. A server with access rules refuses
   * unsigned requests. The push body is gathered whole before it is sent either way (see
   * {@link sync}), so signing costs a sha-256 pass over it and no extra memory.
   */
  signer?: Signer
}

/** The defaults of {@link SyncOptions}: the global fetch (looked up at each call), gzip on, no extra headers. */
export const SYNC_DEFAULTS: Readonly<{ fetch: typeof fetch; gzip: boolean; headers: Readonly<Record<string, string>> }> = Object.freeze({
  fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init),
  gzip: true,
  headers: Object.freeze({}),
})

/** {@link SyncOptions} with defaults applied. */
export interface NormalizedSyncOptions {
  fetch: typeof fetch
  gzip: boolean
  signal: AbortSignal | undefined
  headers: Readonly<Record<string, string>>
  import: ImportOptions | undefined
  signer: Signer | undefined
}

/** The keys of {@link SyncOptions}: any other key is a TypeError before any request (a misspelt `signer` would sync unsigned). */
const SYNC_KEYS: KnownKeys<SyncOptions> = { fetch: 1, gzip: 1, signal: 1, headers: 1, import: 1, signer: 1 }

/**
 * Checks the options of {@link sync} and applies {@link SYNC_DEFAULTS}. A key that the options
 * or `import` do not know is a TypeError naming it, as is a bad value: before any request.
 */
export function normalizeSyncOptions(options: SyncOptions): NormalizedSyncOptions {
  expectObject('options', options, SYNC_KEYS)
  checkImportOptions(options.import)
  return {
    fetch: options.fetch === undefined ? SYNC_DEFAULTS.fetch : expectFunction<typeof fetch>('fetch', options.fetch),
    gzip: options.gzip === undefined ? SYNC_DEFAULTS.gzip : expectOptionalBoolean('gzip', options.gzip),
    signal: expectOptionalSignal('signal', options.signal),
    headers: options.headers === undefined ? SYNC_DEFAULTS.headers : expectHeaders(options.headers),
    import: options.import,
    signer: options.signer === undefined ? undefined : expectSigner(options.signer),
  }
}

/**
 * `headers`, checked: a plain object of strings. A `Headers` object (whose entries are not own
 * keys) would have been sent as no headers at all, and an undefined value as "undefined".
 */
function expectHeaders(headers: unknown): Record<string, string> {
  const h = expectObject('headers', headers)
  if (typeof (h as unknown as Headers).forEach === 'function') throw new TypeError('"headers" expected a plain object of strings, got a Headers object: pass Object.fromEntries(headers)')
  for (const [name, value] of Object.entries(h)) if (typeof value !== 'string') throw new TypeError(`"headers.${name}" expected a string, got ${value === null ? 'null' : typeof value}`)
  return h as Record<string, string>
}

/**
 * What one {@link sync} did.
 *
 * @example
 * const { pulled, pushed, roundTrips, bytesReceived } = await sync(store, url)
 */
export interface SyncReport {
  /** The import of what the server had and we lacked. */
  pulled: ImportReport
  /** What the server stored from our push (zeros when there was nothing to push). */
  pushed: { blocks: number; events: number }
  /** Heads both sides hold once the sync is done (remembered for the next sync with this url). */
  heads: CID[]
  /** HTTP requests made: 1, or 2 when something was pushed. */
  roundTrips: number
  /** Request body bytes sent, as on the wire (compressed when gzip is on). */
  bytesSent: number
  /** Response body bytes received, as on the wire (compressed when gzip is on). */
  bytesReceived: number
}

/** Heads last agreed with each url, per store: they make the next sync's pull exact. */
const agreed = new WeakMap<CairnStore, Map<string, CID[]>>()

/**
 * Syncs a store with a {@link createSyncHandler} server in both directions. Pulls what the
 * server holds beyond our heads and hints, imports it (verified, atomic), then pushes what the
 * server lacks, now known exactly from its heads. A failure leaves both sides consistent
 * (each import is all or nothing) and running `sync` again finishes the job. A bad option, or
 * a key the options or `import` do not know, rejects with a TypeError (or RangeError) before
 * any request is sent.
 *
 * With a `signer`, every request is signed for the url's origin (a fresh nonce and time for
 * each attempt). A 401 or 403 answer (unsigned, stale, replayed, signed for another origin, an
 * unknown caller, or events the server's access rules refuse) is a CairnError
 * `CAIRN_UNAUTHORIZED` with the server's message; a refusal of pushed events carries the
 * server's `cid`, `refused` and (from policy gates, `CAIRN_REFUSED`) `reasons`.
 *
 * The push body (a CAR, gzipped by default) is gathered into a Blob before it is sent, signed
 * or not: browsers stream request bodies over HTTP/2 only, and a Blob has an exact length. So
 * a push holds the whole (compressed) CAR in memory once; a signed push hashes it as it is
 * gathered, which adds no copy.
 *
 * @example
 * const report = await sync(store, 'https://example.org/cairn', { signer: identity })
 * console.log(report.pulled.events, report.pushed.events, report.bytesReceived)
 */
export async function sync(store: CairnStore, url: string, options: SyncOptions = {}): Promise<SyncReport> {
  expectStore(store)
  expectString('url', url)
  const { fetch: doFetch, gzip, signal, headers: extraHeaders, import: importOptions, signer } = normalizeSyncOptions(options)
  const base = withoutTrailingSlashes(url)
  let bytesSent = 0
  let bytesReceived = 0
  let roundTrips = 0

  /** One request; `digest` is the body's, for the signature. */
  const call = async (path: string, init: RequestInit & { method: string; headers: Record<string, string> }, digest: string): Promise<Response> => {
    signal?.throwIfAborted()
    roundTrips++
    let response: Response | undefined
    // Both calls are idempotent (a pull only reads, an import of the same CAR is a no-op), so
    // one retry covers a kept-alive connection that the server closed while we were idle. Each
    // attempt is signed anew: the server takes a nonce once.
    for (let attempt = 1; response === undefined; attempt++) {
      const signed = signer === undefined ? {} : await signRequest(signer, { method: init.method, url: `${base}${path}`, digest })
      try {
        response = await doFetch(`${base}${path}`, { ...init, headers: { ...init.headers, ...signed }, ...(signal === undefined ? {} : { signal }) })
      } catch (cause) {
        if (signal?.aborted === true) throw signal.reason
        if (cause instanceof CairnError) throw cause
        if (attempt < 2) continue
        throw new CairnError('CAIRN_SYNC', `could not reach ${base}${path}: ${messageOf(cause)}`, { cause })
      }
    }
    if (!response.ok) {
      const bytes = await responseBytes(response, signal)
      bytesReceived += bytes.length
      throw errorOfAnswer(response.status, response.statusText, bytes, `${base}${path}`)
    }
    return response
  }

  // 1. Pull: our heads, hints and the heads last agreed with this url; the server answers with
  //    a CAR of what it holds beyond them, whose roots are its heads.
  const remembered = agreed.get(store)?.get(base) ?? []
  const heads = store.heads
  const headKeys = new Set(heads.map(String))
  const have = sortedCids([...store.syncHints(), ...remembered]).filter((c) => !headKeys.has(c.toString()))
  const pullBody = encodePullBody({ heads, have })
  bytesSent += pullBody.length
  const pulled = await call(
    ROUTES.pull.path,
    {
      method: ROUTES.pull.method,
      headers: { ...extraHeaders, 'content-type': CBOR_MEDIA_TYPE, accept: CAR_MEDIA_TYPE, ...(gzip ? { [ACCEPT_ENCODING_HEADER]: 'gzip' } : {}) },
      body: pullBody,
    },
    signer === undefined ? '' : bodyDigest(pullBody),
  ).then(async (response) => {
    if (response.body === null) throw new CairnError('CAIRN_SYNC', `${base}${ROUTES.pull.path} answered without a body`)
    let stream = response.body.pipeThrough(
      counter((n) => {
        bytesReceived += n
      }),
    )
    const header = response.headers.get(ENCODING_HEADER)
    const encoding = bodyEncoding(header)
    if (encoding === 'gzip') stream = gunzip(stream)
    else if (encoding === undefined) {
      await response.body.cancel().catch(() => {})
      throw new CairnError('CAIRN_SYNC', `${base}${ROUTES.pull.path} answered in an unknown encoding ${JSON.stringify(header)}`)
    }
    return store.import(guardedChunks(stream, 'CAIRN_SYNC', `the answer of ${base}${ROUTES.pull.path}`, signal), signal === undefined || importOptions?.signal !== undefined ? importOptions : { ...importOptions, signal })
  })
  const theirHeads = pulled.roots

  // 2. Push what they lack, exactly: we now hold their heads. `export` reads the heads in the
  //    same tick, so `ours` are the roots of the CAR we send.
  signal?.throwIfAborted()
  const ours = store.heads
  // We hold every head of theirs, so they lack something exactly when our heads differ from theirs.
  const theirSorted = sortedCids(theirHeads)
  const inSync = ours.length === theirSorted.length && ours.every((c, i) => c.equals(theirSorted[i]!))
  const pushBody = inSync ? null : await carBody(store.export(signal === undefined ? { since: theirHeads } : { since: theirHeads, signal }), gzip, signer !== undefined)
  let pushed = { blocks: 0, events: 0 }
  if (pushBody !== null) {
    bytesSent += pushBody.blob.size
    const response = await call(
      ROUTES.push.path,
      {
        method: ROUTES.push.method,
        headers: { ...extraHeaders, 'content-type': CAR_MEDIA_TYPE, ...(gzip ? { [ENCODING_HEADER]: 'gzip' } : {}) },
        body: pushBody.blob,
      },
      pushBody.digest,
    )
    const bytes = await responseBytes(response, signal)
    bytesReceived += bytes.length
    const answer = decodePushAnswer(bytes)
    if (answer === undefined) throw new CairnError('CAIRN_SYNC', `${base}${ROUTES.push.path} answered 200 without a push report`)
    pushed = answer
  }

  // 3. Both sides now hold everything reachable from `ours`.
  let perUrl = agreed.get(store)
  if (perUrl === undefined) {
    perUrl = new Map()
    agreed.set(store, perUrl)
  }
  perUrl.set(base, ours)
  return { pulled, pushed, heads: ours, roundTrips, bytesSent, bytesReceived }
}

/**
 * Forgets the heads last agreed with `url` (or with every url), so the next sync starts from hints.
 *
 * @example
 * forgetSyncPeer(store, 'https://example.org/cairn')   // the next sync starts from hints
 */
export function forgetSyncPeer(store: CairnStore, url?: string): void {
  if (url === undefined) agreed.delete(store)
  else agreed.get(store)?.delete(withoutTrailingSlashes(url))
}

/** The body of a push: the CAR, gzipped when asked, gathered into a Blob, with the digest of its bytes as on the wire when `hash` ('' otherwise). */
async function carBody(car: AsyncIterable<Uint8Array>, gzip: boolean, hash: boolean): Promise<{ blob: Blob; digest: string }> {
  let stream = iterableToStream(car[Symbol.asyncIterator]())
  if (gzip) stream = gzipStream(stream)
  let digest = ''
  if (hash) {
    stream = stream.pipeThrough(
      digesting((d) => {
        digest = toBase64url(d)
      }),
    )
  }
  return { blob: await gatherBlob(stream, CAR_MEDIA_TYPE), digest }
}
