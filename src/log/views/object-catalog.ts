import { CID } from 'multiformats/cid'
import { compareBytes } from '../../block/codec.ts'
import type { ObjectInfo, Referrer } from '../../objects/interface.ts'

/** The catalog as a snapshot holds it. */
export interface ObjectCatalogParts {
  /** Object CID bytes, type, size, arrival number of the event that recorded it. */
  readonly objects: [Uint8Array, string, number, number][]
  /** Target CID bytes, referrer CID bytes, kind (0 event, 1 object). */
  readonly referrers: [Uint8Array, Uint8Array, number][]
}

/**
 * The recorded objects (per type, the earliest record in canonical order wins), the bytes
 * they add up to (each distinct object once, at the size its earliest `object.put` gave), and
 * who links to each block. Events are placed in the canonical order by `seqOf` and `compare`.
 */
export class ObjectCatalog {
  readonly #seqOf: (cid: CID) => number
  readonly #compare: (a: number, b: number) => number
  readonly #objects = new Map<string, Map<string, ObjectInfo>>()
  /** Size of each object as recorded by its earliest `object.put` in canonical order. */
  readonly #objectSizes = new Map<string, { size: number; event: CID }>()
  #objectBytes = 0
  readonly #referrers = new Map<string, Map<string, Referrer>>()

  /** `seqOf` gives an event's arrival number, `compare` the canonical order between two. */
  constructor(seqOf: (cid: CID) => number, compare: (a: number, b: number) => number) {
    this.#seqOf = seqOf
    this.#compare = compare
  }

  /** Distinct objects, whatever their types. */
  get count(): number {
    return this.#objectSizes.size
  }

  /** The size of every distinct object. */
  get bytes(): number {
    return this.#objectBytes
  }

  has(cid: CID, type: string): boolean {
    return this.#objects.get(type)?.has(cid.toString()) ?? false
  }

  /** Objects in the canonical order of the events that first recorded them. */
  list(type?: string): ObjectInfo[] {
    const list = type !== undefined ? [...(this.#objects.get(type)?.values() ?? [])] : [...this.#objects.values()].flatMap((m) => [...m.values()])
    const pos = (info: ObjectInfo): number => this.#seqOf(info.event)
    return list.sort((a, b) => this.#compare(pos(a), pos(b)))
  }

  add(info: ObjectInfo): void {
    let byType = this.#objects.get(info.type)
    if (byType === undefined) {
      byType = new Map()
      this.#objects.set(info.type, byType)
    }
    const key = info.cid.toString()
    const held = byType.get(key)
    const earlier = (a: CID, b: CID): boolean => this.#compare(this.#seqOf(a), this.#seqOf(b)) < 0
    if (held === undefined || earlier(info.event, held.event)) byType.set(key, info)
    const sized = this.#objectSizes.get(key)
    if (sized === undefined || earlier(info.event, sized.event)) {
      this.#objectBytes += info.size - (sized?.size ?? 0)
      this.#objectSizes.set(key, { size: info.size, event: info.event })
    }
  }

  /** Who links to `cid`, sorted by CID bytes so replicas agree whatever the arrival order. */
  referrers(cid: CID): Referrer[] {
    return [...(this.#referrers.get(cid.toString())?.values() ?? [])].sort((a, b) => compareBytes(a.cid.bytes, b.cid.bytes))
  }

  addReferrer(target: CID, from: Referrer): void {
    const key = target.toString()
    let refs = this.#referrers.get(key)
    if (refs === undefined) {
      refs = new Map()
      this.#referrers.set(key, refs)
    }
    refs.set(from.cid.toString(), from)
  }

  /** The catalog as snapshot parts. */
  parts(): ObjectCatalogParts {
    return {
      objects: [...this.#objects.values()].flatMap((m) => [...m.values()]).map((o) => [o.cid.bytes, o.type, o.size, this.#seqOf(o.event)]),
      referrers: [...this.#referrers].flatMap(([target, refs]) => [...refs.values()].map((r): [Uint8Array, Uint8Array, number] => [CID.parse(target).bytes, r.cid.bytes, r.kind === 'event' ? 0 : 1])),
    }
  }

  /** Adds what snapshot parts hold; `cidOf` gives the CID of an arrival number. */
  load(p: ObjectCatalogParts, cidOf: (seq: number) => CID): void {
    for (const [cid, type, size, seq] of p.objects) this.add({ cid: CID.decode(cid), type, size, event: cidOf(seq) })
    for (const [target, from, kind] of p.referrers) this.addReferrer(CID.decode(target), { cid: CID.decode(from), kind: kind === 0 ? 'event' : 'object' })
  }
}
