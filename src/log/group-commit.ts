import type { StoredEvent } from './event/interface.ts'
import type { Draft } from './plan.ts'

/** An append waiting for its group's commit: its drafts, and how to answer its caller. */
export interface WaitingAppend {
  readonly drafts: readonly Draft[]
  resolve(events: StoredEvent[]): void
  reject(err: unknown): void
}

/**
 * Group commit: appends that arrive while a write holds the log's lock wait together, and the
 * next turn of the lock commits them all at once. `add` puts an append in the open group,
 * opening one (and asking `schedule` for a turn of the lock) when there is none; the turn
 * `take`s its group, so appends arriving meanwhile open the next. `seal` closes the open group
 * when another kind of write is queued, so no append overtakes a write asked for before it.
 */
export class AppendQueue {
  readonly #schedule: (group: WaitingAppend[]) => Promise<void>
  #open: WaitingAppend[] | undefined

  constructor(schedule: (group: WaitingAppend[]) => Promise<void>) {
    this.#schedule = schedule
  }

  /** Queues an append; resolves to its events once the commit that holds them is durable. */
  add(drafts: readonly Draft[]): Promise<StoredEvent[]> {
    return new Promise<StoredEvent[]>((resolve, reject) => {
      const waiting: WaitingAppend = { drafts, resolve, reject }
      if (this.#open !== undefined) {
        this.#open.push(waiting)
        return
      }
      const group = [waiting]
      this.#open = group
      // A turn that fails as a whole (the log closed) fails every append still in it.
      this.#schedule(group).catch((err: unknown) => {
        for (const w of this.take(group)) w.reject(err)
      })
    })
  }

  /** The group's appends, now closed to newcomers (call once its turn of the lock came). */
  take(group: WaitingAppend[]): WaitingAppend[] {
    if (this.#open === group) this.#open = undefined
    return group.splice(0)
  }

  /** Later appends go to a new group, committed after the write being queued now. */
  seal(): void {
    this.#open = undefined
  }
}
