// JSON in and out of the CLI, in the dag-json convention: a link is `{"/": "bafy…"}` and bytes
// are `{"/": {"bytes": "<base64>"}}`, so values with CIDs and bytes survive the command line.
import { CairnError, CID } from '../index.node.ts'

/** Parses JSON text into an IPLD value (links and bytes in the dag-json form). Bad JSON is CAIRN_INVALID_VALUE naming `where`. */
export function parseJsonValue(text: string, where: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new CairnError('CAIRN_INVALID_VALUE', `${where} is not JSON (${(cause as Error).message})`, { cause })
  }
  return fromJson(value, where)
}

function fromJson(value: unknown, where: string): unknown {
  if (Array.isArray(value)) return value.map((v) => fromJson(v, where))
  if (value === null || typeof value !== 'object') return value
  const o = value as Record<string, unknown>
  const keys = Object.keys(o)
  if (keys.length === 1 && keys[0] === '/') {
    const slash = o['/']
    if (typeof slash === 'string') {
      try {
        return CID.parse(slash)
      } catch (cause) {
        throw new CairnError('CAIRN_INVALID_VALUE', `${where} holds a link {"/": ${JSON.stringify(slash)}} that is not a CID`, { cause })
      }
    }
    if (slash !== null && typeof slash === 'object' && Object.keys(slash).length === 1 && typeof (slash as Record<string, unknown>)['bytes'] === 'string') {
      return base64Decode((slash as Record<string, string>)['bytes']!, where)
    }
  }
  const out: Record<string, unknown> = {}
  for (const k of keys) out[k] = fromJson(o[k], where)
  return out
}

/** A value as plain JSON data: CIDs and bytes in the dag-json form, everything else as is. */
export function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return { '/': { bytes: base64Encode(value) } }
  const cid = CID.asCID(value)
  if (cid !== null) return { '/': cid.toString() }
  if (Array.isArray(value)) return value.map(toJson)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJson(v)
  return out
}

function base64Encode(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s).replace(/=+$/, '')
}

function base64Decode(text: string, where: string): Uint8Array {
  try {
    const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
    const out = new Uint8Array(s.length)
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
    return out
  } catch (cause) {
    throw new CairnError('CAIRN_INVALID_VALUE', `${where} holds bytes that are not base64`, { cause })
  }
}
