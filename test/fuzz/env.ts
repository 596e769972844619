// Environment variables in Node and Deno (and none in a browser), without node: imports.

export function env(name: string): string | undefined {
  const g = globalThis as { Deno?: { env: { get(n: string): string | undefined } }; process?: { env?: Record<string, string | undefined> } }
  try {
    if (g.Deno !== undefined) return g.Deno.env.get(name)
  } catch {
    return undefined
  }
  return g.process?.env?.[name]
}

/** An integer from the environment, or `fallback`. */
export function envInt(name: string, fallback?: number): number | undefined {
  const v = env(name)
  if (v === undefined || v === '') return fallback
  const n = Number(v)
  if (!Number.isSafeInteger(n)) throw new RangeError(`${name} must be an integer, got ${v}`)
  return n
}
