/**
 * A clock option (`openStore`'s `clock`, the sync handler's `now`), wrapped so that each reading
 * is checked: a time in ms since the epoch, floored (a fractional reading, or a Date, works as
 * it always did), from 0 to 2^53 - 1. Any other reading — NaN, undefined, a negative or a huge
 * number — throws a TypeError/RangeError naming the option, where it would otherwise stamp
 * events no replica can read back (ts -1) or turn off the checks that compare times with it (an
 * import's clock drift, a signed request's time window and nonce expiry). Loaded only with a
 * clock of the app's own: the default, `Date.now`, needs no check.
 */
export function checkedClock(name: string, clock: () => number): () => number {
  return () => {
    const reading: unknown = clock()
    const ms = Math.floor(reading as number)
    if (Number.isNaN(ms)) throw new TypeError(`"${name}" returned ${typeof reading === 'string' ? JSON.stringify(reading) : String(reading)}, expected a time in ms`)
    if (!(ms >= 0 && ms <= Number.MAX_SAFE_INTEGER)) throw new RangeError(`"${name}" returned ${ms}, expected a time in ms from 0 to 2^53 - 1`)
    return ms
  }
}
