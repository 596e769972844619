// Writer child of the crash suite: performs ops start, start + 1, … of one seed's plan through
// the public store API until it is SIGKILLed.
//
// Run as `node --import tsx test/crash/writer.ts` (not the tsx CLI, whose grandchild a SIGKILL
// would miss). It loads its modules, prints `ready` and waits for one line on stdin, a JSON
// WriterInput, so that the parent can start the next writer while it still checks what the last
// one left (loading takes seconds on a busy machine; opening the store must wait for the check).
// Then it prints, one line each:
//   opening | opened <ms> | begin <n> <kind> | ack <n> <kind> <ms> [<cid>]
// with how long the open or the op took here (the parent aims its kills with it). An ack line is
// written (synchronously: stdout is a pipe) only after the op's promise resolved.
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { CID, importFromFile } from '../../src/index.node.ts'
import { openCrashStore, type CrashEngine } from './engines.ts'
import { FILE_TYPE, fileBytes, Plan, PUT_TYPE } from './plan.ts'

/** What the parent sends on stdin. */
export interface WriterInput {
  engine: CrashEngine
  dir: string
  seed: number
  /** The first op to perform. */
  start: number
  /** [n, cid] of the file ops before `start`, which later puts and events may link. */
  files: [number, string][]
  /** Where `car-<k>.car` are. */
  carsDir: string
}

const say = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

async function main(): Promise<void> {
  // Loaded now rather than by the first putFile, so that an op's time is the op's.
  await import('ipfs-unixfs-importer')
  say('ready')
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  const first = await lines.next()
  // The parent no longer needs a spare writer (or is gone): stop.
  if (first.done === true) process.exit(0)
  const input = JSON.parse(first.value) as WriterInput
  const files = new Map<number, CID>(input.files.map(([n, cid]) => [n, CID.parse(cid)]))
  const plan = new Plan(input.seed, (j) => {
    const cid = files.get(j)
    if (cid === undefined) throw new Error(`writer: no CID for file op ${j}`)
    return cid
  })

  say('opening')
  let began = performance.now()
  const store = await openCrashStore(input.engine, input.dir)
  say(`opened ${Math.round(performance.now() - began)}`)
  // The parent kills long before this; a writer it failed to kill stops on its own (and the parent fails).
  for (let n = input.start; n < input.start + 500; n++) {
    say(`begin ${n} ${plan.kind(n)}`)
    began = performance.now()
    const op = plan.op(n)
    let extra = ''
    switch (op.kind) {
      case 'appendMany':
        await store.appendMany(op.events)
        break
      case 'append':
        await store.append(op.events[0])
        break
      case 'put': {
        const cid = await store.put(op.value, { type: PUT_TYPE })
        extra = ` ${cid}`
        break
      }
      case 'putFile': {
        const cid = await store.putFile(fileBytes(input.seed, n), { type: FILE_TYPE })
        files.set(n, cid)
        extra = ` ${cid}`
        break
      }
      case 'import':
        await importFromFile(store, join(input.carsDir, `car-${op.car}.car`))
        break
    }
    say(`ack ${n} ${op.kind} ${Math.round(performance.now() - began)}${extra}`)
  }
  process.exit(3)
}

await main()
