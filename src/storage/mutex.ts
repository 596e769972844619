/** Runs async sections one at a time, in call order; a failed section does not block the next. */
export class Mutex {
  #tail: Promise<unknown> = Promise.resolve()

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(section, section)
    this.#tail = result.catch(() => undefined)
    return result
  }

  /** Resolves once every section queued so far has finished. */
  idle(): Promise<void> {
    return this.#tail.then(() => undefined)
  }
}
