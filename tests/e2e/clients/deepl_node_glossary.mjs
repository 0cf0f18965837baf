// deepl-node's glossary calls against the local gateway; run by tests/e2e/test_glossaries_http.py.
// Usage: node deepl_node_glossary.mjs <server_url> <secret> <other_secret>. Prints one JSON object with
// what each call returned, and for the calls that must fail the error class and message.
import * as deepl from "deepl-node";

const [serverUrl, secret, otherSecret] = process.argv.slice(2);
const options = { serverUrl, maxRetries: 0, minTimeout: 10000 };
const client = new deepl.DeepLClient(secret, options);
const other = new deepl.DeepLClient(otherSecret, options);
const out = {};
const NONEXISTENT = "96ab91fd-e715-41a1-adeb-5d701f84a483";

async function failure(call) {
  try {
    await call();
    return { error: "no error" };
  } catch (error) {
    return { error: error.constructor.name, message: error.message };
  }
}

const info = (g) => ({ glossaryId: g.glossaryId, name: g.name, ready: g.ready, sourceLang: g.sourceLang,
  targetLang: g.targetLang, entryCount: g.entryCount, creationTime: g.creationTime.toISOString() });
const multi = (g) => ({ glossaryId: g.glossaryId, name: g.name, creationTime: g.creationTime.toISOString(),
  dictionaries: g.dictionaries.map((d) => ({ source: d.sourceLangCode, target: d.targetLangCode, entryCount: d.entryCount })) });

// v2: entries as an object (a form body with TSV), and as CSV.
const entries = new deepl.GlossaryEntries({ entries: { Hello: "Hallo", "Good morning": "Guten Morgen", "A%=&": "B&=%" } });
const created = await client.createGlossary("node glossary", "en", "de", entries);
out.created = info(created);
const csv = await client.createGlossaryWithCsv("node csv", "de", "en-US",
  Buffer.from('Hallo,Hello\n"Guten Tag, Welt","Good day, world"\nApfel,apple,de,en\n'));
out.csv = info(csv);
out.got = info(await client.getGlossary(created.glossaryId));
out.listed = (await client.listGlossaries()).map((g) => g.glossaryId);
out.entries = (await client.getGlossaryEntries(created)).entries();
out.csvEntries = (await client.getGlossaryEntries(csv.glossaryId)).entries();
out.pairs = (await client.getGlossaryLanguagePairs()).length;
out.otherGet = await failure(() => other.getGlossary(created.glossaryId));
out.otherDelete = await failure(() => other.deleteGlossary(created.glossaryId));
out.otherList = (await other.listGlossaries()).map((g) => g.glossaryId);
out.notFound = await failure(() => client.getGlossary(NONEXISTENT));
out.duplicate = await failure(() => client.createGlossaryWithCsv("dup", "en", "de", Buffer.from("a,b\na,c\n")));
out.badLanguage = await failure(() => client.createGlossary("bad", "en", "xx", entries));
await client.deleteGlossary(created);
await client.deleteGlossary(csv.glossaryId);
out.afterDelete = await failure(() => client.getGlossaryEntries(created.glossaryId));

// v3: multilingual glossaries (form bodies with dictionaries[n].field).
const m = await client.createMultilingualGlossary("node multi", [
  { sourceLangCode: "en", targetLangCode: "de", entries: new deepl.GlossaryEntries({ entries: { Hello: "Hallo" } }) },
  { sourceLangCode: "de", targetLangCode: "en", entries: new deepl.GlossaryEntries({ entries: { Hallo: "Hello", Apfel: "apple" } }) },
]);
out.multi = multi(m);
out.multiGot = multi(await client.getMultilingualGlossary(m.glossaryId));
out.multiListed = (await client.listMultilingualGlossaries()).map((g) => g.glossaryId);
const dict = await client.getMultilingualGlossaryDictionaryEntries(m, "de", "en");
out.multiEntries = { source: dict.sourceLangCode, target: dict.targetLangCode, entries: dict.entries.entries() };
out.updated = multi(await client.updateMultilingualGlossaryDictionary(m, {
  sourceLangCode: "en", targetLangCode: "de", entries: new deepl.GlossaryEntries({ entries: { Apple: "Apfel" } }) }));
out.renamed = multi(await client.updateMultilingualGlossaryName(m, "node multi renamed"));
const replaced = await client.replaceMultilingualGlossaryDictionary(m, {
  sourceLangCode: "en", targetLangCode: "de", entries: new deepl.GlossaryEntries({ entries: { Pear: "Birne" } }) });
out.replaced = { source: replaced.sourceLangCode, target: replaced.targetLangCode, entryCount: replaced.entryCount };
out.replacedEntries = (await client.getMultilingualGlossaryDictionaryEntries(m, "en", "de")).entries.entries();
await client.deleteMultilingualGlossaryDictionary(m, "de", "en");
out.afterDictionaryDelete = multi(await client.getMultilingualGlossary(m.glossaryId));
out.missingDictionary = await failure(() => client.getMultilingualGlossaryDictionaryEntries(m, "de", "en"));
const mcsv = await client.createMultilingualGlossaryWithCsv("node multi csv", "fr", "en", "pomme,apple\npoire,pear\n");
out.multiCsv = multi(mcsv);
out.otherMulti = await failure(() => other.getMultilingualGlossary(m.glossaryId));
await client.deleteMultilingualGlossary(m);
await client.deleteMultilingualGlossary(mcsv.glossaryId);
out.multiAfterDelete = await failure(() => client.getMultilingualGlossary(m.glossaryId));
out.wrongKey = await failure(() => new deepl.DeepLClient("wrong-key", options).listGlossaries());
console.log(JSON.stringify(out));
