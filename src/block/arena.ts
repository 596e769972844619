/**
 * Copies many small blocks' bytes into shared buffers, one view each: one allocation per buffer
 * rather than one per block (an ArrayBuffer of its own costs more than writing the block). A
 * view keeps its whole buffer alive, so an arena is for bytes that live and die together: the
 * blocks of one commit (as an import's blocks share one buffer, plan-import.ts ownSlabBytes).
 *
 * @example
 * const arena = new ByteArena(1000)        // about 1000 blocks to come
 * const bytes = arena.copy(scratch, length) // a view holding scratch[0, length)
 */
/** The largest buffer an arena makes for several blocks. */
export const ARENA_MAX: number = 64 * 1024

export class ByteArena {
  #buf: Uint8Array = new Uint8Array(0)
  #at = 0
  /** Blocks still expected, the next one included. */
  #expected: number

  constructor(expected: number) {
    this.#expected = expected
  }

  /**
   * A copy of `src[0, length)`, as a view into the arena. A new buffer is sized for the blocks
   * still expected, at this one's size (up to ARENA_MAX), so that a commit's last buffer is not much
   * larger than what it holds.
   */
  copy(src: Uint8Array, length: number): Uint8Array {
    // This block and those still expected after it.
    const blocks = Math.max(1, this.#expected--)
    if (this.#at + length > this.#buf.length) {
      this.#buf = new Uint8Array(Math.max(length, Math.min(ARENA_MAX, length * blocks)))
      this.#at = 0
    }
    const at = this.#at
    this.#buf.set(src.subarray(0, length), at)
    this.#at = at + length
    return this.#buf.subarray(at, at + length)
  }
}

/** Makes a batch's arena, once an entry turned arenas on (useByteArenas). */
let makeArena: ((expected: number) => ByteArena) | undefined

/**
 * Turns batch arenas on (the Node/Deno entry does): there, one buffer per block costs more than
 * the copy. A browser build leaves them off — IndexedDB stores a view's whole buffer, so its
 * engine would copy each block out of the arena again — and does not ship the class.
 */
export function useByteArenas(): void {
  makeArena = (expected) => new ByteArena(expected)
}

/** The arena for a batch of `blocks` blocks, or undefined (one block, or arenas off: each block its own bytes). */
export function arenaFor(blocks: number): ByteArena | undefined {
  return blocks > 1 ? makeArena?.(blocks) : undefined
}
