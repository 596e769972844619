// How results look: human text by default, JSON under `--json` (one value per result, one line
// per item of a list, so `cairn log --json` is NDJSON).
import type { StoredEvent } from '../index.node.ts'
import { writeStdout } from './io.ts'
import { toJson } from './json.ts'

/** Prints a result: `human()` text, or the value as one line of JSON under `--json`. */
export async function print(options: { json?: boolean | undefined }, value: unknown, human: () => string): Promise<void> {
  await writeStdout(options.json ? `${JSON.stringify(toJson(value))}\n` : `${human()}\n`)
}

/**
 * A report as JSON with its CIDs as plain strings (`"bafy…"`, as in `eventJson`'s envelope
 * fields): the dag-json form `{"/": …}` is kept for values that came from users' data.
 */
export function reportJson(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { asCID?: unknown }).asCID === value) return String(value)
  if (Array.isArray(value)) return value.map(reportJson)
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reportJson(v)]))
}

/** An event as JSON: its CID and envelope fields as strings, its data and meta in the dag-json form. */
export function eventJson(e: StoredEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {
    cid: e.cid.toString(),
    stream: e.stream,
    type: e.type,
    version: e.version,
    ts: e.ts,
    tc: e.tc,
    prev: e.prev === null ? null : e.prev.toString(),
    parents: e.parents.map(String),
    data: toJson(e.data),
  }
  if (e.meta !== undefined) out['meta'] = toJson(e.meta)
  if (e.author !== undefined) out['author'] = e.author
  return out
}

/** An event on one line: time, stream#version, type, data, CID. */
export function eventLine(e: StoredEvent): string {
  const data = JSON.stringify(toJson(e.data)) ?? 'null'
  return `${new Date(e.ts).toISOString()}  ${e.stream}#${e.version}  ${e.type}  ${data}  ${e.cid}${e.author === undefined ? '' : `  by ${e.author}`}`
}

/** A value as indented JSON (dag-json form), for human output of `get` and `state`. */
export function prettyValue(value: unknown): string {
  return JSON.stringify(toJson(value), null, 2) ?? 'null'
}

/** `name: value` rows, aligned. */
export function table(rows: readonly (readonly [string, string | number])[]): string {
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)}  ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`).join('\n')
}
