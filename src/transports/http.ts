// Sync over HTTP with web APIs only (fetch, Request, Response, streams, CompressionStream),
// so the handler runs unchanged in Node, Deno, browsers' service workers and edge functions.
//
// Protocol (one round trip, plus a push when the client holds something the server lacks):
//   POST {base}/pull   body: dag-cbor { heads: CID[], have: CID[] }
//                      200: CAR of store.export({ since: [...heads, ...have] }); its roots are the
//                      server's heads (also in `x-cairn-heads`). gzip when the request says
//                      `x-cairn-accept-encoding: gzip`; the answer then says `x-cairn-encoding: gzip`.
//   POST {base}/push   body: CAR (gzip when `x-cairn-encoding: gzip`) → 200 { blocks, events, heads }
//   GET  {base}/heads  → 200 { heads }
// Errors are JSON { code, message, cid? }. The encoding headers are custom on purpose: with
// Content-Encoding, fetch would decompress transparently and hide the bytes on the wire.
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { concatBytes } from '../block/codec.ts'
import { chunksOf } from '../car/source.ts'
import { CAR_MEDIA_TYPE } from '../car/interface.ts'
import { type ImportOptions, type ImportReport } from '../store/options.ts'
import { CairnError, type CairnErrorCode } from '../errors/cairn-error.ts'
import { expectNonNegativeInteger, expectObject, expectString } from '../errors/arguments.ts'
import type { CairnStore } from '../store/store.ts'
import { sortCids } from '../log/event/order.ts'

const ACCEPT_ENCODING = 'x-cairn-accept-encoding'
const ENCODING = 'x-cairn-encoding'
const HEADS = 'x-cairn-heads'
/** Longest `x-cairn-heads` value sent; beyond it the header is left out (the CAR's roots say the same). */
const MAX_HEADS_HEADER = 8 * 1024

/** Options of {@link createSyncHandler}. */
export interface SyncHandlerOptions {
  /** Path prefix of the routes. Default '/cairn'. */
  basePath?: string
  /** Limits applied to pushed CARs (`maxBytes`, `maxBlockBytes`, `maxClockDrift`, `foreignType`). */
  import?: ImportOptions
  /** Largest pull request body (the heads and hints), in bytes. Default 1 MiB. */
  maxRequestBytes?: number
  /** Whether to gzip pull answers for clients that accept it. Default true. */
  gzip?: boolean
  /** Called with any failure that is not a CairnError (answered 500 with a generic message). */
  onError?: (error: unknown, request: Request) => void
}

/** A fetch-API request handler. */
export type SyncHandler = (request: Request) => Promise<Response>

/** Options of {@link sync}. */
export interface SyncOptions {
  /** The fetch to use (default: the global one). Handy for tests, auth or retries. */
  fetch?: typeof fetch
  /** Ask for gzip answers and gzip the push. Default true. */
  gzip?: boolean
  /** Aborts the sync; each import is atomic, so an abort leaves both sides consistent. */
  signal?: AbortSignal
  /** Extra request headers (e.g. authorization). */
  headers?: Record<string, string>
  /** Limits applied to the pulled CAR. */
  import?: ImportOptions
}

/** What one {@link sync} did. */
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

// ---------------------------------------------------------------------------------------------
// Server

/**
 * A fetch-API handler serving a store to {@link sync} clients: `POST {base}/pull`,
 * `POST {base}/push`, `GET {base}/heads`.
 *
 * @example
 * Deno.serve(createSyncHandler(store))                            // Deno
 * http.createServer(toNodeListener(createSyncHandler(store)))     // Node
 * export default { fetch: createSyncHandler(store) }              // workers
 */
export function createSyncHandler(store: CairnStore, options: SyncHandlerOptions = {}): SyncHandler {
  expectObject('options', options)
  const base = normalizeBase(options.basePath ?? '/cairn')
  const maxRequestBytes = options.maxRequestBytes === undefined ? 1024 * 1024 : expectNonNegativeInteger('maxRequestBytes', options.maxRequestBytes)
  const gzip = options.gzip !== false
  const routes: Record<string, { method: string; run: (request: Request) => Promise<Response> }> = {
    '/pull': { method: 'POST', run: (request) => pull(store, request, maxRequestBytes, gzip) },
    '/push': { method: 'POST', run: (request) => push(store, request, options.import) },
    '/heads': { method: 'GET', run: async () => json(200, { heads: store.heads.map(String) }) },
  }
  return async (request: Request): Promise<Response> => {
    let path: string
    try {
      path = new URL(request.url).pathname
    } catch {
      return errorResponse(400, 'CAIRN_INVALID_VALUE', `unparseable request url ${JSON.stringify(request.url)}`)
    }
    const route = path.startsWith(`${base}/`) ? routes[path.slice(base.length)] : undefined
    if (route === undefined) return errorResponse(404, 'CAIRN_NOT_FOUND', `no sync route at ${path}`)
    if (request.method !== route.method && !(route.method === 'GET' && request.method === 'HEAD')) {
      return errorResponse(405, 'CAIRN_UNSUPPORTED', `${path} takes ${route.method}, got ${request.method}`, { allow: route.method })
    }
    try {
      return await route.run(request)
    } catch (err) {
      if (err instanceof CairnError) return errorResponse(statusOf(err.code), err.code, err.message, {}, err.cid)
      options.onError?.(err, request)
      return errorResponse(500, 'CAIRN_SYNC', 'internal error')
    }
  }
}

async function pull(store: CairnStore, request: Request, maxRequestBytes: number, gzipAllowed: boolean): Promise<Response> {
  const body = await readLimited(request, maxRequestBytes)
  const { heads, have } = decodePullBody(body)
  const serverHeads = store.heads
  const car = store.export({ since: sortCids([...heads, ...have]) })[Symbol.asyncIterator]()
  // Pull the CAR header now, so a failure to start the export is still an error status.
  const first = await car.next()
  let stream = iterableToStream(car, first)
  const headers = new Headers({ 'content-type': CAR_MEDIA_TYPE, 'cache-control': 'no-store' })
  const headsValue = serverHeads.map(String).join(',')
  if (headsValue.length <= MAX_HEADS_HEADER) headers.set(HEADS, headsValue)
  if (gzipAllowed && acceptsGzip(request.headers.get(ACCEPT_ENCODING))) {
    stream = gzipStream(stream)
    headers.set(ENCODING, 'gzip')
  }
  headers.set('vary', ACCEPT_ENCODING)
  return new Response(stream, { status: 200, headers })
}

async function push(store: CairnStore, request: Request, importOptions: ImportOptions | undefined): Promise<Response> {
  const encoding = request.headers.get(ENCODING)
  if (encoding !== null && encoding !== 'gzip' && encoding !== 'identity') {
    throw new CairnError('CAIRN_UNSUPPORTED', `${ENCODING} ${JSON.stringify(encoding)} is not supported; use gzip or identity`)
  }
  let body: ReadableStream<Uint8Array> | null = request.body
  if (body !== null && encoding === 'gzip') body = gunzip(body)
  const report = await store.import(body === null ? new Uint8Array(0) : guardedChunks(body, 'CAIRN_INVALID_CAR', 'the pushed body'), importOptions)
  return json(200, { blocks: report.blocks, events: report.events, heads: report.heads.map(String) })
}

function decodePullBody(bytes: Uint8Array): { heads: CID[]; have: CID[] } {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (cause) {
    throw new CairnError('CAIRN_INVALID_VALUE', `the pull body is not dag-cbor: ${(cause as Error).message}`, { cause })
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || CID.asCID(value) !== null) {
    throw new CairnError('CAIRN_INVALID_VALUE', 'the pull body must be a map { heads: [CID], have: [CID] }')
  }
  const o = value as Record<string, unknown>
  return { heads: cidList(o['heads'], 'heads'), have: o['have'] === undefined ? [] : cidList(o['have'], 'have') }
}

function cidList(value: unknown, name: string): CID[] {
  if (!Array.isArray(value)) throw new CairnError('CAIRN_INVALID_VALUE', `the pull body's "${name}" must be a list of CIDs`, { path: name })
  return value.map((v, i) => {
    const cid = CID.asCID(v)
    if (cid === null) throw new CairnError('CAIRN_INVALID_VALUE', `the pull body's ${name}[${i}] is not a CID`, { path: `${name}[${i}]` })
    return cid
  })
}

/** Reads a request body, refusing it (CAIRN_TOO_LARGE) as soon as it passes `max` bytes. */
async function readLimited(request: Request, max: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN)
  const tooLarge = (): CairnError => new CairnError('CAIRN_TOO_LARGE', `the request body exceeds ${max} bytes`)
  if (declared > max) throw tooLarge()
  if (request.body === null) return new Uint8Array(0)
  const parts: Uint8Array[] = []
  let size = 0
  for await (const chunk of guardedChunks(request.body, 'CAIRN_INVALID_VALUE', 'the request body')) {
    size += chunk.length
    if (size > max) throw tooLarge()
    parts.push(chunk)
  }
  return concatBytes(parts)
}

/** HTTP status of a CairnError code. */
export function statusOf(code: CairnErrorCode): number {
  if (code.startsWith('CAIRN_INVALID_') || code === 'CAIRN_MISSING_BLOCK') return 400
  if (code === 'CAIRN_TOO_LARGE') return 413
  if (code === 'CAIRN_VERSION_CONFLICT' || code === 'CAIRN_DUPLICATE_ID') return 409
  if (code === 'CAIRN_UNSUPPORTED') return 415
  if (code === 'CAIRN_CLOSED') return 503
  return 500
}

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra } })
}

function errorResponse(status: number, code: CairnErrorCode, message: string, extra: Record<string, string> = {}, cid?: CID): Response {
  return json(status, cid === undefined ? { code, message } : { code, message, cid: cid.toString() }, extra)
}

function normalizeBase(basePath: string): string {
  if (typeof basePath !== 'string') throw new TypeError('"basePath" expected a string')
  const trimmed = basePath.replace(/\/+$/, '')
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`
}

function acceptsGzip(header: string | null): boolean {
  return header !== null && header.split(',').some((token) => token.split(';')[0]!.trim().toLowerCase() === 'gzip')
}

// ---------------------------------------------------------------------------------------------
// Client

/** Heads last agreed with each url, per store: they make the next sync's pull exact. */
const agreed = new WeakMap<CairnStore, Map<string, CID[]>>()

/**
 * Syncs a store with a {@link createSyncHandler} server in both directions. Pulls what the
 * server holds beyond our heads and hints, imports it (verified, atomic), then pushes what the
 * server lacks, now known exactly from its heads. A failure leaves both sides consistent
 * (each import is all or nothing) and running `sync` again finishes the job.
 *
 * @example
 * const report = await sync(store, 'https://example.org/cairn')
 * console.log(report.pulled.events, report.pushed.events, report.bytesReceived)
 */
export async function sync(store: CairnStore, url: string, options: SyncOptions = {}): Promise<SyncReport> {
  expectString('url', url)
  expectObject('options', options)
  const base = url.replace(/\/+$/, '')
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => fetch(input, init))
  const gzip = options.gzip !== false
  const signal = options.signal
  const extraHeaders = options.headers ?? {}
  let bytesSent = 0
  let bytesReceived = 0
  let roundTrips = 0

  const call = async (path: string, init: RequestInit): Promise<Response> => {
    signal?.throwIfAborted()
    roundTrips++
    let response: Response | undefined
    // Both calls are idempotent (a pull only reads, an import of the same CAR is a no-op), so
    // one retry covers a kept-alive connection that the server closed while we were idle.
    for (let attempt = 1; response === undefined; attempt++) {
      try {
        response = await doFetch(`${base}${path}`, { ...init, ...(signal === undefined ? {} : { signal }) })
      } catch (cause) {
        if (signal?.aborted === true) throw signal.reason
        if (cause instanceof CairnError) throw cause
        if (attempt < 2) continue
        throw new CairnError('CAIRN_SYNC', `could not reach ${base}${path}: ${messageOf(cause)}`, { cause })
      }
    }
    if (!response.ok) {
      const bytes = await bodyBytes(response, signal)
      bytesReceived += bytes.length
      throw errorFromResponse(response, bytes, `${base}${path}`)
    }
    return response
  }

  // 1. Pull: our heads, hints and the heads last agreed with this url; the server answers with
  //    a CAR of what it holds beyond them, whose roots are its heads.
  const remembered = agreed.get(store)?.get(base) ?? []
  const heads = store.heads
  const headKeys = new Set(heads.map(String))
  const have = sortCids([...store.syncHints(), ...remembered]).filter((c) => !headKeys.has(c.toString()))
  const pullBody = dagCbor.encode({ heads, have }) as Uint8Array<ArrayBuffer>
  bytesSent += pullBody.length
  const pulled = await call('/pull', {
    method: 'POST',
    headers: { ...extraHeaders, 'content-type': 'application/cbor', accept: CAR_MEDIA_TYPE, ...(gzip ? { [ACCEPT_ENCODING]: 'gzip' } : {}) },
    body: pullBody,
  }).then(async (response) => {
    if (response.body === null) throw new CairnError('CAIRN_SYNC', `${base}/pull answered without a body`)
    let stream = response.body.pipeThrough(counter((n) => { bytesReceived += n }))
    const encoding = response.headers.get(ENCODING)
    if (encoding === 'gzip') stream = gunzip(stream)
    else if (encoding !== null && encoding !== 'identity') {
      await response.body.cancel().catch(() => {})
      throw new CairnError('CAIRN_SYNC', `${base}/pull answered in an unknown encoding ${JSON.stringify(encoding)}`)
    }
    return store.import(guardedChunks(stream, 'CAIRN_SYNC', `the answer of ${base}/pull`, signal), options.import)
  })
  const theirHeads = pulled.roots

  // 2. Push what they lack, exactly: we now hold their heads. `export` reads the heads in the
  //    same tick, so `ours` are the roots of the CAR we send.
  signal?.throwIfAborted()
  const ours = store.heads
  // We hold every head of theirs, so they lack something exactly when our heads differ from theirs.
  const theirSorted = sortCids(theirHeads)
  const inSync = ours.length === theirSorted.length && ours.every((c, i) => c.equals(theirSorted[i]!))
  const pushBody = inSync ? null : await carBody(store.export({ since: theirHeads }), gzip)
  let pushed = { blocks: 0, events: 0 }
  if (pushBody !== null) {
    bytesSent += pushBody.size
    const response = await call('/push', {
      method: 'POST',
      headers: { ...extraHeaders, 'content-type': CAR_MEDIA_TYPE, ...(gzip ? { [ENCODING]: 'gzip' } : {}) },
      body: pushBody,
    })
    const bytes = await bodyBytes(response, signal)
    bytesReceived += bytes.length
    const answer = parseJson(bytes) as { blocks?: unknown; events?: unknown } | undefined
    if (answer === undefined || typeof answer.blocks !== 'number' || typeof answer.events !== 'number') {
      throw new CairnError('CAIRN_SYNC', `${base}/push answered 200 without a push report`)
    }
    pushed = { blocks: answer.blocks, events: answer.events }
  }

  // 3. Both sides now hold everything reachable from `ours`.
  let perUrl = agreed.get(store)
  if (perUrl === undefined) agreed.set(store, perUrl = new Map())
  perUrl.set(base, ours)
  return { pulled, pushed, heads: ours, roundTrips, bytesSent, bytesReceived }
}

/** Forgets the heads last agreed with `url` (or with every url), so the next sync starts from hints. */
export function forgetSyncPeer(store: CairnStore, url?: string): void {
  if (url === undefined) agreed.delete(store)
  else agreed.get(store)?.delete(url.replace(/\/+$/, ''))
}

/**
 * The body of a push: the CAR, gzipped when asked, gathered into a Blob (browsers only stream
 * request bodies over HTTP/2, and a Blob gives an exact Content-Length).
 */
async function carBody(car: AsyncIterable<Uint8Array>, gzip: boolean): Promise<Blob> {
  let stream = iterableToStream(car[Symbol.asyncIterator]())
  if (gzip) stream = gzipStream(stream)
  const parts: Uint8Array[] = []
  for await (const part of chunksOf(stream)) parts.push(part)
  return new Blob(parts as BlobPart[], { type: CAR_MEDIA_TYPE })
}

function errorFromResponse(response: Response, bytes: Uint8Array, where: string): CairnError {
  const body = parseJson(bytes) as { code?: unknown; message?: unknown; cid?: unknown } | undefined
  if (body !== undefined && typeof body.code === 'string' && /^CAIRN_[A-Z_]+$/.test(body.code)) {
    let cid: CID | undefined
    try {
      cid = typeof body.cid === 'string' ? CID.parse(body.cid) : undefined
    } catch {
      cid = undefined
    }
    const message = typeof body.message === 'string' ? body.message : `${where} answered ${response.status}`
    return new CairnError(body.code as CairnErrorCode, `${where} refused: ${message}`, cid === undefined ? {} : { cid })
  }
  return new CairnError('CAIRN_SYNC', `${where} answered ${response.status} ${response.statusText}`.trimEnd())
}

async function bodyBytes(response: Response, signal: AbortSignal | undefined): Promise<Uint8Array> {
  try {
    return new Uint8Array(await response.arrayBuffer())
  } catch (cause) {
    if (signal?.aborted === true) throw signal.reason
    throw new CairnError('CAIRN_SYNC', `reading the answer of ${response.url} failed: ${messageOf(cause)}`, { cause })
  }
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes))
    return value !== null && typeof value === 'object' ? value : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Streams

/**
 * A pull-based ReadableStream over an async iterator: the source is read only when the
 * consumer wants more, so a slow peer holds back the export (whose chunks are already about
 * 64 KiB, see writeCar). `first` is a result already taken from the iterator.
 */
function iterableToStream(it: AsyncIterator<Uint8Array>, first?: IteratorResult<Uint8Array>): ReadableStream<Uint8Array> {
  let pending = first
  let finished = false
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = pending ?? await it.next()
      pending = undefined
      if (next.done === true) {
        finished = true
        controller.close()
      } else {
        controller.enqueue(next.value)
      }
    },
    async cancel() {
      if (!finished) await it.return?.()
    },
  }, { highWaterMark: 0 })
}

/**
 * Chunks of a body (see chunksOf: cancelled when the consumer stops early) whose read failures
 * become a CairnError with `code`, or the abort reason once `signal` aborted.
 */
function guardedChunks(stream: ReadableStream<Uint8Array>, code: CairnErrorCode, what: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  return chunksOf(stream, what, (cause) => signal?.aborted === true ? signal.reason : new CairnError(code, `${what} could not be read: ${messageOf(cause)}`, { cause }))
}

// The DOM typings give (De)CompressionStream a `BufferSource` writable side, which does not
// match `ReadableStream<Uint8Array>`'s pipeThrough; the runtime accepts Uint8Array chunks.
type BytePair = ReadableWritablePair<Uint8Array, Uint8Array>

function gzipStream(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return stream.pipeThrough(new CompressionStream('gzip') as unknown as BytePair)
}

function gunzip(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return stream.pipeThrough(new DecompressionStream('gzip') as unknown as BytePair)
}

/** A pass-through that reports the byte length of each chunk. */
function counter(count: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      count(chunk.length)
      controller.enqueue(chunk)
    },
  })
}



function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause
    return cause instanceof Error && cause.message !== err.message ? `${err.message} (${cause.message})` : err.message
  }
  return String(err)
}
