// The settings the Node and Deno sync servers share: where the store lives, where to listen,
// and who may call. Each comes from a flag or, failing that, an environment variable:
//   --path DIR        CAIRN_PATH      a files store in DIR (default: a memory store)
//   --port N          CAIRN_PORT      default 8787; 0 picks a free port
//   --host ADDR       CAIRN_HOST      default 127.0.0.1 (this machine only)
//   --allow DID       CAIRN_ALLOW     only requests signed by these dids (repeat the flag, or comma-separate)
//   --audience URL    CAIRN_AUDIENCE  the origin clients address (set it behind a proxy)
//   --cors ORIGIN     CAIRN_CORS      browser apps on these origins may sync ('*' for any)
import { isDidKey, type SyncHandlerOptions } from 'cairndb'

/** What a server reads from its flags and environment. */
export interface ServerConfig {
  /** The files store's folder; undefined for a memory store. */
  path: string | undefined
  port: number
  host: string
  /** Options of `createSyncHandler`: auth and CORS. */
  handler: SyncHandlerOptions
}

const FLAGS = ['path', 'port', 'host', 'allow', 'audience', 'cors'] as const
type Flag = (typeof FLAGS)[number]

export const USAGE = 'usage: server [--path DIR] [--port 8787] [--host 127.0.0.1] [--allow DID]... [--audience URL] [--cors ORIGIN]...'

/** Reads `args` (`--name value` or `--name=value`) and then `env` (`CAIRN_NAME`); throws a TypeError with the usage on a bad flag. */
export function serverConfig(args: readonly string[], env: (name: string) => string | undefined): ServerConfig {
  const given = new Map<Flag, string[]>()
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(args[i]!)
    const name = m?.[1] as Flag | undefined
    if (name === undefined || !FLAGS.includes(name)) throw new TypeError(`unknown argument ${JSON.stringify(args[i])}\n${USAGE}`)
    const value = m![2] ?? args[++i]
    if (value === undefined) throw new TypeError(`--${name} needs a value\n${USAGE}`)
    given.set(name, [...(given.get(name) ?? []), value])
  }
  const list = (name: Flag): string[] =>
    (given.get(name) ?? [env(`CAIRN_${name.toUpperCase()}`) ?? ''])
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '')
  const one = (name: Flag): string | undefined => list(name).at(-1)

  const port = Number(one('port') ?? 8787)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`--port expected 0 to 65535, got ${one('port')}\n${USAGE}`)
  const allowed = new Set(list('allow'))
  for (const did of allowed) if (!isDidKey(did)) throw new TypeError(`--allow expected a did:key, got ${JSON.stringify(did)}\n${USAGE}`)
  const audience = list('audience')
  const cors = list('cors')
  const handler: SyncHandlerOptions = {}
  if (allowed.size > 0) {
    const admit = (did: string): boolean => allowed.has(did)
    handler.auth = { requireSignedRequests: true, canRead: admit, canPush: admit }
  }
  if (audience.length > 0) handler.auth = { ...handler.auth, audience }
  if (cors.length > 0) handler.cors = { origins: cors.includes('*') ? '*' : cors }
  return { path: one('path'), port, host: one('host') ?? '127.0.0.1', handler }
}
