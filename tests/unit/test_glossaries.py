"""DeepL glossaries: entries parsed and checked as DeepL does, the caps, the storage on SQLite (D1 is
SQLite; the migrations run as written) through the same Database protocol, `entries_for` as translation
calls it, and the endpoints through the pipeline."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from fakes import SqliteDatabase, make_platform, make_request, run
from gateway import glossaries, usage
from gateway.app import handle
from gateway.glossaries import Dictionary, GlossaryError, Store
from gateway.platform import Context, DatabaseError

KEY, OTHER = "h" * 64, "o" * 64
EPOCH = 1_767_268_800.25  # 2026-01-01T12:00:00.250Z


def raises(call, status: int, *words: str) -> GlossaryError:
    with pytest.raises(GlossaryError) as raised:
        call()
    error = raised.value
    assert error.status == status, (error.status, error.deepl_body())
    text = json.dumps(error.deepl_body(), ensure_ascii=False)
    assert all(word in text for word in words), text
    return error


# --- TSV -------------------------------------------------------------------------------------------------


def test_tsv_entries_one_a_line_any_line_break_blank_lines_skipped_terms_trimmed():
    text = "\ufeffHello\tHallo\r\n\n  Good morning \t Guten Morgen  \rbye\ttschüss\n\n"
    assert glossaries.parse_tsv(text) == {"Hello": "Hallo", "Good morning": "Guten Morgen", "bye": "tschüss"}


def test_tsv_keeps_the_order_and_unicode():
    entries = {"A%=&": "B&=%", "\u0394\u3041": "\u6df1", "\U0001faa8": "\U0001fab5", "Apple": "Apfel"}
    tsv = "\n".join(f"{s}\t{t}" for s, t in entries.items())
    assert list(glossaries.parse_tsv(tsv).items()) == list(entries.items())
    assert Dictionary("en", "de", entries).tsv == tsv


def test_a_duplicate_source_term_is_refused_with_deepls_words_and_positions():
    error = raises(lambda: glossaries.parse_tsv("Hello\tHallo\nbye\tciao\nHello\tServus"), 400)
    assert error.deepl_body() == {
        "message": "Invalid glossary entries provided",
        "detail": "Key with the index 2 (starting at position 21) duplicates key with the index 0 (starting at position 0)",
    }
    # Different case is a different term; a duplicate target is fine.
    assert glossaries.parse_tsv("Hello\tHallo\nhello\tHallo") == {"Hello": "Hallo", "hello": "Hallo"}


@pytest.mark.parametrize("text, words", [
    ("Hello Hallo", "misses tab separator"),
    ("a\tb\tc", "contains more than one tab separator"),
    ("\tHallo", "has an empty source term"),
    ("Hello\t \u3000", "has an empty target term"),
    ("He\x07llo\tHallo", "control character"),
    ("Hello\tHal\u2028lo", "control character"),
    ("Hello\tHal\x85lo", "control character"),
    ("x" * 1025 + "\ty", "longer than 1024 bytes"),
    ("ü" * 513 + "\ty", "longer than 1024 bytes"),
])
def test_bad_tsv_entries_are_refused(text, words):
    error = raises(lambda: glossaries.parse_tsv(text), 400, "Invalid glossary entries provided")
    assert error.detail.startswith("Key with the index 0 (starting at position 0) ") and words in error.detail


def test_a_term_of_exactly_1024_bytes_and_trailing_tabs_are_fine():
    assert glossaries.parse_tsv("ü" * 512 + "\ty") == {"ü" * 512: "y"}
    assert glossaries.parse_tsv("a\tb\t\t\nc\td") == {"a": "b", "c": "d"}


def test_the_errors_place_is_its_entry_and_where_its_line_starts():
    error = raises(lambda: glossaries.parse_tsv("a\tb\r\n\r\nc\t"), 400)
    assert error.detail == "Key with the index 1 (starting at position 7) has an empty target term."


# --- CSV -------------------------------------------------------------------------------------------------


def test_csv_entries_quoted_as_rfc_4180_with_optional_languages():
    text = 'Hello,Hallo\r\n"Good, morning","Guten ""Morgen"""\n\napple,Apfel,EN,DE\nbye , tschüss ,en,de\n'
    assert glossaries.parse_csv(text, "en", "de") == {
        "Hello": "Hallo", "Good, morning": 'Guten "Morgen"', "apple": "Apfel", "bye": "tschüss"}


@pytest.mark.parametrize("text, words", [
    ("Hello,Hallo,EN,FR", "is for EN → FR, not for this dictionary's en → de"),
    ("Hello,Hallo,EN", "has 3 columns"),
    ("Hello", "has 1 columns"),
    ('Hello,"Hal\nlo"', "control character"),
    ('Hello,"Hallo', "malformed"),
    ("Hello,Hallo\nHello,Servus", "Key with the index 1 (on line 2) duplicates key with the index 0 (on line 1)"),
    ("Hello,", "Key with the index 0 (on line 1) has an empty target term."),
    (",Hallo", "Key with the index 0 (on line 1) has an empty source term."),
])
def test_bad_csv_entries_are_refused(text, words):
    error = raises(lambda: glossaries.parse_csv(text, "en", "de"), 400, "Invalid glossary entries provided")
    assert words in error.detail


def test_parse_entries_by_format_and_what_is_not_entries():
    assert glossaries.parse_entries("a\tb", "tsv", "en", "de") == Dictionary("en", "de", {"a": "b"})
    assert glossaries.parse_entries("a,b", "csv", "en", "de").entries == {"a": "b"}
    raises(lambda: glossaries.parse_entries("a\tb", "csv", "en", "de"), 400, "has 1 columns")
    raises(lambda: glossaries.parse_entries("\n \n", "tsv", "en", "de"), 400, "has no entries")
    raises(lambda: glossaries.parse_entries(None, "tsv", "en", "de"), 400, "Parameter 'entries' not specified")
    raises(lambda: glossaries.parse_entries({"a": "b"}, "tsv", "en", "de"), 400, "entries")


# --- the other fields -----------------------------------------------------------------------------------


def test_languages_are_deepls_codes_in_lower_case_variants_naming_their_language():
    assert glossaries.language("EN", "source_lang") == "en"
    assert glossaries.language("en-GB", "target_lang") == "en"
    assert glossaries.language("PT-BR", "target_lang") == "pt"
    assert glossaries.language("zh-hant", "target_lang") == "zh"
    assert glossaries.language("NB", "target_lang") == "nb" == glossaries.language("no", "target_lang")
    assert len(glossaries.LANGUAGES) == 33 and "nb" in glossaries.LANGUAGES
    raises(lambda: glossaries.language("XX", "target_lang"), 400, "Value for 'target_lang' not supported.")
    raises(lambda: glossaries.language("hi", "target_lang"), 400, "not supported")  # m2m100 has it, DeepL not
    raises(lambda: glossaries.language(None, "source_lang"), 400, "Parameter 'source_lang' not specified")
    raises(lambda: glossaries.language(7, "source_lang"), 400, "not supported")
    raises(lambda: glossaries.language_pair("EN", "en-us"), 400, "Unsupported glossary source and target language pair")
    assert glossaries.language_pair("de", "EN-US") == ("de", "en")


def test_name_format_and_id():
    assert glossaries.name("My Glossary") == "My Glossary"
    raises(lambda: glossaries.name(""), 400, "name")
    raises(lambda: glossaries.name(None), 400, "name")
    raises(lambda: glossaries.name("ü" * 513), 400, "1024 bytes")
    assert glossaries.entries_format(None) == "tsv" and glossaries.entries_format("CSV") == "csv"
    raises(lambda: glossaries.entries_format("xlsx"), 400, "Value for 'entries_format' not supported.")
    assert glossaries.parse_id("DEF3A26B-3E84-45B3-84AE-0C0AAF3525F7") == "def3a26b-3e84-45b3-84ae-0c0aaf3525f7"
    raises(lambda: glossaries.parse_id("invalid_glossary_id"), 404, "Glossary not found")
    made = {glossaries.new_id() for _ in range(50)}
    assert len(made) == 50 and all(glossaries.parse_id(i) == i for i in made)
    # Random UUIDs (version 4), as DeepL's glossary ids are.
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 for i in made)


def test_a_name_takes_1024_bytes_and_not_one_more():
    assert glossaries.name("x" * 1024) == "x" * 1024
    assert glossaries.name("ü" * 512) == "ü" * 512
    for longer in ("x" * 1025, "ü" * 512 + "x"):
        error = raises(lambda: glossaries.name(longer), 400)
        assert error.deepl_body() == {"message": "Missing or invalid argument: name",
                                      "detail": "A glossary's name is at most 1024 bytes (UTF-8)."}
    assert raises(lambda: glossaries.name("  "), 400).deepl_body() == {
        "message": "Missing or invalid argument: name", "detail": "A glossary needs a name (a non-empty string)."}


def test_language_codes_with_an_underscore_and_each_sides_own_message():
    assert glossaries.language("pt_br", "target_lang") == "pt"
    assert glossaries.language(" zh_Hant ", "target_lang") == "zh"
    assert glossaries.language_pair("EN_GB", "de") == ("en", "de")
    assert raises(lambda: glossaries.language_pair(None, "de"), 400).deepl_body() == {
        "message": "Parameter 'source_lang' not specified"}
    assert raises(lambda: glossaries.language_pair("en", " "), 400).deepl_body() == {
        "message": "Parameter 'target_lang' not specified"}
    listed = "Glossary languages: " + ", ".join(glossaries.LANGUAGES) + "."
    for value in ("XX", 7, ["en"]):
        assert raises(lambda: glossaries.language_pair(value, "de"), 400).deepl_body() == {
            "message": "Value for 'source_lang' not supported.", "detail": listed}
    assert raises(lambda: glossaries.language_pair("en", "EN-US"), 400).deepl_body() == {
        "message": "Unsupported glossary source and target language pair",
        "detail": "The source and target languages must differ."}
    # A CSV row's languages are read the same way, and must be the dictionary's.
    assert glossaries.parse_csv("a,b,en_GB,DE\nc,d,EN-US,de", "en", "de") == {"a": "b", "c": "d"}
    error = raises(lambda: glossaries.parse_csv("a,b,,de", "en", "de"), 400, "is for  → de, not for this dictionary's")
    assert error.deepl_body()["message"] == "Invalid glossary entries provided"


def test_creation_time_is_what_the_deepl_library_parses():
    deepl_util = pytest.importorskip("deepl.util")
    text = glossaries.creation_time(EPOCH)
    assert text == "2026-01-01T12:00:00.250Z"
    assert deepl_util.parse_timestamp(text).timestamp() == EPOCH


# --- caps -----------------------------------------------------------------------------------------------


def entries(n: int, prefix: str = "s") -> dict[str, str]:
    return {f"{prefix}{i}": f"t{i}" for i in range(n)}


def test_caps_on_entries_bytes_and_dictionaries():
    glossaries.check_caps([Dictionary("en", "de", entries(5000))])
    raises(lambda: glossaries.check_caps([Dictionary("en", "de", entries(3000)), Dictionary("de", "en", entries(2001))]),
           400, "Glossary too large", "at most 5000 entries", "would hold 5001")
    # 1000 lines of 1 000 bytes and 999 newlines: 1 000 999 bytes, over; one line fewer fits.
    wide = {f"{i:04d}" + "x" * 994: "y" for i in range(1000)}
    assert len(Dictionary("en", "de", wide).tsv.encode()) == 1_000_999
    raises(lambda: glossaries.check_caps([Dictionary("en", "de", wide)]), 400, "Glossary too large",
           "at most 1000000 bytes", "would take 1000999")
    glossaries.check_caps([Dictionary("en", "de", dict(list(wide.items())[:999]))])
    pairs = [Dictionary("en", target, {"a": "b"}) for target in glossaries.LANGUAGES if target != "en"]
    glossaries.check_caps(pairs[:16])
    raises(lambda: glossaries.check_caps(pairs[:17]), 400, "Too many dictionaries", "at most 16")


def tsv_of(size: int, count: int = 1000, prefix: str = "s") -> dict[str, str]:
    """`count` entries whose TSV takes exactly `size` bytes (UTF-8)."""
    line = (size - (count - 1)) // count  # each line's bytes, its newline aside
    extra = size - (count - 1) - line * count
    made = {}
    for i in range(count):
        head = f"{prefix}{i:05d}"
        made[head + "x" * (line - len(head) - 2 + (extra if i == count - 1 else 0))] = "y"
    assert len(Dictionary("en", "de", made).tsv.encode("utf-8")) == size and len(made) == count
    return made


def too_many_entries(count: int) -> dict:
    return {"message": "Glossary too large", "detail": "A glossary holds at most 5000 entries (all its dictionaries "
            f"together); this one would hold {count}."}


def too_large(size: int) -> dict:
    return {"message": "Glossary too large", "detail": "A glossary's entries take at most 1000000 bytes (UTF-8, as "
            f"tab-separated values, all its dictionaries together); these would take {size}."}


TOO_MANY_DICTIONARIES = {"message": "Too many dictionaries",
                         "detail": "A glossary holds at most 16 dictionaries (language pairs)."}


def test_each_cap_takes_its_limit_and_refuses_one_more():
    glossaries.check_caps([Dictionary("en", "de", entries(2500)), Dictionary("de", "en", entries(2500, "x"))])
    error = raises(lambda: glossaries.check_caps([Dictionary("en", "de", entries(5001))]), 400)
    assert error.deepl_body() == too_many_entries(5001)
    glossaries.check_caps([Dictionary("en", "de", tsv_of(1_000_000))])
    glossaries.check_caps([Dictionary("en", "de", tsv_of(600_000)), Dictionary("de", "en", tsv_of(400_000))])
    error = raises(lambda: glossaries.check_caps([Dictionary("en", "de", tsv_of(1_000_001))]), 400)
    assert error.deepl_body() == too_large(1_000_001)
    error = raises(lambda: glossaries.check_caps([Dictionary("en", "de", tsv_of(600_000)),
                                                  Dictionary("de", "en", tsv_of(400_001))]), 400)
    assert error.deepl_body() == too_large(1_000_001)
    pairs = [Dictionary("en", target, {"a": "b"}) for target in glossaries.LANGUAGES if target != "en"]
    assert raises(lambda: glossaries.check_caps(pairs[:17]), 400).deepl_body() == TOO_MANY_DICTIONARIES


# --- storage ---------------------------------------------------------------------------------------------


def make_store(key=KEY, database=None) -> Store:
    return Store(database or SqliteDatabase(), key)


def test_create_list_get_delete_in_one_statement_each():
    store = make_store()
    db = store.database
    before = len(db.statements)
    made = run(store.create("My Glossary", [Dictionary("en", "de", {"Hello": "Hallo", "bye": "tschüss"})], EPOCH))
    assert len(db.statements) == before + 1  # the glossary and its dictionary: one INSERT
    assert made.name == "My Glossary" and made.creation_time == "2026-01-01T12:00:00.250Z"
    assert [(d.source, d.target, d.entry_count) for d in made.dictionaries] == [("en", "de", 2)]
    assert run(store.get(made.id)) == made
    assert run(store.list()) == [made]
    glossary, texts = run(store.entries(made.id))
    assert texts == {("en", "de"): "Hello\tHallo\nbye\ttschüss"}
    # Stored by the key's hash, never the key; entries as TSV with their sizes.
    rows = db.rows("SELECT key_hash, source_lang, entry_count, entry_bytes FROM glossaries ORDER BY seq")
    assert rows == [{"key_hash": KEY, "source_lang": "", "entry_count": 0, "entry_bytes": 0},
                    {"key_hash": KEY, "source_lang": "en", "entry_count": 2, "entry_bytes": len("Hello\tHallo\nbye\ttschüss".encode())}]
    before = len(db.statements)
    run(store.delete(made.id))
    assert len(db.statements) == before + 1
    assert db.rows("SELECT * FROM glossaries") == []
    raises(lambda: run(store.get(made.id)), 404, "Glossary not found")
    raises(lambda: run(store.delete(made.id)), 404, "Glossary not found")


def test_one_key_never_sees_changes_or_deletes_anothers_glossary():
    db = SqliteDatabase()
    mine, theirs = make_store(KEY, db), make_store(OTHER, db)
    made = run(mine.create("mine", [Dictionary("en", "de", {"a": "b"})], EPOCH))
    assert run(theirs.list()) == []
    raises(lambda: run(theirs.get(made.id)), 404, "Glossary not found")
    raises(lambda: run(theirs.entries(made.id)), 404)
    raises(lambda: run(theirs.delete(made.id)), 404)
    raises(lambda: run(theirs.rename(made.id, "x")), 404)
    raises(lambda: run(theirs.put_dictionary(made.id, Dictionary("de", "en", {"b": "a"}))), 404)
    raises(lambda: run(theirs.delete_dictionary(made.id, ("en", "de"))), 404)
    assert run(mine.get(made.id)) == made  # untouched


def test_another_keys_glossary_is_not_found_and_untouched_by_every_statement():
    db = SqliteDatabase()
    mine, theirs = make_store(KEY, db), make_store(OTHER, db)
    made = run(mine.create("mine", [Dictionary("en", "de", {"Hello": "Hallo"}), Dictionary("de", "en", {"Apfel": "apple"})],
                           EPOCH))
    own = run(theirs.create("theirs", [Dictionary("en", "de", {"a": "b"})], EPOCH))
    everything = "SELECT * FROM glossaries ORDER BY seq"
    before = db.rows(everything)
    # What the other key may ask of the first key's glossary: each statement, each of its ways.
    asked = {
        "get": lambda: theirs.get(made.id),
        "entries": lambda: theirs.entries(made.id),
        "entries of a pair it has": lambda: theirs.entries(made.id, ("en", "de")),
        "delete": lambda: theirs.delete(made.id),
        "rename (PATCH name)": lambda: theirs.rename(made.id, "taken"),
        "merge (PATCH dictionaries)": lambda: theirs.put_dictionary(made.id, Dictionary("en", "de", {"x": "y"}), merge=True),
        "put a pair it has": lambda: theirs.put_dictionary(made.id, Dictionary("en", "de", {"x": "y"})),
        "put a new pair": lambda: theirs.put_dictionary(made.id, Dictionary("fr", "en", {"x": "y"})),
        "delete a dictionary it has": lambda: theirs.delete_dictionary(made.id, ("de", "en")),
        "delete a dictionary it lacks": lambda: theirs.delete_dictionary(made.id, ("fr", "en")),
    }
    for what, call in asked.items():
        error = raises(lambda: run(call()), 404)
        assert (error.deepl_body(), error.headers) == ({"message": "Glossary not found"}, {}), what
        assert db.rows(everything) == before, what
    assert [g.id for g in run(theirs.list())] == [own.id]
    # The other key's changes to its own glossary leave the first key's rows as they were.
    run(theirs.rename(own.id, "renamed"))
    run(theirs.put_dictionary(own.id, Dictionary("en", "de", {"c": "d"}), merge=True))
    run(theirs.put_dictionary(own.id, Dictionary("de", "en", {"e": "f"})))
    run(theirs.delete_dictionary(own.id, ("en", "de")))
    run(theirs.delete(own.id))
    assert db.rows(everything) == [row for row in before if row["key_hash"] == KEY]
    assert run(mine.get(made.id)) == made
    assert run(mine.entries(made.id))[1] == {("en", "de"): "Hello\tHallo", ("de", "en"): "Apfel\tapple"}


def test_a_key_keeps_at_most_100_glossaries_and_the_insert_itself_holds_the_cap():
    store = make_store()
    for n in range(glossaries.MAX_GLOSSARIES):
        run(store.create(f"g{n}", [Dictionary("en", "de", {"a": "b"})], EPOCH))
    error = raises(lambda: run(store.create("one more", [Dictionary("en", "de", {"a": "b"})], EPOCH)), 400,
                   "Too many glossaries")
    assert error.deepl_body()["detail"].startswith("A key keeps at most 100 glossaries")
    assert len(run(store.list())) == 100
    # Another key is not held by this one's count.
    run(make_store(OTHER, store.database).create("theirs", [Dictionary("en", "de", {"a": "b"})], EPOCH))
    # Two creates racing past a count read first cannot both land: the count is in the INSERT.
    params = ["00000000-0000-4000-8000-000000000000", KEY, "raced", "t", glossaries.MAX_GLOSSARIES,
              "en", "de", 1, 3, "a\tb"]
    assert run(store.database.changes(glossaries.create_sql(1), params)) == 0
    run(store.delete(run(store.list())[0].id))
    assert run(store.database.changes(glossaries.create_sql(1), params)) == 2


def test_a_create_with_two_pairs_alike_or_none_is_refused():
    store = make_store()
    raises(lambda: run(store.create("g", [], EPOCH)), 400, "Glossary dictionaries must be provided")
    raises(lambda: run(store.create("g", [Dictionary("en", "de", {"a": "b"}), Dictionary("en", "de", {"c": "d"})], EPOCH)),
           400, "Duplicate dictionaries")


def test_multilingual_glossaries_keep_their_dictionaries_in_order():
    store = make_store()
    made = run(store.create("multi", [Dictionary("en", "de", {"Hello": "Hallo"}),
                                      Dictionary("de", "en", {"Hallo": "Hello", "Apfel": "apple"})], EPOCH))
    assert [(d.source, d.target, d.entry_count) for d in run(store.get(made.id)).dictionaries] == [
        ("en", "de", 1), ("de", "en", 2)]
    glossary, texts = run(store.entries(made.id, ("de", "en")))
    assert texts == {("de", "en"): "Hallo\tHello\nApfel\tapple"} and len(glossary.dictionaries) == 2
    _, none = run(store.entries(made.id, ("fr", "en")))
    assert none == {}


def test_put_replaces_or_adds_a_dictionary_and_patch_merges_by_source_term():
    store = make_store()
    made = run(store.create("g", [Dictionary("en", "de", {"Hello": "Hallo", "bye": "tschüss"})], EPOCH))
    info = run(store.put_dictionary(made.id, Dictionary("en", "de", {"Apple": "Apfel"})))
    assert (info.source, info.target, info.entry_count) == ("en", "de", 1)
    assert run(store.entries(made.id))[1] == {("en", "de"): "Apple\tApfel"}
    run(store.put_dictionary(made.id, Dictionary("de", "en", {"Apfel": "apple"})))
    merged = run(store.put_dictionary(made.id, Dictionary("en", "de", {"Apple": "Apfelbaum", "pear": "Birne"}), merge=True))
    assert merged.entry_count == 2
    assert run(store.entries(made.id, ("en", "de")))[1] == {("en", "de"): "Apple\tApfelbaum\npear\tBirne"}
    # A merge into a pair the glossary has no dictionary for makes one.
    run(store.put_dictionary(made.id, Dictionary("fr", "en", {"pomme": "apple"}), merge=True))
    assert [(d.source, d.target) for d in run(store.get(made.id)).dictionaries] == [("en", "de"), ("de", "en"), ("fr", "en")]
    run(store.rename(made.id, "renamed"))
    assert run(store.get(made.id)).name == "renamed"
    run(store.delete_dictionary(made.id, ("de", "en")))
    assert [(d.source, d.target) for d in run(store.get(made.id)).dictionaries] == [("en", "de"), ("fr", "en")]
    gone = raises(lambda: run(store.delete_dictionary(made.id, ("de", "en"))), 404)
    assert gone.deepl_body() == {"message": "Dictionary not found"}
    unknown = raises(lambda: run(store.delete_dictionary(glossaries.new_id(), ("de", "en"))), 404)
    assert unknown.deepl_body() == {"message": "Glossary not found"}


def test_the_caps_hold_over_a_glossarys_dictionaries_in_the_statement_itself():
    store = make_store()
    made = run(store.create("g", [Dictionary("en", "de", entries(3000))], EPOCH))
    raises(lambda: run(store.put_dictionary(made.id, Dictionary("de", "en", entries(2001)))), 400,
           "Glossary too large", "would hold 5001")
    # Replacing the big dictionary's own entries counts the new ones only.
    run(store.put_dictionary(made.id, Dictionary("en", "de", entries(4000))))
    run(store.put_dictionary(made.id, Dictionary("de", "en", entries(1000))))
    raises(lambda: run(store.put_dictionary(made.id, Dictionary("en", "de", entries(3, "x")), merge=True)), 400,
           "would hold 5003")
    # Bytes: two dictionaries of ~0.6 MB.
    wide = {f"{i:04d}" + "x" * 590: "y" for i in range(1000)}
    other = run(store.create("bytes", [Dictionary("en", "fr", wide)], EPOCH))
    raises(lambda: run(store.put_dictionary(other.id, Dictionary("fr", "en", wide))), 400, "Glossary too large",
           "at most 1000000 bytes")
    # Dictionaries: 16 pairs at most.
    many = run(store.create("pairs", [Dictionary("en", target, {"a": "b"}) for target in glossaries.LANGUAGES[:16]
                                      if target != "en"], EPOCH))
    assert len(run(store.get(many.id)).dictionaries) == 15
    run(store.put_dictionary(many.id, Dictionary("de", "en", {"a": "b"})))
    raises(lambda: run(store.put_dictionary(many.id, Dictionary("fr", "en", {"a": "b"}))), 400, "Too many dictionaries")
    run(store.put_dictionary(many.id, Dictionary("de", "en", {"c": "d"})))  # replacing one is fine
    assert len(run(store.get(many.id)).dictionaries) == 16


def test_create_holds_every_cap_at_its_limit_before_the_database_is_asked():
    store = make_store()
    db = store.database
    ok = run(store.create("5000", [Dictionary("en", "de", entries(2500)), Dictionary("de", "en", entries(2500))], EPOCH))
    assert sum(d.entry_count for d in run(store.get(ok.id)).dictionaries) == 5000
    run(store.create("1 MB", [Dictionary("en", "de", tsv_of(600_000)), Dictionary("de", "en", tsv_of(400_000))], EPOCH))
    pairs = [Dictionary("en", target, {"a": "b"}) for target in glossaries.LANGUAGES if target != "en"]
    run(store.create("16", pairs[:16], EPOCH))
    rows, statements = db.rows("SELECT * FROM glossaries ORDER BY seq"), len(db.statements)
    refused = [
        ([Dictionary("en", "de", entries(2500)), Dictionary("de", "en", entries(2501))], too_many_entries(5001)),
        ([Dictionary("en", "de", tsv_of(600_000)), Dictionary("de", "en", tsv_of(400_001))], too_large(1_000_001)),
        (pairs[:17], TOO_MANY_DICTIONARIES),
    ]
    for dictionaries, body in refused:
        assert raises(lambda: run(store.create("over", dictionaries, EPOCH)), 400).deepl_body() == body
    assert db.rows("SELECT * FROM glossaries ORDER BY seq") == rows and len(db.statements) == statements
    assert len(run(store.list())) == 3


def test_put_and_patch_hold_every_cap_at_its_limit():
    store = make_store()
    made = run(store.create("g", [Dictionary("en", "de", entries(4000))], EPOCH))
    run(store.put_dictionary(made.id, Dictionary("de", "en", entries(1000))))  # 5000 in all: fine
    error = raises(lambda: run(store.put_dictionary(made.id, Dictionary("de", "en", entries(1001)))), 400)
    assert error.deepl_body() == too_many_entries(5001)
    error = raises(lambda: run(store.put_dictionary(made.id, Dictionary("en", "de", {"new": "neu"}), merge=True)), 400)
    assert error.deepl_body() == too_many_entries(5001)
    # 5000 entries exactly, but a byte too many: the bytes are what refuse it, with the glossary's figure.
    small = len(Dictionary("en", "de", entries(4000)).tsv.encode("utf-8"))
    error = raises(lambda: run(store.put_dictionary(made.id, Dictionary("de", "en", tsv_of(1_000_001 - small)))), 400)
    assert error.deepl_body() == too_large(1_000_001)
    run(store.put_dictionary(made.id, Dictionary("de", "en", tsv_of(1_000_000 - small))))
    assert [d.entry_count for d in run(store.get(made.id)).dictionaries] == [4000, 1000]
    # Bytes alone, with a merge (PATCH) too.
    wide = run(store.create("bytes", [Dictionary("en", "fr", tsv_of(600_000))], EPOCH))
    run(store.put_dictionary(wide.id, Dictionary("fr", "en", tsv_of(399_999, 999, "a"))))
    line = {"b": "y"}  # "\nb\ty": 4 bytes more, 1 000 003 in all
    error = raises(lambda: run(store.put_dictionary(wide.id, Dictionary("fr", "en", line), merge=True)), 400)
    assert error.deepl_body() == too_large(1_000_003)
    run(store.put_dictionary(wide.id, Dictionary("fr", "en", line)))  # replaces it: fine
    # Dictionaries: the 17th pair is refused, replacing one of the 16 is not.
    many = run(store.create("pairs", [Dictionary("en", t, {"a": "b"}) for t in glossaries.LANGUAGES[:17] if t != "en"],
                            EPOCH))
    assert len(run(store.get(many.id)).dictionaries) == 16
    error = raises(lambda: run(store.put_dictionary(many.id, Dictionary("fr", "en", {"a": "b"}), merge=True)), 400)
    assert error.deepl_body() == TOO_MANY_DICTIONARIES
    run(store.put_dictionary(many.id, Dictionary("en", "fr", {"c": "d"}), merge=True))


class D1Limits(SqliteDatabase):
    """SQLite with D1's limit on a string (2 000 000 bytes): a statement binding a longer one fails."""

    def _check(self, params):
        if any(isinstance(p, str) and len(p.encode("utf-8")) > 2_000_000 for p in params):
            raise DatabaseError("D1_ERROR: string or blob too big: SQLITE_TOOBIG")

    async def changes(self, sql, params):
        self._check(params)
        return await super().changes(sql, params)

    async def query(self, sql, params):
        self._check(params)
        return await super().query(sql, params)


def test_a_dictionary_over_a_cap_on_its_own_is_refused_before_the_database_is_asked():
    # D1 takes no string over 2 MB, and a body may bring 3: such a dictionary is a 400, never a 503.
    db = D1Limits()
    store = make_store(database=db)
    made = run(store.create("g", [Dictionary("en", "de", {"a": "b"})], EPOCH))
    huge = tsv_of(2_500_000, 2500)
    statements = len(db.statements)
    for call, size in ((lambda: store.create("huge", [Dictionary("en", "de", huge)], EPOCH), 2_500_000),
                       (lambda: store.put_dictionary(made.id, Dictionary("de", "en", huge)), 2_500_000),
                       # merged with the "a\tb" it has
                       (lambda: store.put_dictionary(made.id, Dictionary("en", "de", huge), merge=True), 2_500_004)):
        assert raises(lambda: run(call()), 400).deepl_body() == too_large(size)
    assert len(db.statements) == statements
    error = raises(lambda: run(store.put_dictionary(made.id, Dictionary("en", "de", entries(5001)))), 400)
    assert error.deepl_body() == too_many_entries(5001) and len(db.statements) == statements
    assert run(store.entries(made.id))[1] == {("en", "de"): "a\tb"}


class Recording(SqliteDatabase):
    """SqliteDatabase keeping what each query answered."""

    def __init__(self):
        super().__init__()
        self.answers: list[list[dict]] = []

    async def query(self, sql, params):
        rows = await super().query(sql, params)
        self.answers.append(rows)
        return rows


def test_a_pairs_entries_are_the_only_ones_read_from_the_database():
    # Translation asks for one pair's entries on every request: the others (up to 1 MB) stay in D1.
    db = Recording()
    store = make_store(database=db)
    made = run(store.create("g", [Dictionary("en", "de", {"Hello": "Hallo"}), Dictionary("en", "fr", {"Hello": "Salut"}),
                                  Dictionary("fr", "de", {"Salut": "Hallo"})], EPOCH))
    glossary, texts = run(store.entries(made.id, ("en", "de")))
    assert texts == {("en", "de"): "Hello\tHallo"} and len(glossary.dictionaries) == 3
    assert [(r["source_lang"], r["target_lang"], r["entries"]) for r in db.answers[-1]] == [
        ("", "", ""), ("en", "de", "Hello\tHallo"), ("en", "fr", ""), ("fr", "de", "")]
    run(store.entries(made.id))
    assert [r["entries"] for r in db.answers[-1]] == ["", "Hello\tHallo", "Hello\tSalut", "Salut\tHallo"]


def test_the_database_failing_or_missing_refuses_with_503():
    db = SqliteDatabase()
    store = make_store(database=db)
    made = run(store.create("g", [Dictionary("en", "de", {"a": "b"})], EPOCH))
    db.fail = True
    for call in (lambda: run(store.list()), lambda: run(store.get(made.id)), lambda: run(store.delete(made.id)),
                 lambda: run(store.create("g", [Dictionary("en", "de", {"a": "b"})], EPOCH))):
        error = raises(call, 503, "unavailable")
        assert error.headers == {"Retry-After": "10"}
    ctx = context(database=None)
    raises(lambda: glossaries.store(ctx), 503, "no USAGE_DB D1 binding")
    # Every glossary and translation route has a credential: a call without one is a bug, for the log.
    anonymous = context()
    anonymous.platform.meter = None
    with pytest.raises(RuntimeError, match="without a credential"):
        glossaries.store(anonymous)


# --- entries_for, as translation calls it ----------------------------------------------------------------


def context(database=..., key: str = "sk-unit") -> Context:
    platform = make_platform(api_keys=(key,))
    platform.database = SqliteDatabase() if database is ... else database
    platform.meter = SimpleNamespace(hashed=usage.key_hash(key))
    return Context(make_request("POST", "/v2/translate"), platform)


def test_entries_for_gives_the_keys_dictionary_for_the_pair_in_m2m100_codes():
    ctx = context()
    store = glossaries.store(ctx)
    made = run(store.create("g", [Dictionary("en", "nb", {"Hello": "Hei"}), Dictionary("zh", "en", {"你好": "Hello"})],
                            EPOCH))
    assert run(glossaries.entries_for(ctx, made.id, "en", "no")) == {"Hello": "Hei"}  # m2m100 calls Norwegian "no"
    assert run(glossaries.entries_for(ctx, made.id.upper(), "zh", "en")) == {"你好": "Hello"}
    error = raises(lambda: run(glossaries.entries_for(ctx, made.id, "de", "en")), 400)
    assert error.deepl_body() == {"message": "Glossary language pair does not match the request",
                                  "detail": "The glossary has no dictionary for de → en (its pairs: en → nb, zh → en)."}
    raises(lambda: run(glossaries.entries_for(ctx, made.id, "en", "hi")), 400)  # a language no glossary has
    raises(lambda: run(glossaries.entries_for(ctx, glossaries.new_id(), "en", "no")), 404, "Glossary not found")
    raises(lambda: run(glossaries.entries_for(ctx, "nope", "en", "no")), 404, "Glossary not found")
    # A glossary whose last dictionary was deleted has none for any pair.
    empty = run(store.create("empty", [Dictionary("en", "de", {"a": "b"})], EPOCH))
    run(store.delete_dictionary(empty.id, ("en", "de")))
    assert raises(lambda: run(glossaries.entries_for(ctx, empty.id, "en", "de")), 400).deepl_body()["detail"] == (
        "The glossary has no dictionary for en → de (its pairs: none).")
    # Another key (same database) has no such glossary.
    other = context(ctx.platform.database, key="sk-other")
    raises(lambda: run(glossaries.entries_for(other, made.id, "en", "no")), 404, "Glossary not found")
    ctx.platform.database.fail = True
    raises(lambda: run(glossaries.entries_for(ctx, made.id, "en", "no")), 503)
    raises(lambda: run(glossaries.entries_for(context(database=None), made.id, "en", "no")), 503)


# --- the endpoints, through the pipeline -----------------------------------------------------------------


class Gateway:
    def __init__(self, *, database=True):
        self.platform = make_platform(api_keys=("sk-one", "sk-two"))
        self.platform.database = SqliteDatabase() if database else None

    def send(self, method, path, body=None, *, key="sk-one", form=None, headers=None):
        sent = {"authorization": f"DeepL-Auth-Key {key}", **(headers or {})}
        if form is not None:
            body, sent["content-type"] = urlencode(form), "application/x-www-form-urlencoded"
        elif body is not None:
            sent["content-type"] = "application/json"
        response = run(handle(make_request(method, path, headers=sent, body=body), self.platform))
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        return SimpleNamespace(status=response.status, headers=response.headers, text=text,
                               json=lambda: json.loads(text))


V2 = {"name": "My Glossary", "source_lang": "EN", "target_lang": "DE", "entries": "Hello\tHallo", "entries_format": "tsv"}


def test_v2_round_trip_as_json_and_as_a_form():
    gateway = Gateway()
    made = gateway.send("POST", "/v2/glossaries", V2)
    assert made.status == 201
    body = made.json()
    assert set(body) == {"glossary_id", "name", "ready", "source_lang", "target_lang", "creation_time", "entry_count"}
    assert (body["ready"], body["source_lang"], body["target_lang"], body["entry_count"]) == (True, "en", "de", 1)
    form = gateway.send("POST", "/v2/glossaries", form={**V2, "entries": "Hello,Hallo\nbye,tschüss", "entries_format": "csv"})
    assert form.status == 201 and form.json()["entry_count"] == 2
    listed = gateway.send("GET", "/v2/glossaries").json()["glossaries"]
    assert [g["glossary_id"] for g in listed] == [body["glossary_id"], form.json()["glossary_id"]]
    assert gateway.send("GET", f"/v2/glossaries/{body['glossary_id']}").json() == body
    tsv = gateway.send("GET", f"/v2/glossaries/{form.json()['glossary_id']}/entries",
                       headers={"accept": "text/tab-separated-values"})
    assert tsv.status == 200 and tsv.text == "Hello\tHallo\nbye\ttschüss"
    assert tsv.headers["Content-Type"].startswith("text/tab-separated-values")
    assert gateway.send("GET", f"/v2/glossaries/{body['glossary_id']}/entries").status == 200  # no Accept: TSV
    refused = gateway.send("GET", f"/v2/glossaries/{body['glossary_id']}/entries", headers={"accept": "application/json"})
    assert refused.status == 415 and refused.json()["message"] == "No supported media type specified in Accept header"
    deleted = gateway.send("DELETE", f"/v2/glossaries/{body['glossary_id']}")
    assert deleted.status == 204 and deleted.text == ""
    assert gateway.send("GET", f"/v2/glossaries/{body['glossary_id']}").status == 404


@pytest.mark.parametrize("change, status, message", [
    ({"entries": "Hello\tHallo\nHello\tServus"}, 400, "Invalid glossary entries provided"),
    ({"name": ""}, 400, "Missing or invalid argument: name"),
    ({"target_lang": "XX"}, 400, "Value for 'target_lang' not supported."),
    ({"target_lang": "EN-US"}, 400, "Unsupported glossary source and target language pair"),
    ({"entries_format": "xlsx"}, 400, "Value for 'entries_format' not supported."),
    ({"entries": None}, 400, "Parameter 'entries' not specified"),
])
def test_v2_create_errors_in_deepls_glossary_envelope(change, status, message):
    response = Gateway().send("POST", "/v2/glossaries", {k: v for k, v in {**V2, **change}.items() if v is not None})
    assert response.status == status
    assert response.json()["message"] == message and set(response.json()) <= {"message", "detail"}


def test_other_keys_glossaries_are_not_found_and_a_wrong_secret_is_403():
    gateway = Gateway()
    made = gateway.send("POST", "/v2/glossaries", V2).json()
    for method, path in [("GET", ""), ("GET", "/entries"), ("DELETE", "")]:
        response = gateway.send(method, f"/v2/glossaries/{made['glossary_id']}{path}", key="sk-two")
        assert (response.status, response.json()) == (404, {"message": "Glossary not found"})
    assert gateway.send("GET", "/v2/glossaries", key="sk-two").json() == {"glossaries": []}
    assert gateway.send("GET", "/v2/glossaries", key="wrong").status == 403
    assert gateway.send("GET", f"/v2/glossaries/{made['glossary_id']}").status == 200


def test_v3_round_trip_with_a_form_as_deepl_node_sends_it():
    gateway = Gateway()
    made = gateway.send("POST", "/v3/glossaries", form={
        "name": "multi",
        "dictionaries[0].source_lang": "EN", "dictionaries[0].target_lang": "DE",
        "dictionaries[0].entries": "Hello\tHallo", "dictionaries[0].entries_format": "tsv",
        "dictionaries[1].source_lang": "de", "dictionaries[1].target_lang": "en",
        "dictionaries[1].entries": "Hallo,Hello\nApfel,apple", "dictionaries[1].entries_format": "csv",
    })
    assert made.status == 201
    body = made.json()
    assert body["dictionaries"] == [{"source_lang": "en", "target_lang": "de", "entry_count": 1},
                                    {"source_lang": "de", "target_lang": "en", "entry_count": 2}]
    gid = body["glossary_id"]
    entries = gateway.send("GET", f"/v3/glossaries/{gid}/entries?source_lang=DE&target_lang=EN").json()
    assert entries == {"dictionaries": [{"source_lang": "de", "target_lang": "en", "entries": "Hallo\tHello\nApfel\tapple",
                                         "entries_format": "tsv"}]}
    assert gateway.send("GET", f"/v3/glossaries/{gid}/entries?source_lang=FR&target_lang=EN").json() == {
        "message": "Dictionary not found"}
    # The v2 endpoints serve glossaries of one dictionary only.
    assert gateway.send("GET", "/v2/glossaries").json() == {"glossaries": []}
    assert gateway.send("GET", f"/v2/glossaries/{gid}").json()["message"] == "Glossary is not monolingual"
    patched = gateway.send("PATCH", f"/v3/glossaries/{gid}", {"name": "renamed", "dictionaries": [
        {"source_lang": "en", "target_lang": "de", "entries": "Apple\tApfel", "entries_format": "tsv"}]})
    assert patched.status == 200 and patched.json()["name"] == "renamed"
    assert patched.json()["dictionaries"][0] == {"source_lang": "en", "target_lang": "de", "entry_count": 2}
    put = gateway.send("PUT", f"/v3/glossaries/{gid}/dictionaries", form={
        "source_lang": "en", "target_lang": "de", "entries": "only\tnur", "entries_format": "tsv"})
    assert (put.status, put.json()) == (200, {"source_lang": "en", "target_lang": "de", "entry_count": 1})
    assert gateway.send("DELETE", f"/v3/glossaries/{gid}/dictionaries?source_lang=de&target_lang=en").status == 204
    assert gateway.send("GET", f"/v2/glossaries/{gid}").json()["entry_count"] == 1  # monolingual again
    assert len(gateway.send("GET", "/v3/glossaries").json()["glossaries"]) == 1
    assert gateway.send("DELETE", f"/v3/glossaries/{gid}").status == 204
    assert gateway.send("GET", f"/v3/glossaries/{gid}").status == 404


@pytest.mark.parametrize("body, message", [
    ({"name": "x"}, "Glossary dictionaries must be provided"),
    ({"name": "x", "dictionaries": "en-de"}, "Missing or invalid argument: dictionaries"),
    ({"name": "x", "dictionaries": [{"source_lang": "en", "target_lang": "de", "entries": "a\tb"}] * 2},
     "Duplicate dictionaries"),
    ({"name": "x", "dictionaries": [{"source_lang": "en", "target_lang": t, "entries": "a\tb"}
                                    for t in glossaries.LANGUAGES if t != "en"]}, "Too many dictionaries"),
])
def test_v3_create_errors(body, message):
    response = Gateway().send("POST", "/v3/glossaries", body)
    assert response.status == 400 and response.json()["message"] == message


def test_v3_patch_needs_something_to_change_and_one_dictionary_at_most():
    gateway = Gateway()
    gid = gateway.send("POST", "/v2/glossaries", V2).json()["glossary_id"]
    assert gateway.send("PATCH", f"/v3/glossaries/{gid}", {}).status == 400
    two = [{"source_lang": "en", "target_lang": "de", "entries": "a\tb"}, {"source_lang": "de", "target_lang": "en",
                                                                           "entries": "b\ta"}]
    assert gateway.send("PATCH", f"/v3/glossaries/{gid}", {"dictionaries": two}).status == 400
    assert gateway.send("PATCH", f"/v3/glossaries/{glossaries.new_id()}", {"name": "x"}).status == 404


def test_language_pairs_are_every_pair_of_two_different_glossary_languages():
    pairs = Gateway().send("GET", "/v2/glossary-language-pairs").json()["supported_languages"]
    assert len(pairs) == 33 * 32 and {"source_lang": "en", "target_lang": "nb"} in pairs
    assert all(p["source_lang"] != p["target_lang"] for p in pairs)


def test_the_endpoints_without_the_database_or_with_it_down_are_503():
    missing = Gateway(database=False)
    response = missing.send("GET", "/v2/glossaries")
    assert response.status == 503 and "USAGE_DB" in response.json()["message"]
    down = Gateway()
    down.platform.database.fail = True
    for method, path, body in [("GET", "/v2/glossaries", None), ("POST", "/v2/glossaries", V2),
                               ("GET", "/v3/glossaries", None), ("DELETE", f"/v2/glossaries/{glossaries.new_id()}", None)]:
        response = down.send(method, path, body)
        assert response.status == 503 and response.headers.get("Retry-After") == "10", (method, path)


def test_other_keys_get_404_on_every_v3_route_and_change_nothing():
    gateway = Gateway()
    gid = gateway.send("POST", "/v3/glossaries", {"name": "mine", "dictionaries": [
        {"source_lang": "en", "target_lang": "de", "entries": "Hello\tHallo"},
        {"source_lang": "de", "target_lang": "en", "entries": "Apfel\tapple"}]}).json()["glossary_id"]
    seen = gateway.send("GET", f"/v3/glossaries/{gid}").json()
    one = {"source_lang": "fr", "target_lang": "en", "entries": "pomme\tapple"}
    for method, path, body in [
        ("GET", "", None), ("GET", "/entries?source_lang=en&target_lang=de", None), ("DELETE", "", None),
        ("PATCH", "", {"name": "taken"}),
        ("PATCH", "", {"dictionaries": [{"source_lang": "en", "target_lang": "de", "entries": "x\ty"}]}),
        ("PUT", "/dictionaries", one), ("PUT", "/dictionaries", {**one, "source_lang": "de"}),
        ("DELETE", "/dictionaries?source_lang=de&target_lang=en", None),
        ("DELETE", "/dictionaries?source_lang=fr&target_lang=en", None),
    ]:
        response = gateway.send(method, f"/v3/glossaries/{gid}{path}", body, key="sk-two")
        assert (response.status, response.json()) == (404, {"message": "Glossary not found"}), (method, path, body)
    assert gateway.send("GET", "/v3/glossaries", key="sk-two").json() == {"glossaries": []}
    assert gateway.send("GET", f"/v3/glossaries/{gid}").json() == seen
    for pair, tsv in ((("en", "de"), "Hello\tHallo"), (("de", "en"), "Apfel\tapple")):
        got = gateway.send("GET", f"/v3/glossaries/{gid}/entries?source_lang={pair[0]}&target_lang={pair[1]}").json()
        assert got["dictionaries"][0]["entries"] == tsv


def lines(n: int, prefix: str = "s") -> str:
    return "\n".join(f"{prefix}{i}\tt{i}" for i in range(n))


def test_every_write_route_holds_the_caps_in_deepls_envelope():
    gateway = Gateway()
    over = gateway.send("POST", "/v2/glossaries", {**V2, "entries": lines(5001)})
    assert (over.status, over.json()) == (400, too_many_entries(5001))
    assert gateway.send("POST", "/v2/glossaries", {**V2, "entries": lines(5000)}).status == 201
    over = gateway.send("POST", "/v3/glossaries", {"name": "x", "dictionaries": [
        {"source_lang": "en", "target_lang": "de", "entries": lines(2500)},
        {"source_lang": "de", "target_lang": "en", "entries": lines(2501)}]})
    assert (over.status, over.json()) == (400, too_many_entries(5001))
    assert len(gateway.send("GET", "/v3/glossaries").json()["glossaries"]) == 1
    gid = gateway.send("POST", "/v3/glossaries", {"name": "x", "dictionaries": [
        {"source_lang": "en", "target_lang": "de", "entries": lines(4000)}]}).json()["glossary_id"]
    put = gateway.send("PUT", f"/v3/glossaries/{gid}/dictionaries",
                       {"source_lang": "de", "target_lang": "en", "entries": lines(1001)})
    assert (put.status, put.json()) == (400, too_many_entries(5001))
    patch = gateway.send("PATCH", f"/v3/glossaries/{gid}", {"name": "renamed", "dictionaries": [
        {"source_lang": "en", "target_lang": "de", "entries": lines(1001, "x")}]})
    assert (patch.status, patch.json()) == (400, too_many_entries(5001))
    seen = gateway.send("GET", f"/v3/glossaries/{gid}").json()
    assert seen["name"] == "x" and seen["dictionaries"] == [{"source_lang": "en", "target_lang": "de", "entry_count": 4000}]
    put = gateway.send("PUT", f"/v3/glossaries/{gid}/dictionaries",
                       {"source_lang": "de", "target_lang": "en", "entries": lines(1000)})
    assert (put.status, put.json()) == (200, {"source_lang": "de", "target_lang": "en", "entry_count": 1000})


def test_a_dictionary_too_large_for_the_database_is_a_400_on_every_write_route():
    gateway = Gateway()
    gateway.platform.database = D1Limits()
    gid = gateway.send("POST", "/v2/glossaries", V2).json()["glossary_id"]
    huge = Dictionary("en", "de", tsv_of(2_500_000, 2500)).tsv
    for method, path, body, size in [
        ("POST", "/v2/glossaries", {**V2, "entries": huge}, 2_500_000),
        ("POST", "/v3/glossaries", {"name": "x", "dictionaries": [{"source_lang": "en", "target_lang": "de", "entries": huge}]},
         2_500_000),
        ("PUT", f"/v3/glossaries/{gid}/dictionaries", {"source_lang": "de", "target_lang": "en", "entries": huge}, 2_500_000),
        # merged with the "Hello\tHallo" it has
        ("PATCH", f"/v3/glossaries/{gid}", {"dictionaries": [{"source_lang": "en", "target_lang": "de", "entries": huge}]},
         2_500_012),
    ]:
        response = gateway.send(method, path, body)
        assert (response.status, response.json()) == (400, too_large(size)), (method, path)
    assert gateway.send("GET", f"/v2/glossaries/{gid}/entries").text == "Hello\tHallo"
