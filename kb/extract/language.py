"""The language of extracted text, as an ISO 639-1 code (py3langid, offline, deterministic)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from kb import taxonomy

# The first characters say enough: a long document costs no more than a short one. 5,000
# (a page and a half) gave the same answer as 20,000 for 200 of 200 UN speeches, at a fifth
# of the time (py3langid's cost grows with the text: 21 ms -> 4 ms a document).
MAX_CHARS = 5_000
# Below this many letters (a title, a number table) any guess is noise.
MIN_LETTERS = 40
# Probability (py3langid's normalised score) below which we answer "unknown".
MIN_CONFIDENCE = 0.5

# The programme's languages are far likelier in its documents than their close neighbours
# (Bulgarian for Russian, Galician for Spanish, Macedonian for Serbian): a prior that only
# decides short, ambiguous texts; in a paragraph the text's own evidence outweighs it.
PROGRAMME_LANGUAGES = ("en", "fr", "es", "ru", "ro", "sr", "ar")
PROGRAMME_PRIOR = 3.0

_LETTER = re.compile(r"[^\W\d_]")

# Varieties py3langid tells apart that ISO 639-1 files under one code.
_MACROLANGUAGE = {"arz": "ar", "ary": "ar", "uzs": "uz", "gug": "gn", "yue": "zh", "wuu": "zh"}

# Serbian, Croatian and Bosnian share one grammar and most words; no statistical detector we
# measured labels Serbian in Latin script as Serbian (they answer hr or bs). What tells them
# apart is the reflex of the old vowel yat: Serbian as written in Serbia is ekavian
# ("vreme", "gde", "izveštaj"), Croatian and Bosnian are ijekavian ("vrijeme", "gdje",
# "izvještaj"). Frequent words, ekavian form first; no ekavian form here is a word of the
# ijekavian standards. Stems match any word they begin; short words match only whole.
_YAT_STEMS = (
    ("izvešt", "izvješ"), ("obavešt", "obavješt"), ("vešt", "vješt"), ("proleć", "proljeć"),
    ("sledeć", "sljedeć"), ("uspeš", "uspješ"), ("neuspe", "neuspje"), ("primen", "primjen"),
    ("promen", "promjen"), ("izmen", "izmjen"), ("zamen", "zamjen"), ("bezbed", "bezbjed"),
    ("savet", "savjet"), ("predlog", "prijedlog"), ("prevod", "prijevod"),
    ("mesec", "mjesec"), ("meseč", "mjeseč"), ("ponedelj", "ponedjelj"), ("odelj", "odjelj"),
    ("delatn", "djelatn"), ("opredelj", "opredjelj"), ("razume", "razumje"),
    ("zahtev", "zahtjev"), ("rešen", "rješen"), ("rešav", "rješav"), ("svetsk", "svjetsk"),
    ("deteta", "djeteta"), ("sprečav", "sprječav"), ("obezbed", "obezbijed"),
    ("mešov", "mješov"), ("menja", "mijenja"), ("mesta", "mjesta"),
    ("celokup", "cjelokup"), ("verovat", "vjerovat"), ("primer", "primjer"),
    ("posled", "posljed"), ("nasled", "nasljed"), ("ocen", "ocjen"),
)
_YAT_WORDS = (
    ("vreme", "vrijeme"), ("mesto", "mjesto"), ("mestu", "mjestu"), ("deca", "djeca"),
    ("dece", "djece"), ("deci", "djeci"), ("decom", "djecom"), ("dete", "dijete"),
    ("reč", "riječ"), ("reči", "riječi"), ("svet", "svijet"), ("svetu", "svijetu"),
    ("gde", "gdje"), ("pre", "prije"), ("posle", "poslije"), ("ovde", "ovdje"),
    ("uvek", "uvijek"), ("vek", "vijek"), ("veka", "vijeka"), ("ceo", "cijeli"),
    ("cela", "cijela"), ("celo", "cijelo"), ("celog", "cijelog"), ("deo", "dio"),
    ("delu", "dijelu"), ("delova", "dijelova"), ("delovi", "dijelovi"), ("mera", "mjera"),
    ("mere", "mjere"), ("merama", "mjerama"), ("cena", "cijena"), ("cene", "cijene"),
    ("lepo", "lijepo"), ("belo", "bijelo"), ("beli", "bijeli"), ("levo", "lijevo"),
    ("telo", "tijelo"), ("vesti", "vijesti"), ("reka", "rijeka"), ("reke", "rijeke"),
    ("procena", "procjena"), ("procene", "procjene"), ("videti", "vidjeti"),
    ("želeti", "željeti"), ("hteti", "htjeti"), ("unapred", "unaprijed"),
    ("napred", "naprijed"),
)
_YAT_WORD = {e: "e" for e, _ in _YAT_WORDS} | {i: "ije" for _, i in _YAT_WORDS}
_YAT_STEM = {e: "e" for e, _ in _YAT_STEMS} | {i: "ije" for _, i in _YAT_STEMS}
_STEM_LENGTHS = sorted({len(stem) for stem in _YAT_STEM}, reverse=True)
_BCMS = ("sr", "hr", "bs")
# Cyrillic letters of Serbian that Macedonian lacks, and the reverse.
_SERBIAN_CYRILLIC = frozenset("ђћЂЋ")
_MACEDONIAN_CYRILLIC = frozenset("ѓќѕЃЌЅ")
_WORD = re.compile(r"[^\W\d_]+")


@cache
def _identifier() -> Any:
    # Imported here: loading the model takes about a second and 100 MB, paid once per process.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _is_cyrillic(sample: str) -> bool:
    cyrillic = sum(1 for ch in sample if "\u0400" <= ch <= "\u04ff")
    return cyrillic * 2 > sum(1 for ch in sample if ch.isalpha())


def _serbo_croatian(sample: str, scores: dict[str, float]) -> str:
    """Choose among sr, hr and bs where statistics cannot: by script, then by the yat reflex."""
    if _is_cyrillic(sample):
        return "sr"  # Croatian is never, and Bosnian rarely, written in Cyrillic
    ekavian = ijekavian = 0
    for word in _WORD.findall(sample.lower()):
        reflex = _YAT_WORD.get(word) or next(
            (_YAT_STEM[word[:n]] for n in _STEM_LENGTHS if word[:n] in _YAT_STEM), None)
        ekavian += reflex == "e"
        ijekavian += reflex == "ije"
    if ekavian > ijekavian:
        return "sr"
    candidates = ("hr", "bs") if ijekavian > ekavian else _BCMS
    return max(candidates, key=lambda code: scores.get(code, 0.0))


def detect(text: str) -> str | None:
    """The ISO 639-1 code of the text's language; None for too little text or no clear answer."""
    sample = " ".join(text[:MAX_CHARS].split())
    if len(_LETTER.findall(sample, 0, MIN_LETTERS * 20)) < MIN_LETTERS \
            and len(_LETTER.findall(sample)) < MIN_LETTERS:
        return None
    scores: dict[str, float] = {}
    for label, probability in _identifier().rank(sample):
        code = _MACROLANGUAGE.get(label, label)
        scores[code] = scores.get(code, 0.0) + float(probability)
    for code in PROGRAMME_LANGUAGES:
        if code in scores:
            scores[code] *= PROGRAMME_PRIOR
    total = sum(scores.values()) or 1.0
    scores = {code: score / total for code, score in scores.items()}
    best = max(scores, key=lambda code: scores[code])  # ties: first in py3langid's ranking
    confidence = scores[best]
    if best in _BCMS:
        confidence = sum(scores.get(code, 0.0) for code in _BCMS)
        best = _serbo_croatian(sample, scores)
    elif best == "mk":
        letters = set(sample)
        if letters & _SERBIAN_CYRILLIC and not letters & _MACEDONIAN_CYRILLIC:
            confidence += scores.get("sr", 0.0)
            best = "sr"
    if confidence < MIN_CONFIDENCE or not taxonomy.is_valid("language", best):
        return None
    return best
