// deepl-node against a gateway whose key has no budget left; run by tests/e2e/test_spend.py.
// Usage: node deepl_node_quota.mjs <server_url> <secret>. Prints {error, ms}: which error the client
// raised and how long it took (its default retries would take seconds on a 429).
import * as deepl from "deepl-node";

const [serverUrl, secret] = process.argv.slice(2);
const translator = new deepl.Translator(secret, { serverUrl });
const started = Date.now();
let error = "no error";
try {
  await translator.translateText("Hallo", "de", "en-US");
} catch (caught) {
  error = caught.constructor.name;
}
console.log(JSON.stringify({ error, ms: Date.now() - started }));
