-- Migration number: 0001 	 2026-11-25T14:00:00.000Z
-- Usage per key (a SHA-256 hash, never the key itself), UTC day and model.
-- Each request adds to its rows with one INSERT ... ON CONFLICT ... DO UPDATE (src/gateway/usage.py).
CREATE TABLE IF NOT EXISTS usage (
  key_hash TEXT NOT NULL,
  day TEXT NOT NULL,                          -- YYYY-MM-DD, UTC
  model TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,        -- client requests that used the model
  ai_calls INTEGER NOT NULL DEFAULT 0,        -- Workers AI calls made for them
  neurons REAL NOT NULL DEFAULT 0,            -- estimated from Cloudflare's published prices
  cache_hits INTEGER NOT NULL DEFAULT 0,      -- translated lines answered from the cache
  neurons_saved REAL NOT NULL DEFAULT 0,      -- what those lines would have cost
  characters INTEGER NOT NULL DEFAULT 0,      -- characters sent to translation (DeepL /v2/usage)
  PRIMARY KEY (key_hash, day, model)
);
CREATE INDEX IF NOT EXISTS usage_by_day ON usage (day);
