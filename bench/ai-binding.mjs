// The AI binding both benchmarked workers get. Not a module of its own: bench/run.mjs appends it
// to the unchanged source of scripts/local/ai-emulator.mjs, whose `export default function (env)`
// it renames to `emulatorBinding` (a Miniflare wrapped binding must be one module, no imports).
//
// By default every call goes to the emulator, which answers at once. Two markers in the prompt
// (the last user message, or `prompt`) let the benchmark steer a call, because the gateway passes
// only known fields on to the model and so can not send `__emulator_delay_ms` itself:
//   [bench:upstream]   forward this call to the benchmark's HTTP server (the emulator's own UPSTREAM
//                      protocol): timed SSE streams, a 2 MB PNG
//   [bench:delay=N]    the emulator's own stream delay: N ms between chunks (`__emulator_delay_ms`)

function benchPrompt(inputs) {
  if (Array.isArray(inputs?.messages)) {
    const last = inputs.messages.at(-1);
    const content = last?.content;
    return typeof content === "string" ? content : "";
  }
  return typeof inputs?.prompt === "string" ? inputs.prompt : "";
}

export default function (env) {
  const local = emulatorBinding({});
  const upstream = env.BENCH_UPSTREAM ? emulatorBinding({ UPSTREAM: env.BENCH_UPSTREAM }) : null;
  return {
    async run(model, inputs, options) {
      const prompt = benchPrompt(inputs instanceof Map ? plain(inputs) : inputs);
      if (prompt.includes("[bench:")) {
        if (upstream && prompt.includes("[bench:upstream]")) return upstream.run(model, inputs, options);
        const delay = /\[bench:delay=(\d+)\]/.exec(prompt);
        if (delay) return local.run(model, { ...plain(inputs), __emulator_delay_ms: Number(delay[1]) }, options);
      }
      return local.run(model, inputs, options);
    },
  };
}
