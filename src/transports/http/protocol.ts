// The sync protocol on the wire: routes, headers, media types, the shapes of the bodies and the
// mapping between HTTP statuses and CairnError codes. Shared by the handler and the client.
//
// One round trip, plus a push when the client holds something the server lacks:
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
import { compareBytes } from '../../block/codec.ts'
import { CairnError, type CairnErrorCode } from '../../errors/cairn-error.ts'

/** The routes under the base path, with the method each takes. */
export const ROUTES = {
  pull: { path: '/pull', method: 'POST' },
  push: { path: '/push', method: 'POST' },
  heads: { path: '/heads', method: 'GET' },
} as const

/** Request header: the client takes a gzipped pull answer (`gzip`). */
export const ACCEPT_ENCODING_HEADER = 'x-cairn-accept-encoding'
/** Request or response header: the body is gzipped (`gzip`) or not (`identity`, or no header). */
export const ENCODING_HEADER = 'x-cairn-encoding'
/** Response header of a pull: the server's heads, comma-separated. */
export const HEADS_HEADER = 'x-cairn-heads'
/** Longest `x-cairn-heads` value sent; beyond it the header is left out (the CAR's roots say the same). */
export const MAX_HEADS_HEADER: number = 8 * 1024

/** Media type of a pull request body. */
export const CBOR_MEDIA_TYPE = 'application/cbor'
/** Media type of push, heads and error answers. */
export const JSON_MEDIA_TYPE = 'application/json'

/** A pull request body (dag-cbor). */
export interface PullBody {
  heads: CID[]
  have: CID[]
}

/** A push answer (JSON). */
export interface PushAnswer {
  blocks: number
  events: number
  heads: string[]
}

/** A heads answer (JSON). */
export interface HeadsAnswer {
  heads: string[]
}

/** An error answer (JSON). */
export interface ErrorAnswer {
  code: CairnErrorCode
  message: string
  cid?: string
}

/** Base paths and peer urls are compared without trailing slashes. */
export function withoutTrailingSlashes(path: string): string {
  return path.replace(/\/+$/, '')
}

/**
 * CIDs sorted by their bytes, duplicates removed: the order of a store's heads, in which the
 * client sends heads and hints.
 */
export function sortedCids(cids: Iterable<CID>): CID[] {
  const byKey = new Map<string, CID>()
  for (const cid of cids) byKey.set(cid.toString(), cid)
  return [...byKey.values()].sort((a, b) => compareBytes(a.bytes, b.bytes))
}

/** The `x-cairn-encoding` value, or undefined when it is neither gzip nor identity (no header is identity). */
export function bodyEncoding(header: string | null): 'gzip' | 'identity' | undefined {
  if (header === null || header === 'identity') return 'identity'
  return header === 'gzip' ? 'gzip' : undefined
}

/** Whether an `x-cairn-accept-encoding` value lists gzip. */
export function acceptsGzip(header: string | null): boolean {
  if (header === null) return false
  return header.split(',').some((token) => token.split(';')[0]!.trim().toLowerCase() === 'gzip')
}

/** The `x-cairn-heads` value, or undefined when it would pass {@link MAX_HEADS_HEADER}. */
export function headsHeader(heads: readonly CID[]): string | undefined {
  const value = heads.map(String).join(',')
  return value.length <= MAX_HEADS_HEADER ? value : undefined
}

export function encodePullBody(body: PullBody): Uint8Array<ArrayBuffer> {
  return dagCbor.encode({ heads: body.heads, have: body.have }) as Uint8Array<ArrayBuffer>
}

/** Decodes a pull request body; a bad one is CAIRN_INVALID_VALUE. */
export function decodePullBody(bytes: Uint8Array): PullBody {
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

export function pushAnswer(report: { blocks: number; events: number; heads: readonly CID[] }): PushAnswer {
  return { blocks: report.blocks, events: report.events, heads: report.heads.map(String) }
}

/** The counts of a push answer, or undefined when the bytes are not one. */
export function decodePushAnswer(bytes: Uint8Array): { blocks: number; events: number } | undefined {
  const answer = parseJson(bytes) as { blocks?: unknown; events?: unknown } | undefined
  if (answer === undefined || typeof answer.blocks !== 'number' || typeof answer.events !== 'number') return undefined
  return { blocks: answer.blocks, events: answer.events }
}

export function headsAnswer(heads: readonly CID[]): HeadsAnswer {
  return { heads: heads.map(String) }
}

export function errorAnswer(code: CairnErrorCode, message: string, cid?: CID): ErrorAnswer {
  return cid === undefined ? { code, message } : { code, message, cid: cid.toString() }
}

/** HTTP status of a CairnError code. */
export function statusOf(code: CairnErrorCode): number {
  if (code.startsWith('CAIRN_INVALID_') || code === 'CAIRN_MISSING_BLOCK') return 400
  if (code === 'CAIRN_TOO_LARGE') return 413
  if (code === 'CAIRN_VERSION_CONFLICT' || code === 'CAIRN_DUPLICATE_ID') return 409
  if (code === 'CAIRN_UNSUPPORTED') return 415
  if (code === 'CAIRN_CLOSED' || code === 'CAIRN_LOCKED') return 503
  if (code === 'CAIRN_QUOTA') return 507
  return 500
}

/**
 * The CairnError a failed answer stands for: the server's own code and message when the body
 * is an error answer, else CAIRN_SYNC naming the status. `where` is the url asked.
 */
export function errorOfAnswer(status: number, statusText: string, bytes: Uint8Array, where: string): CairnError {
  const body = parseJson(bytes) as { code?: unknown; message?: unknown; cid?: unknown } | undefined
  if (body !== undefined && typeof body.code === 'string' && /^CAIRN_[A-Z_]+$/.test(body.code)) {
    let cid: CID | undefined
    try {
      cid = typeof body.cid === 'string' ? CID.parse(body.cid) : undefined
    } catch {
      cid = undefined
    }
    const message = typeof body.message === 'string' ? body.message : `${where} answered ${status}`
    return new CairnError(body.code as CairnErrorCode, `${where} refused: ${message}`, cid === undefined ? {} : { cid })
  }
  return new CairnError('CAIRN_SYNC', `${where} answered ${status} ${statusText}`.trimEnd())
}

/** A JSON object, or undefined when the bytes are not one. */
function parseJson(bytes: Uint8Array): unknown {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes))
    return value !== null && typeof value === 'object' ? value : undefined
  } catch {
    return undefined
  }
}
