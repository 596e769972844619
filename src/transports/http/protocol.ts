// The sync protocol on the wire: routes, headers, media types, the shapes of the bodies, the
// request signatures and the mapping between HTTP statuses and CairnError codes. Shared by the
// handler and the client (docs/format-v1.md, section 12).
//
// One round trip, plus a push when the client holds something the server lacks:
//   POST {base}/pull   body: dag-cbor { heads: CID[], have: CID[] }
//                      200: CAR of store.export({ since: [...heads, ...have] }); its roots are the
//                      server's heads (also in `x-cairn-heads`). gzip when the request says
//                      `x-cairn-accept-encoding: gzip`; the answer then says `x-cairn-encoding: gzip`.
//   POST {base}/push   body: CAR (gzip when `x-cairn-encoding: gzip`) → 200 { blocks, events, heads }
//   GET  {base}/heads  → 200 { heads }
// Errors are JSON { code, message, cid?, refused?, reasons? }. The encoding headers are custom
// on purpose: with Content-Encoding, fetch would decompress transparently and hide the bytes on
// the wire.
//
// A signed request carries five headers (see signRequest): x-cairn-did, x-cairn-time,
// x-cairn-nonce, x-cairn-digest and x-cairn-signature, an Ed25519 signature by the did's key over
//   cairn-sync-v1\n{origin}\n{METHOD}\n{path?query}\n{digest}\n{time}\n{nonce}
// where {origin} is the scheme://host[:port] the client addressed (the request's audience).
import * as dagCbor from '@ipld/dag-cbor'
import { base64url } from 'multiformats/bases/base64'
import { CID } from 'multiformats/cid'
import { compareBytes } from '../../block/codec.ts'
import { sha256Stream } from '../../block/hash.ts'
import type { Signer } from '../../identity/interface.ts'
import { expectFunction, expectNonNegativeInteger, expectObject, expectString, type KnownKeys } from '../../errors/arguments.ts'
import { CairnError, type CairnErrorCode } from '../../errors/cairn-error.ts'
import { expectOptionalSignal } from '../../errors/progress.ts'
import { normalizeImportOptions } from '../../store/import-options.ts'
import type { ImportOptions } from '../../store/options.ts'

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

/** Request header of a signed request: the caller's `did:key`. */
export const DID_HEADER = 'x-cairn-did'
/** Request header of a signed request: the caller's clock when it signed, in ms since the epoch (decimal digits). */
export const TIME_HEADER = 'x-cairn-time'
/** Request header of a signed request: 16 to 64 random bytes, base64url without padding, never used twice. */
export const NONCE_HEADER = 'x-cairn-nonce'
/** Request header of a signed request: sha-256 of the body bytes as sent on the wire (empty when no body), base64url. */
export const DIGEST_HEADER = 'x-cairn-digest'
/** Request header of a signed request: the Ed25519 signature (64 bytes, base64url) over {@link signingString}. */
export const SIGNATURE_HEADER = 'x-cairn-signature'
/** The headers of a signed request, in the order of the signed string's fields. */
export const SIGNED_REQUEST_HEADERS: readonly string[] = Object.freeze([DID_HEADER, TIME_HEADER, NONCE_HEADER, DIGEST_HEADER, SIGNATURE_HEADER])
/** First line of the signed string: it sets a request signature apart from any other Cairn signature (events sign dag-cbor bytes). */
export const SIGNED_REQUEST_DOMAIN = 'cairn-sync-v1'
/** Random bytes in a nonce made by {@link signRequest}. */
export const NONCE_BYTES = 16
/** Request headers a cross-origin sync client sends (answered in a CORS preflight). */
export const REQUEST_HEADERS: readonly string[] = Object.freeze(['content-type', ACCEPT_ENCODING_HEADER, ENCODING_HEADER, ...SIGNED_REQUEST_HEADERS])
/** Answer headers a cross-origin sync client reads (exposed through CORS). */
export const ANSWER_HEADERS: readonly string[] = Object.freeze([HEADS_HEADER, ENCODING_HEADER])

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
  /** The block or event at fault. */
  cid?: string
  /** Every event an import refused (access rules, policy gates), as CID strings. */
  refused?: string[]
  /** What the policy gates said, one line per refused event. */
  reasons?: string[]
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

/** The error answer of a failure: its code and message, and the CIDs and reasons it names when it has them. */
export function errorAnswer(code: CairnErrorCode, message: string, details: { cid?: CID | undefined; refused?: readonly CID[] | undefined; reasons?: readonly string[] | undefined } = {}): ErrorAnswer {
  const answer: ErrorAnswer = { code, message }
  if (details.cid !== undefined) answer.cid = details.cid.toString()
  if (details.refused !== undefined) answer.refused = details.refused.map(String)
  if (details.reasons !== undefined) answer.reasons = [...details.reasons]
  return answer
}

/**
 * HTTP status of a CairnError code. CAIRN_UNAUTHORIZED is 403 (a known signature that the
 * access rules refuse); the handler answers 401 itself for a missing, malformed, stale,
 * replayed or wrong request signature.
 */
export function statusOf(code: CairnErrorCode): number {
  if (code === 'CAIRN_UNAUTHORIZED' || code === 'CAIRN_REFUSED') return 403
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
 * is an error answer, with its `cid`, `refused` and `reasons` (each left out when malformed);
 * else CAIRN_UNAUTHORIZED for a 401 or 403 (a proxy's refusal, say), and CAIRN_SYNC naming the
 * status for anything else. `where` is the url asked.
 */
export function errorOfAnswer(status: number, statusText: string, bytes: Uint8Array, where: string): CairnError {
  const body = parseJson(bytes) as { code?: unknown; message?: unknown; cid?: unknown; refused?: unknown; reasons?: unknown } | undefined
  if (body !== undefined && typeof body.code === 'string' && /^CAIRN_[A-Z_]+$/.test(body.code)) {
    const cid = typeof body.cid === 'string' ? parseCid(body.cid) : undefined
    const refused = Array.isArray(body.refused) ? body.refused.map((c: unknown) => (typeof c === 'string' ? parseCid(c) : undefined)) : undefined
    const reasons = Array.isArray(body.reasons) && body.reasons.every((r: unknown) => typeof r === 'string') ? (body.reasons as string[]) : undefined
    const message = typeof body.message === 'string' ? body.message : `${where} answered ${status}`
    return new CairnError(body.code as CairnErrorCode, `${where} refused: ${message}`, {
      ...(cid === undefined ? {} : { cid }),
      ...(refused === undefined || refused.some((c) => c === undefined) ? {} : { refused: refused as CID[] }),
      ...(reasons === undefined ? {} : { reasons }),
    })
  }
  if (status === 401 || status === 403) return new CairnError('CAIRN_UNAUTHORIZED', `${where} answered ${status} ${statusText}`.trimEnd())
  return new CairnError('CAIRN_SYNC', `${where} answered ${status} ${statusText}`.trimEnd())
}

function parseCid(text: string): CID | undefined {
  try {
    return CID.parse(text)
  } catch {
    return undefined
  }
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

/** base64url without padding (RFC 4648 section 5), as the signed-request headers carry bytes. */
export function toBase64url(bytes: Uint8Array): string {
  return base64url.baseEncode(bytes)
}

/** The bytes of an unpadded base64url string, or undefined when it is not one. */
export function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined
  try {
    const bytes = base64url.baseDecode(text)
    // Only the canonical spelling: the unused low bits of the last character are zero.
    return toBase64url(bytes) === text ? bytes : undefined
  } catch {
    return undefined
  }
}

/**
 * The `x-cairn-digest` of a body: sha-256 of its bytes as sent on the wire, base64url.
 *
 * @example
 * const { bytes: body } = encodeValue({ heads: store.heads, have: [] })
 * const headers = await signRequest(me, { method: 'POST', url, digest: bodyDigest(body) })
 */
export function bodyDigest(body: Uint8Array): string {
  return toBase64url(sha256Stream().update(body).digest())
}

/** The `x-cairn-digest` of a request without a body (sha-256 of no bytes). */
export const EMPTY_BODY_DIGEST: string = bodyDigest(new Uint8Array(0))

/**
 * What a request signature covers.
 *
 * @example
 * const fields: SignedRequestFields = { audience: 'https://example.org', method: 'GET', path: '/cairn/heads', digest: bodyDigest(new Uint8Array(0)), time: Date.now(), nonce }
 * const signature = await me.sign(new TextEncoder().encode(signingString(fields)))
 */
export interface SignedRequestFields {
  /** The origin the client addressed (`https://sync.example.org`, `http://127.0.0.1:8787`), as `URL.origin` spells it: the server it means. */
  audience: string
  /** The HTTP method, upper case as sent (`POST`, `GET`). */
  method: string
  /** The path with its query (`/cairn/pull`, `/x?y=1`), as the URL spells it, without scheme or host. */
  path: string
  /** {@link bodyDigest} of the body as sent. */
  digest: string
  /** The signer's clock in ms since the epoch. */
  time: number
  /** The nonce, base64url. */
  nonce: string
}

/**
 * The exact string a request signature covers, one field a line, UTF-8 encoded before signing:
 * `cairn-sync-v1\n{origin}\n{METHOD}\n{path?query}\n{digest}\n{time}\n{nonce}`. The first line
 * keeps a request signature from ever standing for another message (an event is signed as
 * dag-cbor, which never starts with these bytes); the origin keeps a server from replaying the
 * request to another server.
 *
 * @example
 * const text = signingString({ audience: 'https://example.org', method: 'POST', path: '/cairn/push', digest, time: Date.now(), nonce })
 */
export function signingString(fields: SignedRequestFields): string {
  return [SIGNED_REQUEST_DOMAIN, fields.audience, fields.method, fields.path, fields.digest, String(fields.time), fields.nonce].join('\n')
}

/** The path with query of a URL, as a signature covers it. */
export function signedPath(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url
  return `${u.pathname}${u.search}`
}

/**
 * The origin of an http(s) URL (`scheme://host[:port]`, lower case, default port left out), as
 * a signature's audience; undefined for anything else (another scheme, not a URL).
 */
export function originOf(url: string | URL): string | undefined {
  let u: URL
  try {
    u = typeof url === 'string' ? new URL(url) : url
  } catch {
    return undefined
  }
  return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined
}

/**
 * The five headers that sign one request: `signer` signs {@link signingString} over the URL's
 * origin (the server meant), the method, the URL's path and query, the body's digest, the time
 * (default now) and a fresh random nonce (16 bytes unless given). Sign again for every attempt:
 * a server accepts each nonce once. A URL that is not http(s) is a TypeError, as is a key of
 * `request` other than these (a misspelt `tiem` would sign the present time) or a bad value.
 *
 * @example
 * // A pull: its body is the dag-cbor of { heads, have } (the CIDs the client holds), as encodeValue writes it.
 * const url = 'https://example.org/cairn/pull'
 * const { bytes: body } = encodeValue({ heads: store.heads, have: [] })
 * const headers = await signRequest(me, { method: 'POST', url, digest: bodyDigest(body) })
 * const car = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/cbor' }, body: body.slice() })   // slice: fetch's types want an ArrayBuffer-backed array
 */
export async function signRequest(signer: Signer, request: { method: string; url: string | URL; digest: string; time?: number; nonce?: string }): Promise<Record<string, string>> {
  expectSigner(signer)
  expectObject('request', request, SIGN_REQUEST_KEYS)
  expectString('request.method', request.method)
  expectString('request.digest', request.digest)
  if (request.time !== undefined) expectNonNegativeInteger('request.time', request.time)
  if (request.nonce !== undefined) expectString('request.nonce', request.nonce)
  const audience = originOf(request.url)
  if (audience === undefined) throw new TypeError(`"url" expected an http or https URL, got ${JSON.stringify(String(request.url))}`)
  const time = request.time ?? Date.now()
  const nonce = request.nonce ?? toBase64url(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)))
  const fields: SignedRequestFields = { audience, method: request.method, path: signedPath(request.url), digest: request.digest, time, nonce }
  const signature = await signer.sign(new TextEncoder().encode(signingString(fields)))
  return {
    [DID_HEADER]: signer.did,
    [TIME_HEADER]: String(time),
    [NONCE_HEADER]: nonce,
    [DIGEST_HEADER]: request.digest,
    [SIGNATURE_HEADER]: toBase64url(signature),
  }
}

/** A signer, checked (`signRequest`'s, `sync`'s): an object with a DID `did` and a `sign` function. */
export function expectSigner(signer: unknown): Signer {
  const s = expectObject('signer', signer)
  const did = expectString('signer.did', s['did'])
  if (!did.startsWith('did:')) throw new TypeError(`"signer.did" expected a DID, got ${JSON.stringify(did)}`)
  expectFunction('signer.sign', s['sign'])
  return signer as Signer
}

/** The keys of {@link signRequest}'s request. */
const SIGN_REQUEST_KEYS: KnownKeys<Parameters<typeof signRequest>[1]> = { method: 1, url: 1, digest: 1, time: 1, nonce: 1 }

/** The signature headers of a request, read but not yet verified. */
export interface SignatureClaim {
  did: string
  time: number
  nonce: string
  digest: string
  signature: Uint8Array
}

/** Longest `x-cairn-did` taken (a did:key of Ed25519 is 56 characters). */
const MAX_DID_LENGTH = 256

/**
 * The signature headers of a request: undefined when it carries none of them, the claim when
 * all five are well formed, else a string saying what is wrong (the request is then refused).
 */
export function readSignatureClaim(headers: Headers): SignatureClaim | undefined | string {
  const values = SIGNED_REQUEST_HEADERS.map((name) => headers.get(name))
  if (values.every((v) => v === null)) return undefined
  const absent = SIGNED_REQUEST_HEADERS.filter((_, i) => values[i] === null)
  if (absent.length > 0) return `the request signature lacks ${absent.join(', ')}`
  const [did, time, nonce, digest, signature] = values as string[] as [string, string, string, string, string]
  if (did.length > MAX_DID_LENGTH || !did.startsWith('did:')) return `${DID_HEADER} is not a did`
  if (!/^\d{1,15}$/.test(time)) return `${TIME_HEADER} is not a time in ms`
  const nonceBytes = fromBase64url(nonce)
  if (nonceBytes === undefined || nonceBytes.length < 16 || nonceBytes.length > 64) return `${NONCE_HEADER} is not 16 to 64 bytes in base64url`
  if (fromBase64url(digest)?.length !== 32) return `${DIGEST_HEADER} is not a sha-256 digest in base64url`
  const sig = fromBase64url(signature)
  if (sig?.length !== 64) return `${SIGNATURE_HEADER} is not an Ed25519 signature in base64url`
  return { did, time: Number(time), nonce, digest, signature: sig }
}

/** The `import` options a sync client or handler is given, checked before any request: their keys, their values and their signal. */
export function checkImportOptions(options: ImportOptions | undefined): void {
  if (options === undefined) return
  normalizeImportOptions(options, 'import')
  expectOptionalSignal('import.signal', options.signal)
}
