// A usage database that answers at once, for bench/cpu.mjs: bound as USAGE_DB in place of the
// local D1 (a Durable Object with SQLite inside the same workerd, whose CPU the benchmark would
// otherwise count as the gateway's). On Cloudflare, D1 runs elsewhere and only the worker's own
// work counts: its FFI crossings and Python, which this stand-in leaves as they are. Every write
// changes one row (a reservation is held); every read finds nothing spent.
export default function () {
  const statement = {
    bind: () => statement,
    run: async () => ({ success: true, meta: { changes: 1 } }),
    all: async () => ({ success: true, results: [{ spent: 0, held: 0, characters: 0 }] }),
    first: async () => null,
  };
  return { prepare: () => statement };
}
