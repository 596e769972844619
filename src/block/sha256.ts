/**
 * sha2-256 (FIPS 180-4) in plain JS: the synchronous hash of small blocks in browsers (the Node
 * and Deno entry installs node:crypto's instead, see useSyncSha256). Cairn's own rather than
 * @noble/hashes' so the first load of a browser app does not carry sha2.js, which @noble/curves
 * shares for its sha2-512 (a bundler keeps both in one chunk). Checked against WebCrypto and
 * node:crypto by test/shared/sha256.spec.ts.
 */

/**
 * The round constants K (the first 32 bits of the fractional parts of the cube roots of the
 * first 64 primes) and the initial state (the same of the square roots of the first 8), computed
 * rather than listed: every one of these fractions, times 2^32, lies at least 0.005 away from an
 * integer, so a cube root a few ulps off still truncates to the right word (the spec checks K).
 */
const K = new Int32Array(64)
const IV = new Int32Array(8)
for (let n = 2, i = 0; i < 64; n++) {
  let prime = true
  for (let d = 2; d * d <= n; d++) if (n % d === 0) prime = false
  if (!prime) continue
  if (i < 8) IV[i] = (Math.sqrt(n) % 1) * 2 ** 32
  K[i++] = (Math.cbrt(n) % 1) * 2 ** 32
}

/** The message schedule, shared: compress never yields. */
const W = new Int32Array(64)

/** Folds the 64-byte block at `bytes[at]` into the state `h`. */
function compress(h: Int32Array, view: DataView, at: number): void {
  for (let i = 0; i < 16; i++, at += 4) W[i] = view.getInt32(at)
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!
    const w2 = W[i - 2]!
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10)
    W[i] = (s1 + W[i - 7]! + s0 + W[i - 16]!) | 0
  }
  let a = h[0]!
  let b = h[1]!
  let c = h[2]!
  let d = h[3]!
  let e = h[4]!
  let f = h[5]!
  let g = h[6]!
  let k = h[7]!
  for (let i = 0; i < 64; i++) {
    const t1 = (k + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0
    const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0
    k = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  h[0] = (h[0]! + a) | 0
  h[1] = (h[1]! + b) | 0
  h[2] = (h[2]! + c) | 0
  h[3] = (h[3]! + d) | 0
  h[4] = (h[4]! + e) | 0
  h[5] = (h[5]! + f) | 0
  h[6] = (h[6]! + g) | 0
  h[7] = (h[7]! + k) | 0
}

/** The padded last block or two, shared: `finish` never yields. */
const TAIL = new Uint8Array(128)
const TAIL_VIEW = new DataView(TAIL.buffer)

/** Pads `rest` (under 64 bytes, after `length` bytes in all), folds it into `h`, and returns the digest. */
function finish(h: Int32Array, rest: Uint8Array, length: number): Uint8Array {
  TAIL.fill(0)
  TAIL.set(rest)
  TAIL[rest.length] = 0x80
  const end = rest.length < 56 ? 64 : 128
  // The length in bits, as a 64-bit big-endian integer.
  TAIL_VIEW.setUint32(end - 8, Math.floor(length / 0x20000000))
  TAIL_VIEW.setUint32(end - 4, (length * 8) >>> 0)
  compress(h, TAIL_VIEW, 0)
  if (end === 128) compress(h, TAIL_VIEW, 64)
  const out = new Uint8Array(32)
  const view = new DataView(out.buffer)
  for (let i = 0; i < 8; i++) view.setInt32(i * 4, h[i]!)
  return out
}

/**
 * An incremental sha2-256: `update` as often as needed, `clone` to checkpoint, `digest` for the
 * 32 bytes of what was fed so far (it does not end the stream: more `update`s may follow).
 *
 * @example
 * const digest = new Sha256().update(a).update(b).digest()   // sha2-256 of a ‖ b
 */
export class Sha256 {
  readonly #h: Int32Array
  /** The bytes of an unfinished block. */
  readonly #pending: Uint8Array
  readonly #pendingView: DataView
  #fill: number
  /** Bytes fed in all. */
  #length: number

  constructor(from?: Sha256) {
    this.#h = (from === undefined ? IV : from.#h).slice()
    this.#pending = new Uint8Array(64)
    this.#pendingView = new DataView(this.#pending.buffer)
    this.#fill = 0
    this.#length = 0
    if (from !== undefined) {
      this.#pending.set(from.#pending)
      this.#fill = from.#fill
      this.#length = from.#length
    }
  }

  /** Feeds `data`; returns the stream. */
  update(data: Uint8Array): this {
    let at = 0
    const n = data.length
    this.#length += n
    if (this.#fill > 0) {
      const take = Math.min(64 - this.#fill, n)
      this.#pending.set(data.subarray(0, take), this.#fill)
      this.#fill += take
      at = take
      if (this.#fill < 64) return this
      compress(this.#h, this.#pendingView, 0)
      this.#fill = 0
    }
    if (at + 64 <= n) {
      const view = new DataView(data.buffer, data.byteOffset, n)
      for (; at + 64 <= n; at += 64) compress(this.#h, view, at)
    }
    if (at < n) {
      this.#pending.set(data.subarray(at), 0)
      this.#fill = n - at
    }
    return this
  }

  /** The 32-byte digest of everything fed so far, in a Uint8Array of its own. */
  digest(): Uint8Array {
    return finish(this.#h.slice(), this.#pending.subarray(0, this.#fill), this.#length)
  }

  /** An independent copy of the stream as it stands. */
  clone(): Sha256 {
    return new Sha256(this)
  }
}

/** The state of one-shot hashes, shared: `sha256` never yields. */
const STATE = new Int32Array(8)

/** The 32-byte sha2-256 digest of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  STATE.set(IV)
  const n = bytes.length
  const full = n - (n % 64)
  if (full > 0) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, n)
    for (let at = 0; at < full; at += 64) compress(STATE, view, at)
  }
  return finish(STATE, bytes.subarray(full), n)
}
