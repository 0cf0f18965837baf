"""Language codes: DeepL-style codes (any case, with regional variants) ⇄ what m2m100 takes."""

from __future__ import annotations

from .errors import bad_request

# The 33 languages DeepL (and so DeepLX and Immersive Translate) offer → m2m100 codes.
DEEPL_TO_M2M100: dict[str, str] = {
    "AR": "ar", "BG": "bg", "CS": "cs", "DA": "da", "DE": "de", "EL": "el", "EN": "en",
    "ES": "es", "ET": "et", "FI": "fi", "FR": "fr", "HE": "he", "HU": "hu", "ID": "id",
    "IT": "it", "JA": "ja", "KO": "ko", "LT": "lt", "LV": "lv", "NB": "no", "NL": "nl",
    "PL": "pl", "PT": "pt", "RO": "ro", "RU": "ru", "SK": "sk", "SL": "sl", "SV": "sv",
    "TH": "th", "TR": "tr", "UK": "uk", "VI": "vi", "ZH": "zh",
}

# Regional and script variants. m2m100 has one Chinese, one Portuguese and one English:
# ZH-HANT is translated as Chinese (m2m100 mostly writes simplified characters).
VARIANTS: dict[str, str] = {
    "EN-US": "EN", "EN-GB": "EN", "PT-BR": "PT", "PT-PT": "PT",
    "ZH-HANS": "ZH", "ZH-HANT": "ZH", "ZH-CN": "ZH", "ZH-TW": "ZH", "ZH-HK": "ZH", "ZH-SG": "ZH",
    "NO": "NB", "NN": "NB", "IW": "HE", "IN": "ID", "ES-419": "ES",
}

# Every language m2m100 knows, by its own (ISO 639) code.
M2M100_CODES = frozenset(
    "af am ar ast az ba be bg bn br bs ca ceb cs cy da de el en es et fa ff fi fr fy ga gd gl gu "
    "ha he hi hr ht hu hy id ig ilo is it ja jv ka kk km kn ko lb lg ln lo lt lv mg mk ml mn mr "
    "ms my ne nl no ns oc or pa pl ps pt ro ru sd si sk sl so sq sr ss su sv sw ta th tl tn tr uk "
    "ur uz vi wo xh yi yo zh zu".split()
)
# m2m100 on Workers AI also takes English language names ("english", "french"), as
# Cloudflare's own examples (and so the original guide) send them.
NAMES: dict[str, str] = {
    "arabic": "ar", "bulgarian": "bg", "czech": "cs", "danish": "da", "german": "de", "greek": "el",
    "english": "en", "spanish": "es", "estonian": "et", "finnish": "fi", "french": "fr", "hebrew": "he",
    "hungarian": "hu", "indonesian": "id", "italian": "it", "japanese": "ja", "korean": "ko",
    "lithuanian": "lt", "latvian": "lv", "norwegian": "no", "dutch": "nl", "polish": "pl",
    "portuguese": "pt", "romanian": "ro", "russian": "ru", "slovak": "sk", "slovenian": "sl",
    "swedish": "sv", "thai": "th", "turkish": "tr", "ukrainian": "uk", "vietnamese": "vi", "chinese": "zh",
    "hindi": "hi", "persian": "fa",
}
M2M100_TO_DEEPL = {code: deepl for deepl, code in DEEPL_TO_M2M100.items()}

# What @cf/ai4bharat/indictrans2-en-indic-1B translates English into: ISO 639 code → its
# `target_language` (model page, commit 05b5f46cc674). The gateway sends English → these
# languages to it, everything else to m2m100.
INDICTRANS2: dict[str, str] = {
    "as": "asm_Beng", "awa": "awa_Deva", "bn": "ben_Beng", "bho": "bho_Deva", "brx": "brx_Deva", "doi": "doi_Deva",
    "gom": "gom_Deva", "kok": "gom_Deva", "gon": "gon_Deva", "gu": "guj_Gujr", "hi": "hin_Deva", "hne": "hne_Deva",
    "kn": "kan_Knda", "ks": "kas_Arab", "kha": "kha_Latn", "lus": "lus_Latn", "mag": "mag_Deva", "mai": "mai_Deva",
    "ml": "mal_Mlym", "mr": "mar_Deva", "mni": "mni_Beng", "ne": "npi_Deva", "or": "ory_Orya", "pa": "pan_Guru",
    "sa": "san_Deva", "sat": "sat_Olck", "sd": "snd_Arab", "ta": "tam_Taml", "te": "tel_Telu", "ur": "urd_Arab",
}
INDIC_NAMES: dict[str, str] = {
    "assamese": "as", "bengali": "bn", "bangla": "bn", "gujarati": "gu", "kannada": "kn", "kashmiri": "ks", "konkani": "kok",
    "maithili": "mai", "malayalam": "ml", "manipuri": "mni", "marathi": "mr", "nepali": "ne", "odia": "or", "oriya": "or",
    "punjabi": "pa", "sanskrit": "sa", "santali": "sat", "sindhi": "sd", "tamil": "ta", "telugu": "te", "urdu": "ur",
    "bodo": "brx", "dogri": "doi",
}


def is_auto(code) -> bool:
    return code is None or (isinstance(code, str) and code.strip().lower() in ("", "auto", "auto-detect", "detect"))


def to_m2m100(code, param: str) -> str:
    """The m2m100 code for a DeepL-style or ISO code; 400 naming the code when unsupported."""
    if code is not None and not isinstance(code, str):
        raise bad_request(f"`{param}` must be a language code such as EN or ZH-HANT.", param=param)
    if not code or not code.strip():
        raise bad_request(f"`{param}` is required.", param=param)
    upper = code.strip().upper().replace("_", "-")
    upper = VARIANTS.get(upper, upper)
    if upper in DEEPL_TO_M2M100:
        return DEEPL_TO_M2M100[upper]
    lower = upper.lower()
    if lower in M2M100_CODES:
        return lower
    if lower in NAMES:
        return NAMES[lower]
    base = lower.split("-", 1)[0]
    if base in M2M100_CODES:
        return base
    # Indic languages only indictrans2 knows (from English): kept as their ISO code.
    if lower in INDICTRANS2 or base in INDICTRANS2:
        return lower if lower in INDICTRANS2 else base
    if lower in INDIC_NAMES:
        return INDIC_NAMES[lower]
    raise bad_request(f"Unsupported language '{code}' in `{param}`.", param=param, code="unsupported_language")


def to_deepl(m2m100_code: str) -> str:
    """DeepL's upper-case code for an m2m100 code (NB for Norwegian); other languages upper-cased."""
    return M2M100_TO_DEEPL.get(m2m100_code, m2m100_code.upper())


# DeepL's English names for its codes, as `/v2/languages` lists them.
DEEPL_NAMES: dict[str, str] = {
    "AR": "Arabic", "BG": "Bulgarian", "CS": "Czech", "DA": "Danish", "DE": "German", "EL": "Greek",
    "EN": "English", "ES": "Spanish", "ET": "Estonian", "FI": "Finnish", "FR": "French", "HE": "Hebrew",
    "HU": "Hungarian", "ID": "Indonesian", "IT": "Italian", "JA": "Japanese", "KO": "Korean",
    "LT": "Lithuanian", "LV": "Latvian", "NB": "Norwegian (Bokmål)", "NL": "Dutch", "PL": "Polish",
    "PT": "Portuguese", "RO": "Romanian", "RU": "Russian", "SK": "Slovak", "SL": "Slovenian", "SV": "Swedish",
    "TH": "Thai", "TR": "Turkish", "UK": "Ukrainian", "VI": "Vietnamese", "ZH": "Chinese",
}
# Target codes DeepL lists as regional variants (all map to m2m100's one language), and the bare
# codes they replace in DeepL's target list (DeepL keeps ZH beside ZH-HANS/ZH-HANT).
DEEPL_TARGET_VARIANTS: dict[str, str] = {
    "EN-GB": "English (British)", "EN-US": "English (American)",
    "PT-BR": "Portuguese (Brazilian)", "PT-PT": "Portuguese (European)",
    "ZH-HANS": "Chinese (simplified)", "ZH-HANT": "Chinese (traditional)",
}
DEEPL_TARGET_VARIANTS_OF = frozenset({"EN", "PT"})
