// Node specs that drive child processes: their output, a line at a time.
import type { Readable } from 'node:stream'

/** Calls `each` with every complete line `stream` writes (a partial last line waits for its newline). */
export function onLines(stream: Readable, each: (line: string) => void): void {
  let buffered = ''
  stream.on('data', (d: Buffer) => {
    buffered += d.toString()
    const parts = buffered.split('\n')
    buffered = parts.pop()!
    for (const line of parts) each(line)
  })
}
