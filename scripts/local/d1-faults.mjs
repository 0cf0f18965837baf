// A usage database that can be made to fail, for fault tests: bound in place of the local D1
// database when LOCAL_D1_FAULTS names a file (see serve.mjs). While that file holds "down", every
// statement fails the way D1 reports a lost connection; while it holds "lands", every statement
// runs and then fails (the answer lost, the write made); otherwise (no file) each goes to the real
// local database (the inner `DB` binding). `FAULTS` answers the file's content, or "".
export default function (env) {
  const mode = async () => (await (await env.FAULTS.fetch("http://faults/")).text()).trim();
  const fail = () => {
    throw new Error("D1_ERROR: Network connection lost. (local fault injection)");
  };
  const guarded = (call) => async (...args) => {
    const now = await mode();
    if (now === "down") fail();
    const result = await call(...args);
    if (now === "lands") fail();
    return result;
  };
  const statement = (inner) => ({
    bind: (...values) => statement(inner.bind(...values)),
    run: guarded(() => inner.run()),
    all: guarded(() => inner.all()),
    first: guarded((column) => inner.first(column)),
    raw: guarded((options) => inner.raw(options)),
  });
  return {
    prepare: (sql) => statement(env.DB.prepare(sql)),
    exec: guarded((sql) => env.DB.exec(sql)),
  };
}
