import type { CID } from 'multiformats/cid'
import type { ProgressOptions } from '../errors/progress.ts'

/**
 * Options of `put`.
 *
 * @example
 * const cid = await store.put({ title: 'Notes' }, { type: 'doc' })
 */
export interface PutOptions {
  /** The object's type, for `objects({ type })`. Default 'object'. */
  type?: string
}

/**
 * How `store.putFile` records a file: its type, progress and cancellation (see
 * `ProgressOptions`; an aborted putFile records nothing).
 *
 * @example
 * const cid = await store.putFile(file.stream(), {
 *   type: 'photo',
 *   onProgress: ({ bytes }) => (label.textContent = `${Math.round((100 * bytes) / file.size)}%`),
 * })
 */
export interface PutFileOptions extends ProgressOptions {
  /** The object's type. Default 'file'. */
  type?: string
}

/**
 * An object as listed by `objects()`.
 *
 * @example
 * for await (const { cid, type, size, event } of store.objects()) console.log(type, size, cid.toString())
 */
export interface ObjectInfo {
  readonly cid: CID
  readonly type: string
  /** Bytes of the value's block, or of the file's content. */
  readonly size: number
  /** CID of the `object.put` event that recorded it. */
  readonly event: CID
}

/**
 * Something that links to a CID.
 *
 * @example
 * for await (const { kind, cid } of store.referrers(photoCid)) console.log(kind, cid.toString())
 */
export interface Referrer {
  readonly cid: CID
  readonly kind: 'event' | 'object'
}

/**
 * Which objects `objects()` lists.
 *
 * @example
 * for await (const photo of store.objects({ type: 'photo' })) console.log(photo.cid.toString())
 */
export interface ObjectsQuery {
  /** Only objects put with this type. */
  type?: string
}
