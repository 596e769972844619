// The sync server: a fetch-API handler (fetch, Request, Response, streams, CompressionStream
// only), so it runs unchanged in Node, Deno, browsers' service workers and edge functions.
// The wire format is in protocol.ts.
import type { CID } from 'multiformats/cid'
import { CAR_MEDIA_TYPE } from '../../car/interface.ts'
import type { ImportOptions } from '../../store/options.ts'
import { CairnError, type CairnErrorCode } from '../../errors/cairn-error.ts'
import { checkedClock } from '../../errors/clock.ts'
import { expectFunction, expectNonNegativeInteger, expectObject, expectOptionalBoolean, expectPositiveInteger, type KnownKeys } from '../../errors/arguments.ts'
import { verifySignature } from '../../identity/verify.ts'
import type { CairnStore } from '../../store/store.ts'
import { expectStore } from '../store-argument.ts'
import { digesting, guardedChunks, gunzip, gzipStream, iterableToStream, readLimited } from './body.ts'
import {
  checkImportOptions,
  ACCEPT_ENCODING_HEADER,
  ANSWER_HEADERS,
  DIGEST_HEADER,
  EMPTY_BODY_DIGEST,
  ENCODING_HEADER,
  HEADS_HEADER,
  JSON_MEDIA_TYPE,
  REQUEST_HEADERS,
  ROUTES,
  SIGNED_REQUEST_DOMAIN,
  acceptsGzip,
  bodyDigest,
  bodyEncoding,
  decodePullBody,
  errorAnswer,
  headsAnswer,
  headsHeader,
  originOf,
  pushAnswer,
  readSignatureClaim,
  signedPath,
  signingString,
  sortedCids,
  statusOf,
  toBase64url,
  withoutTrailingSlashes,
} from './protocol.ts'

/**
 * Options of {@link createSyncHandler}.
 *
 * @example
 * createSyncHandler(store, { basePath: '/sync', import: { maxBytes: 64 << 20 }, onError: console.error })
 */
export interface SyncHandlerOptions {
  /** Path prefix of the routes. Default '/cairn'. */
  basePath?: string
  /** Limits applied to pushed CARs (`maxBytes`, `maxBlockBytes`, `maxClockDrift`, `foreignType`). */
  import?: ImportOptions
  /** Largest pull request body (the heads and hints), in bytes. Default 1 MiB. */
  maxRequestBytes?: number
  /** Whether to gzip pull answers for clients that accept it. Default true. */
  gzip?: boolean
  /** Who may call: request signatures and the checks on the caller's did. See {@link SyncAuthOptions}. */
  auth?: SyncAuthOptions
  /** Lets browser apps on other origins sync: preflights answered, CORS headers on every answer. Default: no CORS. */
  cors?: SyncCorsOptions
  /**
   * The handler's clock in ms, against which request times are checked. Default `Date.now`. A
   * reading that is not a time in ms (NaN, undefined, a negative number) fails the signed
   * request it was read for (500, and `onError`): it never turns the time window off.
   */
  now?: () => number
  /** Called with any failure that is not a CairnError (answered 500 with a generic message). */
  onError?: (error: unknown, request: Request) => void
}

/**
 * Request signatures (docs/format-v1.md, section 12.6). A request that carries signature
 * headers is always checked: a malformed, stale, replayed or wrong signature, one made for
 * another origin than this server's (see `audience`), or a body whose digest differs from the
 * signed one, is 401 `CAIRN_UNAUTHORIZED`.
 *
 * Signatures are required (an unsigned request is 401) when the store has access rules
 * (`store.access` is set) or when `requireSignedRequests` is on. The caller's did must then
 * be admitted before any body is read, or the answer is 403 `CAIRN_UNAUTHORIZED`:
 * - pull and heads: a did the access rules know (`store.can(did)`), or one `canRead` admits;
 * - push: a did the access rules know, or one `canPush` admits; every pushed event then still
 *   passes the store's import rules.
 * Without access rules, a missing hook admits any verified did.
 *
 * @example
 * createSyncHandler(store, { auth: { requireSignedRequests: true, canPush: (did) => writers.has(did) } })
 */
export interface SyncAuthOptions {
  /** Refuse unsigned requests even when the store has no access rules. Default false. */
  requireSignedRequests?: boolean
  /**
   * The origin or origins (`https://sync.example.org`) clients address this server by: a
   * request signature must name one of them (each is tried in turn, so keep the list short).
   * Default: the origin of the request's own URL —
   * which a proxy that changes the host, or a server that builds the URL from the `Host` header
   * a caller sent (Node's `toNodeListener`, `Deno.serve`), does not pin down. Set it behind a
   * proxy, and wherever a server answers any `Host`.
   */
  audience?: string | readonly string[]
  /** How far a request's signed time may be from the handler's clock, either way, in ms. Default 5 minutes. */
  maxSkewMs?: number
  /** Admits a caller to pull and heads beyond those the access rules know. */
  canRead?: (did: string) => boolean | Promise<boolean>
  /** Admits a caller to push beyond those the access rules know. */
  canPush?: (did: string) => boolean | Promise<boolean>
  /**
   * Most nonces remembered at once (each for `maxSkewMs` after its request's time); past it,
   * signed requests are answered 503 until older nonces expire. Default 100 000 (a few MiB).
   */
  maxNonces?: number
}

/**
 * CORS for browser apps on other origins.
 *
 * @example
 * createSyncHandler(store, { cors: { origins: ['https://app.example.org'], headers: ['authorization'] } })
 */
export interface SyncCorsOptions {
  /** Origins allowed (`https://app.example.org`), or '*' for any. */
  origins: '*' | readonly string[]
  /** How long a browser may cache a preflight answer, in seconds. Default 600. */
  maxAge?: number
  /** Request headers allowed besides the protocol's own (e.g. `authorization` for `SyncOptions.headers`). */
  headers?: readonly string[]
}

/** The defaults of {@link SyncHandlerOptions}, of {@link SyncAuthOptions} (`auth`) and of {@link SyncCorsOptions} (`cors`). */
export const SYNC_HANDLER_DEFAULTS: Readonly<{
  basePath: string
  maxRequestBytes: number
  gzip: boolean
  now: () => number
  auth: Readonly<{ requireSignedRequests: boolean; maxSkewMs: number; maxNonces: number }>
  cors: Readonly<{ maxAge: number }>
}> = Object.freeze({
  basePath: '/cairn',
  maxRequestBytes: 1024 * 1024,
  gzip: true,
  now: () => Date.now(),
  auth: Object.freeze({ requireSignedRequests: false, maxSkewMs: 5 * 60 * 1000, maxNonces: 100_000 }),
  cors: Object.freeze({ maxAge: 600 }),
})

// The keys of the handler's options objects, for `expectObject`: any other key is a TypeError
// when the handler is made (a misspelt `requireSignedRequests` would serve unsigned requests).
const HANDLER_KEYS: KnownKeys<SyncHandlerOptions> = { basePath: 1, import: 1, maxRequestBytes: 1, gzip: 1, auth: 1, cors: 1, now: 1, onError: 1 }
const AUTH_KEYS: KnownKeys<SyncAuthOptions> = { requireSignedRequests: 1, audience: 1, maxSkewMs: 1, canRead: 1, canPush: 1, maxNonces: 1 }
const CORS_KEYS: KnownKeys<SyncCorsOptions> = { origins: 1, maxAge: 1, headers: 1 }

/** {@link SyncHandlerOptions} with defaults applied; `basePath` has a leading and no trailing slash ('' for the root). */
export interface NormalizedSyncHandlerOptions {
  basePath: string
  import: ImportOptions | undefined
  maxRequestBytes: number
  gzip: boolean
  auth: {
    requireSignedRequests: boolean
    /** The origins a signature may name; undefined: the request URL's own. */
    audience: readonly string[] | undefined
    maxSkewMs: number
    maxNonces: number
    canRead: ((did: string) => boolean | Promise<boolean>) | undefined
    canPush: ((did: string) => boolean | Promise<boolean>) | undefined
  }
  /** Allowed origins ('*' or a set of `URL.origin` values), the max age and the allowed request headers joined; undefined without CORS. */
  cors: { origins: '*' | ReadonlySet<string>; maxAge: number; headers: string } | undefined
  now: () => number
  onError: ((error: unknown, request: Request) => void) | undefined
}

/**
 * Checks the options of {@link createSyncHandler} and applies {@link SYNC_HANDLER_DEFAULTS}.
 * A key that the options, `auth`, `cors` or `import` do not know is a TypeError naming it, as
 * is a bad value: thrown when the handler is made, before it serves any request.
 */
export function normalizeSyncHandlerOptions(options: SyncHandlerOptions): NormalizedSyncHandlerOptions {
  expectObject('options', options, HANDLER_KEYS)
  const d = SYNC_HANDLER_DEFAULTS
  const basePath = normalizeBasePath(options.basePath ?? d.basePath)
  const maxRequestBytes = options.maxRequestBytes === undefined ? d.maxRequestBytes : expectNonNegativeInteger('maxRequestBytes', options.maxRequestBytes)
  const gzip = options.gzip === undefined ? d.gzip : expectOptionalBoolean('gzip', options.gzip)
  const auth = expectObject('auth', options.auth ?? {}, AUTH_KEYS) as SyncAuthOptions
  checkImportOptions(options.import)
  const hook = (name: string, f: unknown): ((did: string) => boolean | Promise<boolean>) | undefined => (f === undefined ? undefined : expectFunction(name, f))
  return {
    basePath,
    import: options.import,
    maxRequestBytes,
    gzip,
    auth: {
      requireSignedRequests: auth.requireSignedRequests === undefined ? d.auth.requireSignedRequests : expectOptionalBoolean('auth.requireSignedRequests', auth.requireSignedRequests),
      audience: auth.audience === undefined ? undefined : normalizeAudience(auth.audience),
      maxSkewMs: auth.maxSkewMs === undefined ? d.auth.maxSkewMs : expectNonNegativeInteger('auth.maxSkewMs', auth.maxSkewMs),
      maxNonces: auth.maxNonces === undefined ? d.auth.maxNonces : expectPositiveInteger('auth.maxNonces', auth.maxNonces),
      canRead: hook('auth.canRead', auth.canRead),
      canPush: hook('auth.canPush', auth.canPush),
    },
    cors: options.cors === undefined ? undefined : normalizeCors(options.cors),
    now: options.now === undefined ? d.now : checkedClock('now', expectFunction<() => number>('now', options.now)),
    onError: options.onError === undefined ? undefined : expectFunction('onError', options.onError),
  }
}

function normalizeBasePath(basePath: string): string {
  if (typeof basePath !== 'string') throw new TypeError('"basePath" expected a string')
  const trimmed = withoutTrailingSlashes(basePath)
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`
}

function normalizeAudience(audience: unknown): readonly string[] {
  const list: unknown[] = typeof audience === 'string' ? [audience] : Array.isArray(audience) ? audience : []
  if (list.length === 0) throw new TypeError('"auth.audience" expected an origin such as "https://sync.example.org", or a non-empty array of them')
  return [
    ...new Set(
      list.map((o, i) => {
        const origin = typeof o === 'string' ? originOf(o) : undefined
        if (origin === undefined) throw new TypeError(`"auth.audience${typeof audience === 'string' ? '' : `[${i}]`}" expected an http(s) origin such as "https://sync.example.org", got ${JSON.stringify(o)}`)
        return origin
      }),
    ),
  ]
}

function normalizeCors(cors: SyncCorsOptions): NonNullable<NormalizedSyncHandlerOptions['cors']> {
  expectObject('cors', cors, CORS_KEYS)
  let origins: '*' | Set<string>
  if (cors.origins === '*') origins = '*'
  else if (Array.isArray(cors.origins)) {
    origins = new Set(
      cors.origins.map((o: unknown, i) => {
        let origin: string | undefined
        try {
          origin = typeof o === 'string' ? new URL(o).origin : undefined
        } catch {
          origin = undefined
        }
        if (origin === undefined || origin === 'null') throw new TypeError(`"cors.origins[${i}]" expected an origin such as "https://app.example.org", got ${JSON.stringify(o)}`)
        return origin
      }),
    )
  } else throw new TypeError('"cors.origins" expected "*" or an array of origins')
  const maxAge = cors.maxAge === undefined ? SYNC_HANDLER_DEFAULTS.cors.maxAge : expectNonNegativeInteger('cors.maxAge', cors.maxAge)
  const extra = cors.headers ?? []
  if (!Array.isArray(extra) || !extra.every((h) => typeof h === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h))) {
    throw new TypeError('"cors.headers" expected an array of header names')
  }
  const headers = [...new Set([...REQUEST_HEADERS, ...extra.map((h) => h.toLowerCase())])].join(', ')
  return { origins, maxAge, headers }
}

/**
 * A fetch-API request handler.
 *
 * @example
 * const handler: SyncHandler = createSyncHandler(store)
 * const { heads } = await (await handler(new Request('http://127.0.0.1/cairn/heads'))).json()
 */
export type SyncHandler = (request: Request) => Promise<Response>

/** Who called, once the signature checks passed: the did, and the digest the body must have (both undefined for an unsigned request). */
type Caller = { did: string | undefined; digest: string | undefined }

type Route = { method: string; access: 'read' | 'push'; run: (request: Request, caller: Caller) => Promise<Response> }

/** Statuses of refusals that are not {@link statusOf} their code: 401 for request signatures, 503 for a full nonce cache. */
const statusOfRefusal = new WeakMap<CairnError, number>()

function refusal(status: number, code: CairnErrorCode, message: string): CairnError {
  const err = new CairnError(code, message)
  statusOfRefusal.set(err, status)
  return err
}

/** A 401: the request's signature is missing, malformed, stale, replayed or wrong, or its body is not the one signed. */
function unauthenticated(message: string): CairnError {
  return refusal(401, 'CAIRN_UNAUTHORIZED', message)
}

/**
 * A fetch-API handler serving a store to {@link sync} clients: `POST {base}/pull`,
 * `POST {base}/push`, `GET {base}/heads`; request signatures and the caller's did checked
 * as {@link SyncAuthOptions} says, before any body is read; CORS when `cors` is given. A bad
 * option, or a key the options, `auth`, `cors` or `import` do not know, is a TypeError (or
 * RangeError) thrown here, before any request is served.
 *
 * @example
 * Deno.serve(createSyncHandler(store))                            // Deno
 * http.createServer(toNodeListener(createSyncHandler(store)))     // Node
 * export default { fetch: createSyncHandler(store) }              // workers
 * createSyncHandler(store, { auth: { requireSignedRequests: true, canRead: (did) => readers.has(did) }, cors: { origins: ['https://app.example.org'] } })
 * createSyncHandler(store, { auth: { audience: 'https://sync.example.org' } })    // behind a proxy that changes the host
 */
export function createSyncHandler(store: CairnStore, options: SyncHandlerOptions = {}): SyncHandler {
  expectStore(store)
  const settings = normalizeSyncHandlerOptions(options)
  const base = settings.basePath
  const nonces = new NonceCache(settings.auth.maxNonces)
  const routes: Record<string, Route> = {
    [ROUTES.pull.path]: { method: ROUTES.pull.method, access: 'read', run: (request, caller) => pull(store, request, caller, settings.maxRequestBytes, settings.gzip) },
    [ROUTES.push.path]: { method: ROUTES.push.method, access: 'push', run: (request, caller) => push(store, request, caller, settings.import) },
    [ROUTES.heads.path]: {
      method: ROUTES.heads.method,
      access: 'read',
      run: async (request, caller) => {
        await checkedBytes(request, caller, 0) // no body: a signed digest must be that of no bytes
        return json(200, headsAnswer(store.heads))
      },
    },
  }

  /** Checks the signature headers, the time window and the nonce; then, where signatures are required, that the caller is admitted. */
  const authenticate = async (request: Request, url: URL, access: Route['access']): Promise<Caller> => {
    const required = store.access !== undefined || settings.auth.requireSignedRequests
    const claim = readSignatureClaim(request.headers)
    if (claim === undefined) {
      if (required) throw unauthenticated('this server takes signed requests only (sync with a signer)')
      return { did: undefined, digest: undefined }
    }
    if (typeof claim === 'string') throw unauthenticated(claim)
    const { maxSkewMs } = settings.auth
    const skew = claim.time - settings.now()
    if (Math.abs(skew) > maxSkewMs) {
      throw unauthenticated(`the request was signed ${Math.round(Math.abs(skew) / 1000)} s ${skew < 0 ? 'before' : 'after'} the server's time, more than the ${maxSkewMs / 1000} s allowed (stale, or a clock off)`)
    }
    // The audience: the origins this server is addressed by, each tried (a short list).
    const audiences = settings.auth.audience ?? [url.origin]
    let verified = false
    for (const audience of audiences) {
      const signed = new TextEncoder().encode(signingString({ audience, method: request.method, path: signedPath(url), digest: claim.digest, time: claim.time, nonce: claim.nonce }))
      if (await verifySignature(claim.did, signed, claim.signature)) {
        verified = true
        break
      }
    }
    if (!verified) {
      throw unauthenticated(
        `the request signature does not verify for ${claim.did} (${SIGNED_REQUEST_DOMAIN} for ${audiences.join(' or ')}, over ${request.method} ${signedPath(url)}): signed for another origin, changed since, or by another key`,
      )
    }
    // Synchronous from here to the record: two copies of one request racing cannot both pass.
    const fresh = nonces.claim(`${claim.did} ${claim.nonce}`, claim.time + maxSkewMs, settings.now())
    if (fresh === 'replayed') throw unauthenticated(`nonce ${claim.nonce} was already used: a replayed request`)
    if (fresh === 'full') throw refusal(503, 'CAIRN_SYNC', 'too many signed requests within the time window; retry later')
    if (required) await admit(claim.did, access)
    return { did: claim.did, digest: claim.digest }
  }

  const admit = async (did: string, access: Route['access']): Promise<void> => {
    const rules = store.access !== undefined
    if (rules && store.can(did)) return
    const hook = access === 'read' ? settings.auth.canRead : settings.auth.canPush
    const admitted = hook === undefined ? !rules : (await hook(did)) === true
    if (!admitted) throw new CairnError('CAIRN_UNAUTHORIZED', `${did} may not ${access === 'read' ? 'read from' : 'push to'} this store`)
  }

  return async (request: Request): Promise<Response> => {
    const cors = corsHeaders(settings.cors, request.headers.get('origin'))
    const answer = (response: Response): Response => {
      for (const [key, value] of Object.entries(cors)) {
        if (key === 'vary') response.headers.append(key, value)
        else response.headers.set(key, value)
      }
      return response
    }
    let url: URL
    try {
      url = new URL(request.url)
    } catch {
      return answer(errorResponse(400, 'CAIRN_INVALID_VALUE', `unparseable request url ${JSON.stringify(request.url)}`))
    }
    const path = url.pathname
    const route = path.startsWith(`${base}/`) ? routes[path.slice(base.length)] : undefined
    if (route === undefined) return answer(errorResponse(404, 'CAIRN_NOT_FOUND', `no sync route at ${path}`))
    if (request.method === 'OPTIONS' && settings.cors !== undefined) return preflight(settings.cors, request, route.method, path)
    if (request.method !== route.method && !(route.method === 'GET' && request.method === 'HEAD')) {
      return answer(errorResponse(405, 'CAIRN_UNSUPPORTED', `${path} takes ${route.method}, got ${request.method}`, { allow: route.method }))
    }
    try {
      const caller = await authenticate(request, url, route.access)
      return answer(await route.run(request, caller))
    } catch (err) {
      // Whatever was not read of the body is left to the server: the answer goes out now.
      if (err instanceof CairnError) {
        const status = statusOfRefusal.get(err) ?? statusOf(err.code)
        return answer(errorResponse(status, err.code, err.message, status === 401 ? { 'www-authenticate': SIGNED_REQUEST_DOMAIN } : status === 503 ? { 'retry-after': '1' } : {}, err))
      }
      settings.onError?.(err, request)
      return answer(errorResponse(500, 'CAIRN_SYNC', 'internal error'))
    }
  }
}

/** A request body read whole (at most `max` bytes), refused when it is not the one the caller signed. */
async function checkedBytes(request: Request, caller: Caller, max: number): Promise<Uint8Array> {
  const body = await readLimited(request, max)
  if (caller.digest !== undefined && bodyDigest(body) !== caller.digest) throw unauthenticated(`the body is not the one signed (${DIGEST_HEADER} differs)`)
  return body
}

async function pull(store: CairnStore, request: Request, caller: Caller, maxRequestBytes: number, gzipAllowed: boolean): Promise<Response> {
  const body = await checkedBytes(request, caller, maxRequestBytes)
  const { heads, have } = decodePullBody(body)
  const serverHeads = store.heads
  const car = store.export({ since: sortedCids([...heads, ...have]) })[Symbol.asyncIterator]()
  // Pull the CAR header now, so a failure to start the export is still an error status.
  const first = await car.next()
  let stream = iterableToStream(car, first)
  const headers = new Headers({ 'content-type': CAR_MEDIA_TYPE, 'cache-control': 'no-store' })
  const headsValue = headsHeader(serverHeads)
  if (headsValue !== undefined) headers.set(HEADS_HEADER, headsValue)
  if (gzipAllowed && acceptsGzip(request.headers.get(ACCEPT_ENCODING_HEADER))) {
    stream = gzipStream(stream)
    headers.set(ENCODING_HEADER, 'gzip')
  }
  headers.set('vary', ACCEPT_ENCODING_HEADER)
  return new Response(stream, { status: 200, headers })
}

async function push(store: CairnStore, request: Request, caller: Caller, importOptions: ImportOptions | undefined): Promise<Response> {
  const header = request.headers.get(ENCODING_HEADER)
  const encoding = bodyEncoding(header)
  if (encoding === undefined) {
    throw new CairnError('CAIRN_UNSUPPORTED', `${ENCODING_HEADER} ${JSON.stringify(header)} is not supported; use gzip or identity`)
  }
  let body: ReadableStream<Uint8Array> | null = request.body
  let notSigned: CairnError | undefined
  if (caller.digest !== undefined) {
    const signed = caller.digest
    if (body === null) {
      if (signed !== EMPTY_BODY_DIGEST) throw unauthenticated(`the body is not the one signed (${DIGEST_HEADER} differs)`)
    } else {
      // The digest is known only at the end of the body; the import reads to the end before it
      // commits, so a body that is not the one signed fails the import there and nothing of it is kept.
      body = body.pipeThrough(
        digesting((digest) => {
          if (toBase64url(digest) === signed) return
          notSigned = unauthenticated(`the body is not the one signed (${DIGEST_HEADER} differs); nothing of it was imported`)
          throw notSigned
        }),
      )
    }
  }
  if (body !== null && encoding === 'gzip') body = gunzip(body)
  try {
    const report = await store.import(body === null ? new Uint8Array(0) : guardedChunks(body, 'CAIRN_INVALID_CAR', 'the pushed body'), importOptions)
    return json(200, pushAnswer(report))
  } catch (err) {
    throw notSigned ?? err
  }
}

/** The answer to a CORS preflight on a route: 204 with what may be sent, or 403 for an origin not allowed. */
function preflight(cors: NonNullable<NormalizedSyncHandlerOptions['cors']>, request: Request, method: string, path: string): Response {
  const origin = request.headers.get('origin')
  const headers = corsHeaders(cors, origin)
  if (headers['access-control-allow-origin'] === undefined) {
    return errorResponse(403, 'CAIRN_UNAUTHORIZED', `origin ${JSON.stringify(origin)} may not call ${path}`, { vary: 'origin' })
  }
  return new Response(null, {
    status: 204,
    headers: {
      ...headers,
      'access-control-allow-methods': method === 'GET' ? 'GET, HEAD' : method,
      'access-control-allow-headers': cors.headers,
      'access-control-max-age': String(cors.maxAge),
      'cache-control': 'no-store',
    },
  })
}

/** CORS headers of an answer to `origin`: none without CORS or for an origin not allowed. */
function corsHeaders(cors: NormalizedSyncHandlerOptions['cors'], origin: string | null): Record<string, string> {
  if (cors === undefined) return {}
  const exposed = { 'access-control-expose-headers': ANSWER_HEADERS.join(', ') }
  if (cors.origins === '*') return { 'access-control-allow-origin': '*', ...exposed }
  if (origin === null || !cors.origins.has(origin)) return { vary: 'origin' }
  return { 'access-control-allow-origin': origin, vary: 'origin', ...exposed }
}

/**
 * Nonces seen within the time window, each kept until the window of its request's signed time
 * has passed (a replay after that is stale anyway). Expired ones are swept when the cache is
 * full, and at most once per second otherwise: memory stays within `max` entries.
 */
class NonceCache {
  readonly #max: number
  readonly #expiries = new Map<string, number>()
  #sweptAt = Number.NEGATIVE_INFINITY

  constructor(max: number) {
    this.#max = max
  }

  /** Records `key` until `expiresAt`: 'fresh' when it was not there, 'replayed' when it was, 'full' when there is no room. */
  claim(key: string, expiresAt: number, now: number): 'fresh' | 'replayed' | 'full' {
    const known = this.#expiries.get(key)
    if (known !== undefined && known >= now) return 'replayed'
    if (this.#expiries.size >= this.#max || now - this.#sweptAt >= 1000) this.#sweep(now)
    if (this.#expiries.size >= this.#max) return 'full'
    this.#expiries.set(key, expiresAt)
    return 'fresh'
  }

  #sweep(now: number): void {
    this.#sweptAt = now
    for (const [key, expiresAt] of this.#expiries) if (expiresAt < now) this.#expiries.delete(key)
  }
}

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': JSON_MEDIA_TYPE, 'cache-control': 'no-store', ...extra } })
}

function errorResponse(
  status: number,
  code: CairnErrorCode,
  message: string,
  extra: Record<string, string> = {},
  details: { cid?: CID | undefined; refused?: readonly CID[] | undefined; reasons?: readonly string[] | undefined } = {},
): Response {
  return json(status, errorAnswer(code, message, details), extra)
}
