// The official Node client (@anthropic-ai/sdk) against the local gateway's Messages API; run by
// tests/e2e/test_anthropic_node_http.py. Usage: node anthropic_node.mjs <base_url> <key> <model>
// Prints one JSON object: what messages.create, messages.stream (text and final message), a tool
// round trip, countTokens, models.list (paged) and a bad key gave, or the error's class, status and message.
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });
const weather = {
  name: "get_weather",
  description: "Current weather in a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

async function attempt(run) {
  try {
    return { ok: await run() };
  } catch (error) {
    return { error: error.constructor.name, status: error.status, type: error.error?.error?.type,
             message: String(error.message).slice(0, 300) };
  }
}

const out = {};
out.create = await attempt(async () => {
  const message = await client.messages.create({
    model, max_tokens: 64, system: "Be brief.", messages: [{ role: "user", content: "Hello from node" }],
  });
  return { model: message.model, id: message.id, text: message.content[0].text, stop_reason: message.stop_reason,
           usage: message.usage };
});
out.stream = await attempt(async () => {
  const stream = client.messages.stream({ model, max_tokens: 64, messages: [{ role: "user", content: "Stream from node" }] });
  const pieces = [];
  stream.on("text", (text) => pieces.push(text));
  const final = await stream.finalMessage();
  return { pieces, text: final.content[0].text, stop_reason: final.stop_reason, usage: final.usage };
});
out.tools = await attempt(async () => {
  const question = { role: "user", content: "What is the weather in Oslo?" };
  const first = await client.messages.create({
    model, max_tokens: 256, tools: [weather], tool_choice: { type: "tool", name: "get_weather" }, messages: [question],
  });
  const call = first.content.find((block) => block.type === "tool_use");
  const second = await client.messages.create({
    model, max_tokens: 256, tools: [weather],
    messages: [question, { role: "assistant", content: first.content },
               { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "12 °C and sunny" }] }],
  });
  return { first_stop: first.stop_reason, call: { id: call.id, name: call.name, input: call.input },
           second_stop: second.stop_reason, second_types: second.content.map((block) => block.type) };
});
out.streamed_tool = await attempt(async () => {
  const stream = client.messages.stream({
    model, max_tokens: 256, tools: [weather], tool_choice: { type: "tool", name: "get_weather" },
    messages: [{ role: "user", content: "Weather in Oslo?" }],
  });
  const json = [];
  stream.on("inputJson", (partial) => json.push(partial));
  const final = await stream.finalMessage();
  const call = final.content.find((block) => block.type === "tool_use");
  return { partial: json.join(""), input: call?.input, stop_reason: final.stop_reason };
});
out.count_tokens = await attempt(async () => {
  const short = await client.messages.countTokens({ model, messages: [{ role: "user", content: "hi" }] });
  const longer = await client.messages.countTokens({ model, tools: [weather], messages: [{ role: "user", content: "hi ".repeat(200) }] });
  return { short: short.input_tokens, longer: longer.input_tokens };
});
out.models = await attempt(async () => {
  const ids = [];
  for await (const info of client.models.list({ limit: 5 })) ids.push(info.id);
  return { ids };
});
out.bad_key = await attempt(async () => {
  const other = new Anthropic({ baseURL, apiKey: "sk-wrong", maxRetries: 0 });
  return await other.messages.create({ model, max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
});
process.stdout.write(JSON.stringify(out));
