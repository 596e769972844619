import { CID } from 'multiformats/cid'

/** The containment bookkeeping as a snapshot holds it. */
export interface ContainmentParts {
  /** Block CID bytes → CID bytes of the events and blocks that link to it. */
  readonly containers: [Uint8Array, Uint8Array[]][]
  readonly walked: Uint8Array[]
  readonly complete: Uint8Array[]
  /** Arrival numbers of the app events whose data or meta link to blocks. */
  readonly linking: number[]
}

/**
 * What export and import learn about the DAGs under the log, kept so they need not walk them
 * again: which events and blocks link to each block (over every link: events, objects,
 * files), the DAG roots whose links are already recorded (walked), the blocks known to head
 * complete DAGs, and the app events whose data or meta link to blocks (an export walks only
 * these, and object puts). Blocks are keyed by their CID strings.
 */
export class Containment {
  /** Block → the events and blocks that link to it, over every link: events, objects, files. */
  readonly #containers = new Map<string, Set<string>>()
  /** DAG roots whose links are already in #containers. */
  readonly #walked = new Set<string>()
  /** Blocks known to head complete DAGs: every block under a recorded object. */
  readonly #complete = new Set<string>()
  /** App events (arrival numbers) whose data or meta link to blocks. */
  readonly #linking = new Set<number>()

  /** Keys of the events and blocks that link to the block `key`. */
  containers(key: string): ReadonlySet<string> | undefined {
    return this.#containers.get(key)
  }

  addContainer(child: CID, container: string): void {
    const key = child.toString()
    let set = this.#containers.get(key)
    if (set === undefined) {
      set = new Set()
      this.#containers.set(key, set)
    }
    set.add(container)
  }

  walked(cid: CID): boolean {
    return this.#walked.has(cid.toString())
  }

  markWalked(cid: CID): void {
    this.#walked.add(cid.toString())
  }

  isComplete(key: string): boolean {
    return this.#complete.has(key)
  }

  markComplete(cid: CID): void {
    this.#complete.add(cid.toString())
  }

  /** Whether the app event `seq`'s data or meta link to blocks. */
  isLinking(seq: number): boolean {
    return this.#linking.has(seq)
  }

  markLinking(seq: number): void {
    this.#linking.add(seq)
  }

  /** The bookkeeping as snapshot parts. */
  parts(): ContainmentParts {
    const bytesOf = (key: string): Uint8Array => CID.parse(key).bytes
    return {
      containers: [...this.#containers].map(([child, set]) => [bytesOf(child), [...set].map(bytesOf)]),
      walked: [...this.#walked].map(bytesOf),
      complete: [...this.#complete].map(bytesOf),
      linking: [...this.#linking],
    }
  }

  /** Adds what snapshot parts hold. */
  load(p: ContainmentParts): void {
    for (const [child, list] of p.containers) for (const c of list) this.addContainer(CID.decode(child), CID.decode(c).toString())
    for (const b of p.walked) this.#walked.add(CID.decode(b).toString())
    for (const b of p.complete) this.#complete.add(CID.decode(b).toString())
    for (const seq of p.linking) this.#linking.add(seq)
  }
}
