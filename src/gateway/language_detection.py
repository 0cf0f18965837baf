"""Which language a text is in, for `source_lang: auto` (m2m100 itself assumes English).

A small own detector rather than a library: the PyPI detectors (langdetect,
langid, lingua) bring megabytes of profiles or numpy into the worker's cold
start, while the gateway only has to choose among the 33 DeepL languages.
First the script decides (kana, hangul, Han, Cyrillic, Arabic, Hebrew, Thai,
Greek, Devanagari); Latin-script text is then scored on each language's most
frequent function words and its characteristic letters.
"""

from __future__ import annotations

import re
import unicodedata

DEFAULT = "en"

# (first, last) code point → language, for scripts that (among the 33) name one language.
_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x3040, 0x30FF, "ja"),  # hiragana, katakana
    (0x31F0, 0x31FF, "ja"),
    (0xFF66, 0xFF9F, "ja"),  # half-width katakana
    (0x1100, 0x11FF, "ko"),  # hangul jamo
    (0x3130, 0x318F, "ko"),
    (0xAC00, 0xD7AF, "ko"),  # hangul syllables
    (0x3400, 0x4DBF, "zh"),  # Han
    (0x4E00, 0x9FFF, "zh"),
    (0xF900, 0xFAFF, "zh"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"),
    (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"),
    (0x0590, 0x05FF, "he"),
    (0x0E00, 0x0E7F, "th"),
    (0x0370, 0x03FF, "el"),
    (0x1F00, 0x1FFF, "el"),
    (0x0900, 0x097F, "hi"),
)

# Frequent function words: a hit is strong evidence, so only short, common, telling words.
_WORDS: dict[str, str] = {
    "en": "the and is are of to in that it was for with this you not have be on what they there which would "
          "we my your how hello today very but when will can all",
    "de": "der die das und ist nicht ein eine ich sie es zu mit den von auf für sich auch dem wir sind haben wird "
          "wie geht dir mir hallo heute sehr aber wenn nach dieses diese",
    "fr": "le la les et est un une des du pas que qui dans pour je vous nous il elle ce sur avec sont mais au "
          "bonjour comment très quand aux cette",
    "es": "el la los las y es un una que de en no por con para se del lo muy pero está son como más "
          "hola cómo estás me cuando esta este",
    "it": "il lo la gli le e è un una che di non per con sono della del ma questo anche nel alla più "
          "ciao come sei stai oggi mi molto quando questa",
    "pt": "o a os as e é um uma que de não em para com do da no na se mas você está são muito "
          "olá como eu quando este esta",
    "nl": "de het een en is van niet dat ik je we zijn op te met voor er maar ook wat heb "
          "hoe gaat hallo vandaag als erg dit",
    "sv": "och att det är en som på inte jag för med har av till den vi om ett mycket också "
          "hur mår du hej idag vad när här",
    "da": "og at det er en som på ikke jeg for med har af til den vi om et meget også hvad mig dig "
          "hej hvordan du når der nu",
    "no": "og at det er en som på ikke jeg for med har av til den vi om et mye også hva meg deg veldig "
          "hei hvordan du når liker",
    "fi": "ja on ei se että hän minä sinä olen oli mutta kanssa tämä mitä kuin myös ovat hyvin "
          "hei kun kaikki sinulle me",
    "et": "ja on ei see et ta mina sina olen oli aga ka kas mis kui ning väga seda "
          "tere kuidas sul täna mulle kõik",
    "hu": "a az és egy hogy nem is van volt ez meg de csak már vagy mint nagyon vagyok "
          "szia vagy ma amikor minden",
    "pl": "i w nie na się to jest że z do jak ale tak co jestem bardzo czy "
          "cześć dzisiaj kiedy wszystko ta ten",
    "cs": "a v je se na to že s z do jak ale tak co jsem velmi není také jsou "
          "dobrý den dnes když všude tato tento",
    "sk": "a v je sa na to že s z do ako ale tak čo som veľmi nie aj sú "
          "dobrý deň dnes keď všade táto tento",
    "sl": "in v je se na to da z s za kot ali tako kaj sem zelo ni tudi so "
          "živijo kako si danes ko vse ampak bomo bo",
    "ro": "și în este un o că de la nu cu pe pentru sunt care mai foarte "
          "bună ce îmi când acest dar",
    "tr": "ve bir bu da de için ne çok ile değil mi ben sen var olan gibi "
          "merhaba bugün ama her şey daha kadar",
    "lt": "ir yra kad tai ne su į iš bet kaip labai aš jis buvo "
          "labas man kai viskas šis",
    "lv": "un ir ka tas ne ar uz no bet kā ļoti es viņš bija "
          "sveiki man kad viss šis",
    "id": "dan yang di ini itu dengan untuk tidak ada dari saya akan ke juga adalah "
          "halo apa kabar hari sangat tetapi kami",
    "vi": "và là của có không một những được cho người tôi này với các "
          "xin chào bạn hôm nay rất nhưng sẽ đi",
}
_WORD_SETS = {lang: frozenset(words.split()) for lang, words in _WORDS.items()}

# Letters that belong to few of the languages: each occurrence counts for each language listed.
_LETTERS: dict[str, str] = {
    "ß": "de", "ä": "de sv fi et sk", "ö": "de sv fi et hu tr", "ü": "de et hu tr",
    "å": "sv da no", "æ": "da no", "ø": "da no",
    "õ": "et pt", "ő": "hu", "ű": "hu", "á": "hu cs sk pt es vi", "é": "fr hu cs sk pt es it",
    "ą": "pl lt", "ę": "pl lt", "ł": "pl", "ń": "pl", "ś": "pl", "ź": "pl", "ż": "pl", "ć": "pl",
    "ě": "cs", "ř": "cs", "ů": "cs", "č": "cs sk sl lt lv", "š": "cs sk sl lt lv", "ž": "cs sk sl lt lv",
    "ľ": "sk", "ĺ": "sk", "ŕ": "sk", "ô": "sk fr vi",
    "ă": "ro vi", "ș": "ro", "ț": "ro", "ş": "ro tr", "ţ": "ro", "î": "ro fr",
    "ğ": "tr", "ı": "tr",
    "ė": "lt", "į": "lt", "ų": "lt", "ū": "lt lv",
    "ā": "lv", "ē": "lv", "ģ": "lv", "ī": "lv", "ķ": "lv", "ļ": "lv", "ņ": "lv",
    "ã": "pt", "ç": "pt fr tr",
    "ñ": "es", "¿": "es", "¡": "es",
    "œ": "fr", "è": "fr it", "ê": "fr pt vi", "à": "fr it pt", "ù": "fr it", "ë": "fr nl",
    "ì": "it", "ò": "it",
    **dict.fromkeys("ơưđạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ", "vi"),
}
_LETTER_LANGS = {letter: langs.split() for letter, langs in _LETTERS.items()}

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _script_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for char in text:
        point = ord(char)
        if point < 0x0370:
            if char.isalpha():
                counts["latin"] = counts.get("latin", 0) + 1
            continue
        for first, last, name in _SCRIPTS:
            if first <= point <= last:
                counts[name] = counts.get(name, 0) + 1
                break
        else:
            if "LATIN" in unicodedata.name(char, ""):
                counts["latin"] = counts.get("latin", 0) + 1
    return counts


_CYRILLIC_WORDS = {
    "ru": frozenset("и в не на я что он с как это по но вы мы они у был была так все всё его очень когда этот вас дела".split()),
    "bg": frozenset("и в не на аз че той с как това по но вие ние те е са беше много когато този сте ще".split()),
    "uk": frozenset("і в не на я що він з як це по але ви ми вони у був дуже коли цей все справи".split()),
}


def _cyrillic(text: str) -> str:
    lower = text.lower()
    if any(char in lower for char in "іїєґ"):
        return "uk"
    scores = {lang: sum(word in words for word in _WORD.findall(lower)) for lang, words in _CYRILLIC_WORDS.items()}
    # Letters only one of the three uses.
    scores["ru"] += sum(lower.count(char) for char in "ыэё")
    scores["bg"] += lower.count("ъ")
    return max(scores, key=lambda lang: scores[lang])


def _arabic(text: str) -> str:
    # Persian letters Arabic does not use.
    return "fa" if any(char in text for char in "پچژگکی") else "ar"


def _latin(text: str) -> str:
    lower = text.lower()
    scores = dict.fromkeys(_WORD_SETS, 0.0)
    for word in _WORD.findall(lower):
        for lang, words in _WORD_SETS.items():
            if word in words:
                scores[lang] += 2 if len(word) > 1 else 1
    for char in lower:
        for lang in _LETTER_LANGS.get(char, ()):
            scores[lang] += 1
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] > 0 else DEFAULT


def detect(text: str) -> str:
    """The m2m100 code of the text's language; English when nothing tells."""
    counts = _script_counts(text)
    if not counts:
        return DEFAULT
    # Japanese mixes kanji with kana: any kana at all means Japanese.
    if counts.get("ja"):
        return "ja"
    script = max(counts, key=lambda name: counts[name])
    if script == "cyrillic":
        return _cyrillic(text)
    if script == "arabic":
        return _arabic(text)
    if script == "latin":
        return _latin(text)
    return script
