// How the files engine's parts report failures: an I/O failure is CAIRN_STORAGE naming the file
// or folder (in the message and in `file`), and anything after close() is CAIRN_CLOSED. The
// Gate is the one flag that says the engine is closing, shared by the engine's parts.
import { CairnError } from '../../errors/cairn-error.ts'

/** CAIRN_STORAGE for an I/O failure: `what` and the cause's message; `file` is the file or folder it concerns. */
export function storageError(what: string, cause: unknown, file: string): CairnError {
  return new CairnError('CAIRN_STORAGE', `${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause, file })
}

/** Whether the engine of the folder `path` is closing, and the wrapping of its I/O failures. */
export class Gate {
  readonly path: string
  /** Set by close(): operations started afterwards fail with CAIRN_CLOSED, background work stops. */
  closing = false

  constructor(path: string) {
    this.path = path
  }

  /** Throws CAIRN_CLOSED once the engine is closing. */
  check(): void {
    if (this.closing) throw new CairnError('CAIRN_CLOSED', `files storage ${this.path} is closed`, { file: this.path })
  }

  /**
   * Runs `fn`. A failure is CAIRN_CLOSED if the engine closed meanwhile, else it is passed on
   * when it is a CairnError already and otherwise becomes CAIRN_STORAGE (`what`, about `file`).
   */
  async guard<T>(fn: () => Promise<T>, what: string, file: string): Promise<T> {
    try {
      return await fn()
    } catch (cause) {
      this.check()
      throw cause instanceof CairnError ? cause : storageError(what, cause, file)
    }
  }
}
