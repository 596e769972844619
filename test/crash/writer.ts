// Writer child of the crash suite: performs ops start, start + 1, … of one seed's plan through
// the public store API until it is SIGKILLed, printing a line around each:
//   opening | opened <ms> | begin <n> <kind> | ack <n> <kind> <ms> [<cid>]
// with how long the open or the op took here (the parent learns from it where to aim its kills).
// An ack line is written (synchronously: stdout is a pipe) only after the op's promise resolved.
// Usage: node --import tsx test/crash/writer.ts <engine> <storeDir> <seed> <start> <files.json> <carsDir>
// files.json: [[n, cid], …] for the file ops before <start>, which later puts may link.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CID, importFromFile } from '../../src/index.node.ts'
import { FILE_TYPE, fileBytes, Plan, PUT_TYPE } from './plan.ts'
import { openCrashStore, type CrashEngine } from './engines.ts'

const [engine, dir, seedArg, startArg, filesJson, carsDir] = process.argv.slice(2) as [CrashEngine, string, string, string, string, string]
const seed = Number(seedArg)
const start = Number(startArg)
const say = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

const files = new Map<number, CID>((JSON.parse(readFileSync(filesJson, 'utf8')) as [number, string][]).map(([n, cid]) => [n, CID.parse(cid)]))
const plan = new Plan(seed, (j) => {
  const cid = files.get(j)
  if (cid === undefined) throw new Error(`writer: no CID for file op ${j}`)
  return cid
})

say('opening')
let began = performance.now()
const store = await openCrashStore(engine, dir)
say(`opened ${Math.round(performance.now() - began)}`)
// The parent kills long before this; a writer it failed to kill stops on its own (and the parent fails).
for (let n = start; n < start + 500; n++) {
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
      const cid = await store.putFile(fileBytes(seed, n), { type: FILE_TYPE })
      files.set(n, cid)
      extra = ` ${cid}`
      break
    }
    case 'import':
      await importFromFile(store, join(carsDir, `car-${op.car}.car`))
      break
  }
  say(`ack ${n} ${op.kind} ${Math.round(performance.now() - began)}${extra}`)
}
process.exit(3)
