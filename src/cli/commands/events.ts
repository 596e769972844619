// `append`, `log`, `state`: the event log.
import type { Command } from 'commander'
import { type BatchAppendInput, CairnError, type CairnStore, type CID, type QueryOptions, type ReadOptions, type StoredEvent } from '../../index.node.ts'
import { parseAsOf, parseCid, parseCount, parseTime } from '../args.ts'
import { type CommonOptions, interrupt, withCommon, withIdentity, withStore } from '../context.ts'
import { UsageError } from '../exit-codes.ts'
import { checkAborted, linesOf, readStdin, stdinIsTTY, writeStdout } from '../io.ts'
import { parseJsonValue } from '../json.ts'
import { eventJson, eventLine, print, prettyValue } from '../output.ts'

/** Events per `appendMany` when appending NDJSON from stdin. */
const BATCH = 1000

interface AppendOptions extends CommonOptions {
  stream?: string
  type?: string
  meta?: string
  expectedVersion?: string
}

interface LogOptions extends CommonOptions {
  stream?: string
  type?: string
  prefix?: string
  since?: string
  until?: string
  after?: string
  asOf?: string
  fromVersion?: string
  toVersion?: string
  limit?: string
  reverse?: boolean
}

interface StateOptions extends CommonOptions {
  stream: string
  reducer: string
  asOf?: string
}

/** The built-in reducers of `cairn state`. */
export const REDUCERS: Readonly<Record<string, { initial: () => unknown; reduce: (state: unknown, e: StoredEvent) => unknown; about: string }>> = Object.freeze({
  merge: {
    initial: () => ({}),
    reduce: (state, e) => (isPlainObject(e.data) ? { ...(state as object), ...e.data } : state),
    about: 'shallow-merge each event’s data (an object) into the state, in order; other payloads are skipped',
  },
  count: { initial: () => 0, reduce: (n) => (n as number) + 1, about: 'the number of events' },
  last: { initial: () => null, reduce: (_, e) => e.data, about: 'the data of the last event' },
  list: { initial: () => [], reduce: (list, e) => [...(list as unknown[]), e.data], about: 'every event’s data, in order' },
})

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && (v as { asCID?: unknown }).asCID !== v
}

/** Reads one NDJSON line into an append input. */
function inputOfLine(line: string, n: number, options: AppendOptions): BatchAppendInput {
  const value = parseJsonValue(line, `stdin line ${n}`)
  if (options.stream !== undefined && options.type !== undefined) return { stream: options.stream, type: options.type, data: value }
  if (!isPlainObject(value) || typeof value['stream'] !== 'string' || typeof value['type'] !== 'string') {
    throw new CairnError('CAIRN_INVALID_VALUE', `stdin line ${n} is not {"stream", "type", "data", "meta"?} (or give --stream and --type, and one data value per line)`)
  }
  const input: BatchAppendInput = { stream: value['stream'], type: value['type'], data: value['data'] ?? null }
  if (value['meta'] !== undefined) input.meta = value['meta'] as BatchAppendInput['meta']
  if (value['expectedVersion'] !== undefined) input.expectedVersion = value['expectedVersion'] as number
  return input
}

async function appendStdin(store: CairnStore, options: AppendOptions): Promise<number> {
  let batch: BatchAppendInput[] = []
  let count = 0
  const flush = async (): Promise<void> => {
    checkAborted(interrupt.signal)
    const stored = await store.appendMany(batch)
    count += stored.length
    batch = []
    await writeStdout(stored.map((e) => `${options.json ? JSON.stringify(eventJson(e)) : eventLine(e)}\n`).join(''))
  }
  for await (const { line, n } of linesOf(readStdin())) {
    if (line.trim() === '') continue
    batch.push(inputOfLine(line, n, options))
    if (batch.length >= BATCH) await flush()
  }
  if (batch.length > 0) await flush()
  return count
}

/** Registers the event commands. */
export function eventCommands(program: Command): void {
  withIdentity(withCommon(program.command('append')))
    .argument('[json]', 'the event’s data as JSON; without it, NDJSON events are read from stdin')
    .option('--stream <stream>', 'the stream to append to')
    .option('--type <type>', 'the event type')
    .option('--meta <json>', 'metadata as JSON, e.g. {"id": "order-7"} (an idempotency key)')
    .option('--expected-version <n>', 'fail with exit 5 unless the stream holds exactly n events')
    .description('append an event, or many from NDJSON on stdin (appended in batches of 1000)')
    .addHelpText(
      'after',
      `
Examples:
  $ cairn append --stream todo --type added '{"title": "milk"}'
  $ printf '{"title":"a"}\\n{"title":"b"}\\n' | cairn append --stream todo --type added
  $ cat events.ndjson | cairn append     # each line {"stream", "type", "data", "meta"?}
Links are written {"/": "bafy…"} and bytes {"/": {"bytes": "<base64>"}} (dag-json).`,
    )
    .action(async (json: string | undefined, options: AppendOptions) => {
      if ((options.stream === undefined) !== (options.type === undefined)) throw new UsageError('give both --stream and --type, or neither (then each stdin line names its own)')
      if (json !== undefined) {
        if (options.stream === undefined || options.type === undefined) throw new UsageError('appending a JSON argument needs --stream and --type')
        const input: BatchAppendInput = { stream: options.stream, type: options.type, data: parseJsonValue(json, 'the JSON argument') }
        if (options.meta !== undefined) input.meta = parseJsonValue(options.meta, '--meta') as BatchAppendInput['meta']
        const expectedVersion = options.expectedVersion === undefined ? undefined : parseCount(options.expectedVersion, '--expected-version')
        await withStore(options, async (store) => {
          const event = await store.append(input, expectedVersion === undefined ? {} : { expectedVersion })
          await print(options, eventJson(event), () => eventLine(event))
        })
        return
      }
      if (options.meta !== undefined || options.expectedVersion !== undefined) throw new UsageError('--meta and --expected-version go with a JSON argument; on stdin put "meta" and "expectedVersion" in each line')
      if (stdinIsTTY()) throw new UsageError('give the event’s data as a JSON argument, or pipe NDJSON into stdin')
      await withStore(options, (store) => appendStdin(store, options))
    })

  withCommon(program.command('log'))
    .description('list events in canonical order (the query filters); NDJSON under --json')
    .option('--stream <stream>', 'only this stream')
    .option('--type <type>', 'only this event type')
    .option('--prefix <prefix>', 'only streams starting with this ($ for system streams)')
    .option('--since <time>', 'stamped at or after this time (ISO 8601 or ms)')
    .option('--until <time>', 'stamped before this time (ISO 8601 or ms)')
    .option('--after <cid>', 'start after this event (a cursor: the last CID of the previous page)')
    .option('--as-of <time|cid>', 'the stream as it was at a time or an event (needs --stream)')
    .option('--from-version <n>', 'first version (needs --stream)')
    .option('--to-version <n>', 'last version (needs --stream)')
    .option('--limit <n>', 'at most n events')
    .option('--reverse', 'newest first')
    .addHelpText('after', '\nExamples:\n  $ cairn log --stream todo --limit 10\n  $ cairn log --type added --since 2026-01-01 --json | jq .data')
    .action(async (options: LogOptions) => {
      const limit = options.limit === undefined ? undefined : parseCount(options.limit, '--limit')
      const byStream = options.asOf !== undefined || options.fromVersion !== undefined || options.toVersion !== undefined
      let events: (store: CairnStore) => AsyncIterable<StoredEvent>
      if (byStream) {
        if (options.stream === undefined) throw new UsageError('--as-of, --from-version and --to-version read one stream: give --stream')
        if (options.type !== undefined || options.prefix !== undefined || options.since !== undefined || options.until !== undefined || options.after !== undefined) {
          throw new UsageError('--as-of, --from-version and --to-version go with --stream, --limit and --reverse only')
        }
        const read: ReadOptions = { reverse: options.reverse === true }
        if (options.asOf !== undefined) read.asOf = parseAsOf(options.asOf)
        if (options.fromVersion !== undefined) read.fromVersion = parseCount(options.fromVersion, '--from-version')
        if (options.toVersion !== undefined) read.toVersion = parseCount(options.toVersion, '--to-version')
        if (limit !== undefined) read.limit = limit
        const stream = options.stream
        events = (store) => store.read(stream, read)
      } else {
        const query: QueryOptions = { reverse: options.reverse === true }
        if (options.stream !== undefined) query.stream = options.stream
        if (options.type !== undefined) query.type = options.type
        if (options.prefix !== undefined) query.streamPrefix = options.prefix
        if (options.since !== undefined) query.since = parseTime(options.since, '--since')
        if (options.until !== undefined) query.until = parseTime(options.until, '--until')
        if (options.after !== undefined) query.after = parseCid(options.after, '--after')
        if (limit !== undefined) query.limit = limit
        events = (store) => store.query(query)
      }
      await withStore(options, async (store) => {
        let lines: string[] = []
        for await (const e of events(store)) {
          checkAborted(interrupt.signal)
          lines.push(options.json ? JSON.stringify(eventJson(e)) : eventLine(e))
          if (lines.length >= 256) {
            await writeStdout(`${lines.join('\n')}\n`)
            lines = []
          }
        }
        if (lines.length > 0) await writeStdout(`${lines.join('\n')}\n`)
      })
    })

  withCommon(program.command('state'))
    .description('fold a stream’s events into one value with a built-in reducer')
    .requiredOption('--stream <stream>', 'the stream to fold')
    .option('--reducer <name>', `one of ${Object.keys(REDUCERS).join(', ')}`, 'merge')
    .option('--as-of <time|cid>', 'fold the stream as it was at a time or an event')
    .addHelpText(
      'after',
      `\nReducers:\n${Object.entries(REDUCERS)
        .map(([name, r]) => `  ${name.padEnd(6)} ${r.about}`)
        .join('\n')}\n\nExample:\n  $ cairn state --stream profile/alice          # {"name": "Alice", "city": "Oslo"}`,
    )
    .action(async (options: StateOptions) => {
      const reducer = REDUCERS[options.reducer]
      if (reducer === undefined) throw new UsageError(`--reducer expected one of ${Object.keys(REDUCERS).join(', ')}, got ${JSON.stringify(options.reducer)}`)
      const asOf: number | CID | undefined = options.asOf === undefined ? undefined : parseAsOf(options.asOf)
      await withStore(options, async (store) => {
        const state = await store.reduce(options.stream, reducer.reduce, reducer.initial(), asOf === undefined ? {} : { asOf })
        await print(options, state, () => prettyValue(state))
      })
    })
}
