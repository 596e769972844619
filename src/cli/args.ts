// Parsers for option and argument values. A malformed value is a UsageError (exit 2) naming the option.
import { CID } from '../index.node.ts'
import { UsageError } from './exit-codes.ts'

/** A CID given on the command line. */
export function parseCid(text: string, what = 'CID'): CID {
  try {
    return CID.parse(text.trim())
  } catch {
    throw new UsageError(`${what} ${JSON.stringify(text)} is not a CID`)
  }
}

/** CIDs separated by commas or spaces (`--since`). */
export function parseCidList(text: string, what: string): CID[] {
  return text
    .split(/[\s,]+/)
    .filter((s) => s !== '')
    .map((s) => parseCid(s, what))
}

/** A non-negative integer option. */
export function parseCount(text: string, what: string): number {
  if (!/^\d+$/.test(text.trim())) throw new UsageError(`${what} expected a non-negative integer, got ${JSON.stringify(text)}`)
  return Number(text.trim())
}

/** A TCP port (0: any free one). */
export function parsePort(text: string): number {
  const n = parseCount(text, '--port')
  if (n > 65535) throw new UsageError(`--port expected 0 to 65535, got ${n}`)
  return n
}

/** A moment: ms since the epoch, or a date the Date parser reads (`2026-01-31`, ISO 8601). */
export function parseTime(text: string, what: string): number {
  const t = text.trim()
  if (/^\d+$/.test(t)) return Number(t)
  const ms = Date.parse(t)
  if (Number.isNaN(ms)) throw new UsageError(`${what} expected a date (ISO 8601) or ms since the epoch, got ${JSON.stringify(text)}`)
  return ms
}

/** `--as-of`: a time, or an event's CID. */
export function parseAsOf(text: string): number | CID {
  const t = text.trim()
  if (/^\d+$/.test(t) || !Number.isNaN(Date.parse(t))) return parseTime(t, '--as-of')
  return parseCid(t, '--as-of')
}

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}
