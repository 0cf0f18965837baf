// The official Node client (openai-node) with zod schemas against the local gateway; run by
// tests/e2e/test_structured_outputs_http.py. Usage: node openai_node_zod.mjs <base_url> <key> <model>...
// Prints one JSON object: per model, what `chat.completions.parse` (whole and streamed) and a strict
// zod tool gave, or the error's class and message.
import OpenAI from "openai";
import { zodFunction, zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";

const [baseURL, apiKey, ...models] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });

const Step = z.object({ explanation: z.string(), output: z.string() });
const MathAnswer = z.object({ steps: z.array(Step), final_answer: z.string(), confidence: z.number().nullable() });
const Weather = z.object({ city: z.string(), unit: z.enum(["celsius", "fahrenheit"]), days: z.number().int().min(1) });

async function attempt(run) {
  try {
    return { ok: await run() };
  } catch (error) {
    return { error: error.constructor.name, message: String(error.message).slice(0, 300) };
  }
}

const out = {};
for (const model of models) {
  const messages = [{ role: "user", content: "Solve 8x + 7 = -23" }];
  const format = zodResponseFormat(MathAnswer, "math_answer");
  out[model] = {
    parse: await attempt(async () => {
      const completion = await client.chat.completions.parse({ model, messages, response_format: format });
      return { parsed: completion.choices[0].message.parsed, model: completion.model };
    }),
    stream: await attempt(async () => {
      const runner = client.chat.completions.stream({ model, messages, response_format: format });
      const completion = await runner.finalChatCompletion();
      return { parsed: completion.choices[0].message.parsed };
    }),
    tool: await attempt(async () => {
      const completion = await client.chat.completions.parse({
        model,
        messages: [{ role: "user", content: "What is the weather in Paris for the next 3 days?" }],
        tools: [zodFunction({ name: "get_weather", parameters: Weather })],
        tool_choice: { type: "function", function: { name: "get_weather" } },
      });
      const call = completion.choices[0].message.tool_calls?.[0];
      return { name: call?.function.name, parsed: call?.function.parsed_arguments };
    }),
  };
}
console.log(JSON.stringify(out));
