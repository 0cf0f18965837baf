-- Migration number: 0003 	 2026-12-20T12:00:00.000Z
-- DeepL glossaries, per key (the key's SHA-256 hash as the usage table has it, never the key itself):
-- src/gateway/glossaries.py. D1 runs one statement at a time and has no transactions across them, so a
-- glossary and its dictionaries live in ONE table and every change is one statement: a glossary's own
-- row (source_lang = '' and target_lang = '': its name and creation time) and one row per dictionary
-- (a language pair and its entries as tab-separated values). Creating a glossary inserts its rows in
-- one INSERT that also checks the key's cap on glossaries; deleting it is one DELETE.
CREATE TABLE IF NOT EXISTS glossaries (
  seq INTEGER PRIMARY KEY,                    -- insertion order (dictionaries are listed in it)
  id TEXT NOT NULL,                           -- the glossary's UUID, as DeepL's
  source_lang TEXT NOT NULL,                  -- DeepL's code, lower case ('nb', 'zh'); '' on the glossary's row
  target_lang TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',              -- the glossary's row only
  creation_time TEXT NOT NULL DEFAULT '',     -- ISO 8601, UTC, milliseconds; the glossary's row only
  entry_count INTEGER NOT NULL DEFAULT 0,
  entry_bytes INTEGER NOT NULL DEFAULT 0,     -- UTF-8 bytes of `entries` (the caps are on the sums)
  entries TEXT NOT NULL DEFAULT '',           -- "source<TAB>target" lines, joined by newlines
  UNIQUE (id, source_lang, target_lang)
);
CREATE INDEX IF NOT EXISTS glossaries_by_key ON glossaries (key_hash, source_lang);
