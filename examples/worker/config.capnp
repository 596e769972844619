# workerd config for the Cairn sync worker: one service running dist/worker.js (built by
# `vite build --config examples/worker/vite.config.ts`), one HTTP socket on this machine only.
# Run: workerd serve examples/worker/config.capnp [--socket-addr http=127.0.0.1:8788]
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "cairn", worker = .cairnWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8788", http = (), service = "cairn") ],
);

const cairnWorker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "dist/worker.js") ],
  compatibilityDate = "2026-11-01",
  bindings = [
    # Comma-separated dids: when set, only requests they signed are served.
    (name = "CAIRN_ALLOW", fromEnvironment = "CAIRN_ALLOW"),
    # Comma-separated origins ('*' for any) of browser apps that may sync.
    (name = "CAIRN_CORS", fromEnvironment = "CAIRN_CORS"),
  ],
);
