/// <reference lib="deno.ns" />
// Runs the Vitest-style neutral specs under `deno test`, with Vitest's own matchers.
import { chai, type ExpectStatic, JestAsymmetricMatchers, JestChaiExpect, JestExtend } from '@vitest/expect'
chai.use(JestExtend)
chai.use(JestChaiExpect)
chai.use(JestAsymmetricMatchers)
export const expect = chai.expect as unknown as ExpectStatic
type Fn = () => unknown
const scopes: { name: string; before: Fn[]; after: Fn[] }[] = [{ name: '', before: [], after: [] }]
function register(name: string, fn: Fn, opts: { ignore?: boolean; only?: boolean } = {}) {
  const chain = [...scopes]
  Deno.test({
    name: [...chain.map((s) => s.name).filter(Boolean), name].join(' > '),
    ...opts,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      for (const s of chain) for (const h of s.before) await h()
      try {
        await fn()
      } finally {
        for (const s of [...chain].reverse()) for (const h of s.after) await h()
      }
    },
  })
}
type Register = (name: string, fn: Fn, timeout?: number) => void
interface TestApi extends Register {
  skip: Register
  only: Register
  skipIf: (condition: unknown) => Register
  runIf: (condition: unknown) => Register
}
export const test: TestApi = Object.assign((n: string, f: Fn, _timeout?: number): void => register(n, f), {
  skip: (n: string, f: Fn): void => register(n, f, { ignore: true }),
  only: (n: string, f: Fn): void => register(n, f, { only: true }),
  skipIf:
    (c: unknown): Register =>
    (n: string, f: Fn): void =>
      register(n, f, { ignore: !!c }),
  runIf:
    (c: unknown): Register =>
    (n: string, f: Fn): void =>
      register(n, f, { ignore: !c }),
})
export const it: TestApi = test
export function describe(name: string, body: () => void): void {
  scopes.push({ name, before: [], after: [] })
  try {
    body()
  } finally {
    scopes.pop()
  }
}
export const beforeEach = (f: Fn): void => void scopes.at(-1)!.before.push(f)
export const afterEach = (f: Fn): void => void scopes.at(-1)!.after.push(f)
