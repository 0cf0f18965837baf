// JS counterpart of the probe worker (bench/profile/probe_entry.py):
//   /empty  a constant Response (compare with bench/profile/empty.py)
//   /ai     `x-bench-repeat: N` extra env.AI.run(...) calls of the benchmark's chat request, then one answer
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/empty") return new Response('{"ok":true}');
    const body = await request.json();
    const inputs = { messages: body.messages, max_tokens: body.max_tokens, temperature: body.temperature };
    const repeat = Number(request.headers.get("x-bench-repeat") || 0);
    for (let i = 0; i < repeat; i++) await env.AI.run(body.model, inputs);
    return Response.json(await env.AI.run(body.model, inputs));
  },
};
