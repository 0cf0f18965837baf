"""DeepL glossaries, kept per key in the usage database (D1): parsing, validation, storage.

- A glossary has a name and one or more dictionaries, each a language pair (DeepL's codes, lower
  case: "en", "nb") with its entries, source term → target term. DeepL's v2 endpoints see a glossary
  with one dictionary; the v3 ones any (endpoints/glossaries.py speaks both).
- Entries come as tab- or comma-separated values and are checked as DeepL checks them: one entry a
  line, terms trimmed, none empty, no control character or line break inside a term, no source term
  twice, at most MAX_TERM_BYTES each. They are stored as tab-separated values.
- Caps: MAX_ENTRIES entries and MAX_ENTRIES_BYTES bytes of entries per glossary, MAX_DICTIONARIES
  language pairs per glossary, MAX_GLOSSARIES glossaries per key; each refused with its own 400.
- Rows are keyed by the key's hash (usage.key_hash, as the usage table has it), so one key never
  sees, changes or deletes another's glossary: to it, that glossary does not exist.
- Every change is one statement (migrations/0003_glossaries.sql says why), and any failure of the
  database, or its absence, refuses the request (503): nothing is served from a guess.

`entries_for` is what translation calls: the entries of the key's glossary for a language pair.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import languages, usage
from .errors import ApiError
from .platform import Context, Database, DatabaseError

MAX_ENTRIES = 5_000  # per glossary, all dictionaries together
MAX_ENTRIES_BYTES = 1_000_000  # UTF-8 bytes of a glossary's entries as tab-separated values, all together
MAX_GLOSSARIES = 100  # per key
MAX_DICTIONARIES = 16  # language pairs per glossary (a create is one statement: D1 binds 100 parameters at most)
MAX_TERM_BYTES = 1024  # DeepL's limit on a source or target term, and on a glossary's name
MAX_NAME_BYTES = 1024

# DeepL's glossary languages (GlossarySourceLanguage in its description): the 33 it translates,
# which are the ones the gateway translates (languages.DEEPL_TO_M2M100), in lower case.
LANGUAGES: tuple[str, ...] = tuple(sorted(code.lower() for code in languages.DEEPL_TO_M2M100))
ENTRIES_FORMATS = ("tsv", "csv")

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LINE_BREAK = re.compile(r"\r\n|\n|\r")
# What a term may not hold (DeepL's rule, as its clients check it too): C0 and C1 control characters
# (tabs and line breaks among them) and Unicode's line and paragraph separators.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

INVALID_ENTRIES = "Invalid glossary entries provided"


class GlossaryError(ApiError):
    """A DeepL glossary error: `message`, and the `detail` DeepL's glossary answers carry
    (`{"message": "Invalid glossary entries provided", "detail": "Key with the index 1 ..."}`).

    Only DeepL's routes raise it (the glossary endpoints and /v2/translate), whose envelopes show the
    message and the detail alone: an error type, code or param would reach no client and no log."""

    def __init__(self, status: int, message: str, detail: str | None = None, *, code: str | None = None,
                 param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(status, message, code=code, param=param, headers=headers)
        self.detail = detail

    def deepl_body(self) -> dict:
        return {"message": self.message, **({"detail": self.detail} if self.detail else {})}


def bad_request(message: str, detail: str | None = None, *, code: str | None = None,
                param: str | None = None) -> GlossaryError:
    return GlossaryError(400, message, detail, code=code, param=param)


def not_found(what: str = "Glossary") -> GlossaryError:
    return GlossaryError(404, f"{what} not found")


def unavailable(missing: bool = False) -> GlossaryError:
    if missing:
        return GlossaryError(503, "Glossaries are kept in the usage database, and this worker has no USAGE_DB D1 "
                             "binding, so they cannot be read or written.")
    return GlossaryError(503, "The glossary store (the usage database) is unavailable; try again shortly.",
                         headers={"Retry-After": "10"})


# --- request values -----------------------------------------------------------------------------------

def parse_id(value) -> str:
    """A glossary id as DeepL's (a UUID), lower case. Anything else names no glossary: 404, as DeepL's
    description lists no 400 for some operations on a glossary id (GET /v3/glossaries/{id})."""
    if not isinstance(value, str) or not _UUID.fullmatch(value.strip()):
        raise not_found()
    return value.strip().lower()


def new_id() -> str:
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


def _language_code(value) -> str | None:
    """DeepL's code in lower case for a glossary language ("en", "nb"; regional variants name their
    language, EN-GB is en, as DeepL's glossaries are not regional); None for anything else."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper().replace("_", "-")
    code = languages.VARIANTS.get(code, code)
    return code.lower() if code in languages.DEEPL_TO_M2M100 else None


def language(value, param: str) -> str:
    """A glossary language (`_language_code`); 400 naming `param` when it is missing or none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise bad_request(f"Parameter '{param}' not specified")
    code = _language_code(value)
    if code is None:
        raise bad_request(f"Value for '{param}' not supported.", f"Glossary languages: {', '.join(LANGUAGES)}.")
    return code


def language_pair(source, target) -> tuple[str, str]:
    pair = language(source, "source_lang"), language(target, "target_lang")
    if pair[0] == pair[1]:
        raise bad_request("Unsupported glossary source and target language pair",
                          "The source and target languages must differ.")
    return pair


def name(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request("Missing or invalid argument: name", "A glossary needs a name (a non-empty string).")
    if len(value.encode("utf-8")) > MAX_NAME_BYTES:
        raise bad_request("Missing or invalid argument: name", f"A glossary's name is at most {MAX_NAME_BYTES} "
                          "bytes (UTF-8).")
    return value


def entries_format(value) -> str:
    if value is None or value == "":
        return "tsv"  # DeepL's default
    if not isinstance(value, str) or value.strip().lower() not in ENTRIES_FORMATS:
        raise bad_request("Value for 'entries_format' not supported.", "Entries formats: tsv, csv.")
    return value.strip().lower()


# --- entries ------------------------------------------------------------------------------------------

@dataclass
class Dictionary:
    """One language pair of a glossary and its entries (source term → target term, in their order)."""

    source: str
    target: str
    entries: dict[str, str] = field(default_factory=dict)

    @property
    def tsv(self) -> str:
        return "\n".join(f"{source}\t{target}" for source, target in self.entries.items())


def _where(index: int, position: int | None, line: int | None = None) -> str:
    if position is not None:
        return f"Key with the index {index} (starting at position {position})"
    return f"Key with the index {index} (on line {line})"


def _invalid(detail: str) -> GlossaryError:
    return bad_request(INVALID_ENTRIES, detail)


def _term(value: str, which: str, where: str) -> str:
    term = value.strip()
    if not term:
        raise _invalid(f"{where} has an empty {which} term.")
    if _FORBIDDEN.search(term):
        raise _invalid(f"{where} has a control character or a line break in its {which} term.")
    if len(term.encode("utf-8")) > MAX_TERM_BYTES:
        raise _invalid(f"{where} has a {which} term longer than {MAX_TERM_BYTES} bytes (UTF-8).")
    return term


def _add(entries: dict[str, str], places: dict[str, str], source: str, target: str, where: str) -> None:
    if source in entries:
        first = places[source]
        raise _invalid(f"{where} duplicates {first[0].lower()}{first[1:]}")
    entries[source] = target
    places[source] = where


def parse_tsv(text: str) -> dict[str, str]:
    """Tab-separated entries, one a line (`\\n`, `\\r\\n` or `\\r`): blank lines are skipped; each other
    line is a source term, a tab and a target term (each trimmed of white space; tabs after the target
    term are ignored)."""
    entries: dict[str, str] = {}
    places: dict[str, str] = {}
    index = 0
    text = text.removeprefix("\ufeff")
    for start, end in _line_spans(text):
        line = text[start:end]
        if not line.strip():
            continue
        where = _where(index, start)
        parts = line.split("\t")
        while len(parts) > 2 and not parts[-1].strip():
            parts.pop()  # trailing tabs, as a spreadsheet may save them
        if len(parts) < 2:
            raise _invalid(f"{where} misses tab separator")
        if len(parts) > 2:
            raise _invalid(f"{where} contains more than one tab separator")
        _add(entries, places, _term(parts[0], "source", where), _term(parts[1], "target", where), where)
        index += 1
    return entries


def _line_spans(text: str):
    start = 0
    for found in _LINE_BREAK.finditer(text):
        yield start, found.start()
        start = found.end()
    yield start, len(text)


def parse_csv(text: str, source: str, target: str) -> dict[str, str]:
    """Comma-separated entries (RFC 4180: a field with a comma, a quote or a line break is quoted, a
    quote inside one doubled): a source and a target term a row, optionally followed by their
    languages (which must then be the dictionary's). Blank rows are skipped."""
    entries: dict[str, str] = {}
    places: dict[str, str] = {}
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    index = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise _invalid(f"The CSV is malformed on line {reader.line_num}: {error}.") from None
        if not any(cell.strip() for cell in row):
            continue
        where = _where(index, None, reader.line_num)
        if len(row) not in (2, 4):
            raise _invalid(f"{where} has {len(row)} columns; an entry is a source and a target term, optionally "
                           "followed by their languages (4 columns).")
        if len(row) == 4:
            pair = (_language_code(row[2]), _language_code(row[3]))
            if pair != (source, target):
                raise _invalid(f"{where} is for {row[2].strip()} → {row[3].strip()}, not for this dictionary's "
                               f"{source} → {target}.")
        _add(entries, places, _term(row[0], "source", where), _term(row[1], "target", where), where)
        index += 1
    return entries


def parse_entries(text, fmt: str, source: str, target: str) -> Dictionary:
    """One dictionary's entries in `fmt` ("tsv" or "csv"); 400 for anything DeepL would refuse."""
    if text is None:
        raise bad_request("Parameter 'entries' not specified")
    if not isinstance(text, str):
        raise bad_request("Missing or invalid argument: entries", "`entries` is a string of tab- or comma-separated "
                          "values.")
    entries = parse_tsv(text) if fmt == "tsv" else parse_csv(text, source, target)
    if not entries:
        raise _invalid("The glossary has no entries.")
    return Dictionary(source, target, entries)


def check_caps(dictionaries: list[Dictionary]) -> None:
    """A glossary's caps, over the dictionaries it would hold."""
    if len(dictionaries) > MAX_DICTIONARIES:
        raise too_many_dictionaries()
    count = sum(len(d.entries) for d in dictionaries)
    if count > MAX_ENTRIES:
        raise too_many_entries(count)
    size = sum(len(d.tsv.encode("utf-8")) for d in dictionaries)
    if size > MAX_ENTRIES_BYTES:
        raise too_large(size)


def too_many_entries(count: int) -> GlossaryError:
    return bad_request("Glossary too large", f"A glossary holds at most {MAX_ENTRIES} entries (all its dictionaries "
                       f"together); this one would hold {count}.")


def too_large(size: int) -> GlossaryError:
    return bad_request("Glossary too large", f"A glossary's entries take at most {MAX_ENTRIES_BYTES} bytes (UTF-8, as "
                       f"tab-separated values, all its dictionaries together); these would take {size}.")


def too_many_dictionaries() -> GlossaryError:
    return bad_request("Too many dictionaries", f"A glossary holds at most {MAX_DICTIONARIES} dictionaries "
                       "(language pairs).")


def too_many_glossaries() -> GlossaryError:
    return bad_request("Too many glossaries", f"A key keeps at most {MAX_GLOSSARIES} glossaries; delete one to "
                       "create another.")


# --- what is stored -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DictionaryInfo:
    source: str
    target: str
    entry_count: int


@dataclass
class Glossary:
    id: str
    name: str
    creation_time: str
    dictionaries: list[DictionaryInfo]


def creation_time(epoch: float) -> str:
    """ISO 8601 in UTC with milliseconds, as DeepL's `creation_time` ("2021-08-03T14:16:18.329Z")."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


_COLUMNS = "id, source_lang, target_lang, key_hash, name, creation_time, entry_count, entry_bytes, entries"
_OTHERS = "NOT (source_lang = ?3 AND target_lang = ?4)"
LIST_SQL = ("SELECT id, source_lang, target_lang, name, creation_time, entry_count FROM glossaries "
            "WHERE key_hash = ?1 ORDER BY seq")
GET_SQL = ("SELECT id, source_lang, target_lang, name, creation_time, entry_count FROM glossaries "
           "WHERE id = ?1 AND key_hash = ?2 ORDER BY seq")
# A glossary's rows, with the entries of its one pair (?3 → ?4) only, or of every pair (?3 = '*').
ENTRIES_SQL = ("SELECT source_lang, target_lang, name, creation_time, entry_count, CASE WHEN ?3 = '*' OR "
               "(source_lang = ?3 AND target_lang = ?4) THEN entries ELSE '' END AS entries FROM glossaries "
               "WHERE id = ?1 AND key_hash = ?2 ORDER BY seq")
DELETE_SQL = "DELETE FROM glossaries WHERE id = ?1 AND key_hash = ?2"
DELETE_DICTIONARY_SQL = ("DELETE FROM glossaries WHERE id = ?1 AND key_hash = ?2 AND source_lang = ?3 "
                         "AND target_lang = ?4 AND source_lang <> ''")
RENAME_SQL = "UPDATE glossaries SET name = ?3 WHERE id = ?1 AND key_hash = ?2 AND source_lang = ''"
# A dictionary added or replaced, in one statement: only while the glossary is the key's and the
# glossary's caps hold with it (its other dictionaries, and this one's new entries).
PUT_SQL = (
    f"INSERT INTO glossaries ({_COLUMNS}) SELECT ?1, ?3, ?4, ?2, '', '', ?5, ?6, ?7 FROM glossaries "
    "WHERE id = ?1 AND key_hash = ?2 AND source_lang = '' "
    f"AND (SELECT COUNT(*) FROM glossaries WHERE id = ?1 AND source_lang <> '' AND {_OTHERS}) < ?8 "
    f"AND (SELECT COALESCE(SUM(entry_count), 0) FROM glossaries WHERE id = ?1 AND {_OTHERS}) + ?5 <= ?9 "
    f"AND (SELECT COALESCE(SUM(entry_bytes), 0) FROM glossaries WHERE id = ?1 AND {_OTHERS}) + ?6 <= ?10 "
    "ON CONFLICT (id, source_lang, target_lang) DO UPDATE SET entry_count = excluded.entry_count, "
    "entry_bytes = excluded.entry_bytes, entries = excluded.entries"
)
# What a glossary's other dictionaries (not ?2 → ?3) hold: why a PUT_SQL was refused.
SUMS_SQL = ("SELECT COUNT(*) AS dictionaries, COALESCE(SUM(entry_count), 0) AS entries, COALESCE(SUM(entry_bytes), 0) "
            "AS bytes FROM glossaries WHERE id = ?1 AND source_lang <> '' AND NOT (source_lang = ?2 AND target_lang = ?3)")


def create_sql(dictionaries: int) -> str:
    """A glossary's row and its dictionaries' in one INSERT, made only while the key (?2) has fewer
    than ?5 glossaries. ?1 id, ?3 name, ?4 creation time; then 5 per dictionary."""
    rows = ["(?1, '', '', ?3, ?4, 0, 0, '')"]
    for n in range(dictionaries):
        p = 6 + 5 * n
        rows.append(f"(?1, ?{p}, ?{p + 1}, '', '', ?{p + 2}, ?{p + 3}, ?{p + 4})")
    return (f"INSERT INTO glossaries ({_COLUMNS}) SELECT column1, column2, column3, ?2, column4, column5, column6, "
            f"column7, column8 FROM (VALUES {', '.join(rows)}) "
            "WHERE (SELECT COUNT(*) FROM glossaries WHERE key_hash = ?2 AND source_lang = '') < ?5")


def _glossaries(rows: list[dict]) -> list[Glossary]:
    """Rows (ordered by seq) as glossaries: each glossary's own row comes before its dictionaries'."""
    found: dict[str, Glossary] = {}
    for row in rows:
        if row["source_lang"] == "":
            found[row["id"]] = Glossary(row["id"], row["name"], row["creation_time"], [])
        elif row["id"] in found:
            found[row["id"]].dictionaries.append(
                DictionaryInfo(row["source_lang"], row["target_lang"], int(row["entry_count"])))
    return list(found.values())


class Store:
    """One key's glossaries in the database."""

    def __init__(self, database: Database, key_hash: str):
        self.database = database
        self.key_hash = key_hash

    async def _query(self, sql: str, params: list) -> list[dict]:
        try:
            return await self.database.query(sql, params)
        except DatabaseError as error:
            print(f"glossary query failed: {error}")
            raise unavailable() from None

    async def _changes(self, sql: str, params: list) -> int:
        try:
            return await self.database.changes(sql, params)
        except DatabaseError as error:
            print(f"glossary write failed: {error}")
            raise unavailable() from None

    async def create(self, glossary_name: str, dictionaries: list[Dictionary], epoch: float) -> Glossary:
        if not dictionaries:
            raise bad_request("Glossary dictionaries must be provided")
        pairs = [(d.source, d.target) for d in dictionaries]
        if len(set(pairs)) != len(pairs):
            raise bad_request("Duplicate dictionaries", "A glossary holds one dictionary per language pair.")
        check_caps(dictionaries)
        glossary = Glossary(new_id(), glossary_name, creation_time(epoch),
                            [DictionaryInfo(d.source, d.target, len(d.entries)) for d in dictionaries])
        params: list = [glossary.id, self.key_hash, glossary_name, glossary.creation_time, MAX_GLOSSARIES]
        for d in dictionaries:
            tsv = d.tsv
            params += [d.source, d.target, len(d.entries), len(tsv.encode("utf-8")), tsv]
        if await self._changes(create_sql(len(dictionaries)), params) == 0:
            raise too_many_glossaries()
        return glossary

    async def list(self) -> list[Glossary]:
        return _glossaries(await self._query(LIST_SQL, [self.key_hash]))

    async def get(self, glossary_id: str) -> Glossary:
        found = _glossaries(await self._query(GET_SQL, [glossary_id, self.key_hash]))
        if not found:
            raise not_found()
        return found[0]

    async def delete(self, glossary_id: str) -> None:
        if await self._changes(DELETE_SQL, [glossary_id, self.key_hash]) == 0:
            raise not_found()

    async def rename(self, glossary_id: str, glossary_name: str) -> None:
        if await self._changes(RENAME_SQL, [glossary_id, self.key_hash, glossary_name]) == 0:
            raise not_found()

    async def entries(self, glossary_id: str, pair: tuple[str, str] | None = None) -> tuple[Glossary, dict]:
        """The glossary and its dictionaries' entries as TSV by pair: of `pair` only, or of all."""
        source, target = pair or ("*", "*")
        rows = await self._query(ENTRIES_SQL, [glossary_id, self.key_hash, source, target])
        found = _glossaries([{**row, "id": glossary_id} for row in rows])
        if not found:
            raise not_found()
        texts = {(row["source_lang"], row["target_lang"]): row["entries"] for row in rows
                 if row["source_lang"] and (pair is None or (row["source_lang"], row["target_lang"]) == pair)}
        return found[0], texts

    async def put_dictionary(self, glossary_id: str, dictionary: Dictionary, *, merge: bool = False) -> DictionaryInfo:
        """Adds the dictionary, or replaces the one of its pair (`merge`: adds its entries to that one's,
        replacing those of the same source term, as DeepL's PATCH does). The statement itself holds the
        glossary's caps; when it refuses, the glossary's figures (its other dictionaries and this one)
        say which cap."""
        if merge:
            _, texts = await self.entries(glossary_id, (dictionary.source, dictionary.target))
            old = texts.get((dictionary.source, dictionary.target))
            if old:
                dictionary = Dictionary(dictionary.source, dictionary.target, {**parse_tsv(old), **dictionary.entries})
        # A dictionary over a cap on its own never goes to the database, which takes no string over
        # 2 MB (D1's limit; a body may bring 3): a 400, not the 503 of a failed statement.
        check_caps([dictionary])
        tsv = dictionary.tsv
        size = len(tsv.encode("utf-8"))
        params = [glossary_id, self.key_hash, dictionary.source, dictionary.target, len(dictionary.entries), size, tsv,
                  MAX_DICTIONARIES, MAX_ENTRIES, MAX_ENTRIES_BYTES]
        if await self._changes(PUT_SQL, params) == 0:
            await self.get(glossary_id)  # 404 when it is not the key's
            (sums,) = await self._query(SUMS_SQL, [glossary_id, dictionary.source, dictionary.target])
            if int(sums["dictionaries"]) >= MAX_DICTIONARIES:
                raise too_many_dictionaries()
            if int(sums["entries"]) + len(dictionary.entries) > MAX_ENTRIES:
                raise too_many_entries(int(sums["entries"]) + len(dictionary.entries))
            raise too_large(int(sums["bytes"]) + size)
        return DictionaryInfo(dictionary.source, dictionary.target, len(dictionary.entries))

    async def delete_dictionary(self, glossary_id: str, pair: tuple[str, str]) -> None:
        if await self._changes(DELETE_DICTIONARY_SQL, [glossary_id, self.key_hash, *pair]) == 0:
            await self.get(glossary_id)
            raise not_found("Dictionary")


def store(ctx: Context) -> Store:
    """The calling key's glossaries; 503 when the worker has no usage database."""
    database = ctx.platform.database
    if database is None:
        raise unavailable(missing=True)
    hashed = ctx.meter.hashed if ctx.meter is not None else None
    if hashed is None:  # every glossary route and translation route has a credential
        raise RuntimeError("a glossary was asked for without a credential")  # a bug: the log gets the traceback
    return Store(database, hashed)


def now(ctx: Context) -> float:
    return usage.now(ctx)


async def entries_for(ctx: Context, glossary_id: str, source: str, target: str) -> dict[str, str]:
    """The entries (source term → target term) of the calling key's glossary `glossary_id` for
    translating `source` → `target` (m2m100 codes, as languages.to_m2m100 gives them).

    404 "Glossary not found" when the key has no such glossary (whatever the id); 400 when it has no
    dictionary for that pair; 503 when the database is missing or fails.
    """
    wanted = (languages.to_deepl(source).lower(), languages.to_deepl(target).lower())
    glossary, texts = await store(ctx).entries(parse_id(glossary_id), wanted)
    if wanted not in texts:
        pairs = ", ".join(f"{d.source} → {d.target}" for d in glossary.dictionaries) or "none"
        raise bad_request("Glossary language pair does not match the request",
                          f"The glossary has no dictionary for {wanted[0]} → {wanted[1]} (its pairs: {pairs}).")
    return parse_tsv(texts[wanted])

