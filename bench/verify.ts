// `npx tsx bench/verify.ts`: Ed25519 verifications per second through verifySignature, one
// awaited after another and in Promise.all chunks of 256, with few authors (the prepared-key
// cache hit); then each backend's raw verify for comparison (noble is the fallback of browsers
// without WebCrypto Ed25519). Medians of several rounds.
import { createIdentity } from '../src/identity/create.ts'
import { publicKeyOf } from '../src/identity/did-key.ts'
import { ed25519Backends } from '../src/identity/ed25519.ts'
import { verifySignature } from '../src/identity/verify.ts'
import { median } from './measure.ts'

const N = Number(process.env['BENCH_VERIFIES'] ?? 10_000)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5)
const CHUNK = 256

interface Signed {
  did: string
  bytes: Uint8Array
  sig: Uint8Array
}

async function signedBy(authors: number, count: number): Promise<Signed[]> {
  const ids = await Promise.all(Array.from({ length: authors }, () => createIdentity()))
  const out: Signed[] = []
  for (let i = 0; i < count; i++) {
    const id = ids[i % authors]!
    const bytes = crypto.getRandomValues(new Uint8Array(300)) // about one event block
    out.push({ did: id.did, bytes, sig: await id.sign(bytes) })
  }
  return out
}

async function perSecond(fn: () => Promise<void>, count: number): Promise<number> {
  const xs: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now()
    await fn()
    xs.push(count / ((performance.now() - t) / 1000))
  }
  return median(xs)
}

function check(ok: boolean[]): void {
  if (ok.some((x) => !x)) throw new Error('a good signature did not verify')
}

for (const authors of [1, 8]) {
  const items = await signedBy(authors, N)
  const sequential = await perSecond(async () => {
    const ok: boolean[] = []
    for (const s of items) ok.push(await verifySignature(s.did, s.bytes, s.sig))
    check(ok)
  }, N)
  const chunked = await perSecond(async () => {
    for (let i = 0; i < items.length; i += CHUNK) check(await Promise.all(items.slice(i, i + CHUNK).map((s) => verifySignature(s.did, s.bytes, s.sig))))
  }, N)
  console.log(`verifySignature, ${N} verifies, ${authors} author(s): sequential ${Math.round(sequential)}/s, Promise.all chunks of ${CHUNK} ${Math.round(chunked)}/s`)
}

const { webcrypto, noble } = await ed25519Backends()
const items = await signedBy(1, 5000)
for (const [name, backend] of [
  ['webcrypto', webcrypto],
  ['noble', noble],
] as const) {
  if (backend === undefined) continue
  const key = await backend.importPublicKey(publicKeyOf(items[0]!.did))
  const sequential = await perSecond(async () => {
    for (const s of items) if (!(await backend.verify(key, s.bytes, s.sig))) throw new Error('bad')
  }, items.length)
  const uncached = await perSecond(async () => {
    for (const s of items) if (!(await backend.verify(await backend.importPublicKey(publicKeyOf(s.did)), s.bytes, s.sig))) throw new Error('bad')
  }, items.length)
  console.log(`${name} backend, ${items.length} verifies, sequential: key prepared once ${Math.round(sequential)}/s, did decoded and key imported each time ${Math.round(uncached)}/s`)
}
