/** Which runtime a neutral spec is running in. */
export type Runtime = 'node' | 'deno' | 'browser'

export const runtime: Runtime = 'Deno' in globalThis ? 'deno' : typeof (globalThis as { indexedDB?: unknown }).indexedDB !== 'undefined' && typeof (globalThis as { window?: unknown }).window !== 'undefined' ? 'browser' : 'node'

/**
 * Imports a module that only exists for Node/Deno (it uses node: built-ins) without
 * letting Vite's browser build see the specifier.
 */
export function importServerOnly<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>
}
