-- Migration number: 0002 	 2026-12-06T12:00:00.000Z
-- Budgets that hold under concurrency: reserve before a call, settle after it (src/gateway/ledger.py).

-- What requests in flight hold against a key's day: one row per reservation, made by one conditional
-- INSERT that succeeds only while spent + held + this stays within the cap (neurons a day; for the
-- DeepL character limit, characters a month). Deleted when the request settles.
CREATE TABLE IF NOT EXISTS reservations (
  id TEXT PRIMARY KEY,                        -- <settlement id>:<n>
  key_hash TEXT NOT NULL,
  day TEXT NOT NULL,                          -- YYYY-MM-DD, UTC
  neurons REAL NOT NULL DEFAULT 0,
  characters INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS reservations_by_key ON reservations (key_hash, day);

-- One row per request and model: inserting it adds the request to `usage` and releases the request's
-- reservations, in the one statement (the trigger below). Its key makes a retried write count once.
CREATE TABLE IF NOT EXISTS settlements (
  id TEXT NOT NULL,
  model TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  day TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  ai_calls INTEGER NOT NULL DEFAULT 0,
  neurons REAL NOT NULL DEFAULT 0,
  cache_hits INTEGER NOT NULL DEFAULT 0,
  neurons_saved REAL NOT NULL DEFAULT 0,
  characters INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (id, model)
);
CREATE INDEX IF NOT EXISTS settlements_by_day ON settlements (day);

CREATE TRIGGER IF NOT EXISTS settle AFTER INSERT ON settlements
BEGIN
  INSERT INTO usage (key_hash, day, model, requests, ai_calls, neurons, cache_hits, neurons_saved, characters)
  VALUES (NEW.key_hash, NEW.day, NEW.model, NEW.requests, NEW.ai_calls, NEW.neurons, NEW.cache_hits, NEW.neurons_saved, NEW.characters)
  ON CONFLICT (key_hash, day, model) DO UPDATE SET
    requests = requests + excluded.requests,
    ai_calls = ai_calls + excluded.ai_calls,
    neurons = neurons + excluded.neurons,
    cache_hits = cache_hits + excluded.cache_hits,
    neurons_saved = neurons_saved + excluded.neurons_saved,
    characters = characters + excluded.characters;
  -- The request's reservations: ids "<settlement id>:<n>" (":" and ";" are neighbours in ASCII).
  DELETE FROM reservations WHERE id > NEW.id || ':' AND id < NEW.id || ';';
  -- A retried write comes within minutes: two days of settlement ids are plenty.
  DELETE FROM settlements WHERE day < date(NEW.day, '-2 days');
END;
