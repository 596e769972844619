import { expectString, type KnownKeys } from '../../errors/arguments.ts'
import type { EventFilter } from './interface.ts'

/** Whether a stream is a system stream (`$objects`): left out of filters that do not name it. */
export function isSystemStream(stream: string): boolean {
  return stream.startsWith('$')
}

/**
 * Whether a stream passes the stream part of a filter (`stream`, `streamPrefix`). System
 * streams pass only when the filter names them: `stream` is that stream, or `streamPrefix`
 * starts with `$`.
 */
export function streamMatches(f: EventFilter, stream: string): boolean {
  if (f.stream !== undefined && stream !== f.stream) return false
  if (f.streamPrefix !== undefined && !stream.startsWith(f.streamPrefix)) return false
  return f.stream !== undefined || !isSystemStream(stream) || (f.streamPrefix !== undefined && isSystemStream(f.streamPrefix))
}

/** Whether a type passes the type part of a filter. */
export function typeMatches(f: EventFilter, type: string): boolean {
  return f.type === undefined || type === f.type
}

/** The keys of an `EventFilter`, for `expectObject`: a filter object with any other key is a TypeError. */
export const FILTER_KEYS: KnownKeys<EventFilter> = { stream: 1, type: 1, streamPrefix: 1 }

/** The filter fields of an object (`stream`, `type`, `streamPrefix`), checked; `prefix` names them (`filter.`). */
export function expectFilter(o: { stream?: unknown; type?: unknown; streamPrefix?: unknown }, prefix: string): EventFilter {
  const f: EventFilter = {}
  if (o.stream !== undefined) f.stream = expectString(`${prefix}stream`, o.stream)
  if (o.type !== undefined) f.type = expectString(`${prefix}type`, o.type)
  if (o.streamPrefix !== undefined) f.streamPrefix = expectString(`${prefix}streamPrefix`, o.streamPrefix)
  return f
}
