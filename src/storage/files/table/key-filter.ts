// A split-block Bloom filter of 64-bit block keys: the part of the block table kept in memory
// that answers "certainly not in the table" without reading a page. Blocks not in the table
// are looked up all the time (every new block of a commit, every block scanned on open), so
// without it each of those lookups would cost a page read.
//
// Each key sets 8 bits in one 32-byte block, one bit per 32-bit word (the layout Parquet
// uses): a lookup touches one cache line. At 10 bits per key about 1% of absent keys pass.

/** Bits of filter per key. */
export const FILTER_BITS_PER_KEY = 10

const WORDS_PER_BLOCK = 8
const SALT = Uint32Array.of(0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31)

/** The murmur3 finalizer: mixes every bit of `h` into every bit of the result (unsigned). */
export function fmix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

export class KeyFilter {
  /** The filter's bits, as little-endian words when stored. */
  readonly words: Uint32Array
  readonly #blocks: number

  constructor(words: Uint32Array) {
    this.words = words
    this.#blocks = Math.floor(words.length / WORDS_PER_BLOCK)
  }

  /** Words of a filter for `count` keys (at least one block). */
  static wordsFor(count: number): number {
    return Math.max(1, Math.ceil((count * FILTER_BITS_PER_KEY) / (WORDS_PER_BLOCK * 32))) * WORDS_PER_BLOCK
  }

  /** An empty filter sized for `count` keys. */
  static sized(count: number): KeyFilter {
    return new KeyFilter(new Uint32Array(KeyFilter.wordsFor(count)))
  }

  add(hi: number, lo: number): void {
    const base = this.#block(hi, lo)
    const h = fmix(hi ^ Math.imul(lo, 0x27d4eb2f) ^ 0x165667b1)
    for (let i = 0; i < WORDS_PER_BLOCK; i++) this.words[base + i]! |= 1 << (Math.imul(h, SALT[i]!) >>> 27)
  }

  /** False when no key (hi, lo) was added; true when one probably was. */
  has(hi: number, lo: number): boolean {
    if (this.#blocks === 0) return false
    const base = this.#block(hi, lo)
    const h = fmix(hi ^ Math.imul(lo, 0x27d4eb2f) ^ 0x165667b1)
    for (let i = 0; i < WORDS_PER_BLOCK; i++) {
      if ((this.words[base + i]! & (1 << (Math.imul(h, SALT[i]!) >>> 27))) === 0) return false
    }
    return true
  }

  #block(hi: number, lo: number): number {
    const h = fmix(lo ^ Math.imul(hi, 0x9e3779b1))
    return Math.floor((h * this.#blocks) / 4294967296) * WORDS_PER_BLOCK
  }
}
