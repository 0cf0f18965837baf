// The official Node client (deepl-node) against the local gateway; run by tests/e2e/test_deepl_clients.py.
// Usage: node deepl_node_client.mjs <server_url> <secret>. Prints one JSON object with what each call returned.
import * as deepl from "deepl-node";

const [serverUrl, secret] = process.argv.slice(2);
const translator = new deepl.Translator(secret, { serverUrl, maxRetries: 0, minTimeout: 10000 });
const out = {};

const before = await translator.getUsage();
out.usageBefore = { count: before.character.count, limit: before.character.limit };
const one = await translator.translateText("Hello, world!", null, "de");
out.one = one;
const many = await translator.translateText(["Good morning", "Thank you"], "en", "fr", {
  formality: "prefer_more", preserveFormatting: true, splitSentences: "nonewlines",
});
out.many = many;
out.tagged = await translator.translateText("Good <i>morning</i> <x>keep</x>", "en", "de", {
  tagHandling: "xml", ignoreTags: ["x"],
});
// Each request is written just after its answer: the count catches up within moments.
const billed = one.billedCharacters + many.reduce((sum, t) => sum + t.billedCharacters, 0) + out.tagged.billedCharacters;
let after = await translator.getUsage();
for (let i = 0; i < 100 && after.character.count - before.character.count < billed; i++) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  after = await translator.getUsage();
}
out.usageAfter = { count: after.character.count, limit: after.character.limit };
out.source = (await translator.getSourceLanguages()).map((l) => l.code);
out.target = (await translator.getTargetLanguages()).map((l) => ({ code: l.code, supportsFormality: l.supportsFormality }));

try {
  await new deepl.Translator("wrong-key", { serverUrl, maxRetries: 0 }).translateText("Hi", null, "de");
  out.wrongKey = "no error";
} catch (error) {
  out.wrongKey = error.constructor.name;
}
console.log(JSON.stringify(out));
