// The sync server: a fetch-API handler (fetch, Request, Response, streams, CompressionStream
// only), so it runs unchanged in Node, Deno, browsers' service workers and edge functions.
// The wire format is in protocol.ts.
import type { CID } from 'multiformats/cid'
import { CAR_MEDIA_TYPE } from '../../car/interface.ts'
import type { ImportOptions } from '../../store/options.ts'
import { CairnError, type CairnErrorCode } from '../../errors/cairn-error.ts'
import { expectNonNegativeInteger, expectObject } from '../../errors/arguments.ts'
import type { CairnStore } from '../../store/store.ts'
import { guardedChunks, gunzip, gzipStream, iterableToStream, readLimited } from './body.ts'
import {
  ACCEPT_ENCODING_HEADER,
  ENCODING_HEADER,
  HEADS_HEADER,
  JSON_MEDIA_TYPE,
  ROUTES,
  acceptsGzip,
  bodyEncoding,
  decodePullBody,
  errorAnswer,
  headsAnswer,
  headsHeader,
  pushAnswer,
  sortedCids,
  statusOf,
  withoutTrailingSlashes,
} from './protocol.ts'

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

/** The defaults of {@link SyncHandlerOptions}. */
export const SYNC_HANDLER_DEFAULTS: Readonly<{ basePath: string; maxRequestBytes: number; gzip: boolean }> = Object.freeze({
  basePath: '/cairn',
  maxRequestBytes: 1024 * 1024,
  gzip: true,
})

/** {@link SyncHandlerOptions} with defaults applied; `basePath` has a leading and no trailing slash ('' for the root). */
export interface NormalizedSyncHandlerOptions {
  basePath: string
  import: ImportOptions | undefined
  maxRequestBytes: number
  gzip: boolean
  onError: ((error: unknown, request: Request) => void) | undefined
}

/** Checks the options of {@link createSyncHandler} and applies {@link SYNC_HANDLER_DEFAULTS}. */
export function normalizeSyncHandlerOptions(options: SyncHandlerOptions): NormalizedSyncHandlerOptions {
  expectObject('options', options)
  const basePath = normalizeBasePath(options.basePath ?? SYNC_HANDLER_DEFAULTS.basePath)
  const maxRequestBytes = options.maxRequestBytes === undefined ? SYNC_HANDLER_DEFAULTS.maxRequestBytes : expectNonNegativeInteger('maxRequestBytes', options.maxRequestBytes)
  const gzip = options.gzip === undefined ? SYNC_HANDLER_DEFAULTS.gzip : options.gzip !== false
  return { basePath, import: options.import, maxRequestBytes, gzip, onError: options.onError }
}

function normalizeBasePath(basePath: string): string {
  if (typeof basePath !== 'string') throw new TypeError('"basePath" expected a string')
  const trimmed = withoutTrailingSlashes(basePath)
  return trimmed === '' || trimmed.startsWith('/') ? trimmed : `/${trimmed}`
}

/** A fetch-API request handler. */
export type SyncHandler = (request: Request) => Promise<Response>

type Route = { method: string; run: (request: Request) => Promise<Response> }

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
  const settings = normalizeSyncHandlerOptions(options)
  const base = settings.basePath
  const routes: Record<string, Route> = {
    [ROUTES.pull.path]: { method: ROUTES.pull.method, run: (request) => pull(store, request, settings.maxRequestBytes, settings.gzip) },
    [ROUTES.push.path]: { method: ROUTES.push.method, run: (request) => push(store, request, settings.import) },
    [ROUTES.heads.path]: { method: ROUTES.heads.method, run: async () => json(200, headsAnswer(store.heads)) },
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
      settings.onError?.(err, request)
      return errorResponse(500, 'CAIRN_SYNC', 'internal error')
    }
  }
}

async function pull(store: CairnStore, request: Request, maxRequestBytes: number, gzipAllowed: boolean): Promise<Response> {
  const body = await readLimited(request, maxRequestBytes)
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

async function push(store: CairnStore, request: Request, importOptions: ImportOptions | undefined): Promise<Response> {
  const header = request.headers.get(ENCODING_HEADER)
  const encoding = bodyEncoding(header)
  if (encoding === undefined) {
    throw new CairnError('CAIRN_UNSUPPORTED', `${ENCODING_HEADER} ${JSON.stringify(header)} is not supported; use gzip or identity`)
  }
  let body: ReadableStream<Uint8Array> | null = request.body
  if (body !== null && encoding === 'gzip') body = gunzip(body)
  const report = await store.import(body === null ? new Uint8Array(0) : guardedChunks(body, 'CAIRN_INVALID_CAR', 'the pushed body'), importOptions)
  return json(200, pushAnswer(report))
}

function json(status: number, body: unknown, extra: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': JSON_MEDIA_TYPE, 'cache-control': 'no-store', ...extra } })
}

function errorResponse(status: number, code: CairnErrorCode, message: string, extra: Record<string, string> = {}, cid?: CID): Response {
  return json(status, errorAnswer(code, message, cid), extra)
}
