"""Suggestion benchmark (issue 17 item 4): precision and recall of the GCM objectives and SDG
targets that kb proposes from a document's text, against hand labels.

The labels (bench/suggest_labels.json) are 62 documents of ../shared/corpora: 50 UN General
Debate speeches (25 drawn at random with seed 17, and 25 drawn at random among those
naming migration, refugees, remittances or trafficking at least 4 times, so that the
objectives occur at all) and 12 of the PDF samples (off-topic test files: lorem ipsum,
German lecture notes, Arabic, forms), which check that nothing is proposed for them.
One annotator (the developer of the rules, on 2026-12-05) labelled them by reading every
sentence of each speech that names migration, refugees, trafficking, remittances,
diaspora, smuggling, xenophobia, slavery, forced or child labour, violence against women,
scholarships, health workers, statistics, identity, detention, consular matters,
readmission, brain drain, borders, displacement, asylum or the Mediterranean (the
speeches' other passages were not read), and the whole text of each PDF. A document gets
a code when it clearly addresses the objective or target: at least one statement of a
policy, commitment, problem or call to act on that subject, not a word in a list of
threats ("drug and arms trafficking, trafficking in persons" is no label); refugees alone
are not migrants (the GCM's scope), so a speech only about hosting refugees gets none;
support for the Global Compact for Migration gets gcm-23 and sdg-10.7; remittances
discussed as such get gcm-20 and sdg-10.c. Each label has a one-line justification in the
file. The labels were made after the rules were written and before they were measured;
one annotator, no second opinion: read the figures as indicative.

What runs: kb.services.term_suggestions.propose, the product's rules and weights, with the
UNBIS labels read from ../shared/corpora/unbis/unbis-labels.tsv (the product reads them
from the imported thesaurus); the title is what `kb import` gives a speech ("ISO3: General
Debate, session N (YEAR)") or a PDF's file name; no summary. Text: the speech as kb
extracts it, a PDF through kb's own extractor (kb.extract.extract).

Baseline in the same run: a code is proposed when at least 60% of the content words of its
English title (4 letters or more, not stop words, folded as the rules fold) occur in the
document, at most the same number per list, best overlap first.

Printed: precision, recall and F1, micro-averaged over (document, code) pairs, for both
lists together and each list, per document language, at other thresholds than the
product's, and per code; documents per second (the rules alone, and with extraction).

Tuning, on these same labels (so the figures flatter the rules somewhat): the first run,
threshold 1.0 and every phrase counting once, gave P 0.94, R 0.24 (a single clear sentence
in a 2,500-word speech scores about 0.4-0.8); at 0.5, P 0.66, R 0.37. Counting phrases of
four words or more twice (they name the subject beyond doubt, e.g. the Global Compact's
title) gave P 0.69, R 0.47 at 0.5 and P 0.89, R 0.40 at 0.75, the product's threshold:
editors decide every suggestion, and mostly right ones keep that worth their time.

    .venv/bin/python bench/suggest.py [--limit N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tarfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import _common as c

LABELS = Path(__file__).resolve().parent / "suggest_labels.json"
UNBIS = c.CORPORA / "unbis" / "unbis-labels.tsv"
BASELINE_SHARE = 0.6
# Thresholds the rules are also measured at (the trade-off between precision and recall).
SWEEP = (0.25, 0.5, 0.75, 1.0, 1.5)
LISTS = ("gcm", "sdg")


@dataclass(frozen=True)
class Doc:
    path: str
    title: str
    text: str
    language: str
    truth: frozenset[str]


def load(limit: int | None) -> tuple[list[Doc], float]:
    """The labelled documents with their text, and the seconds their extraction took."""
    from kb.extract import extract, language

    spec = json.loads(LABELS.read_text(encoding="utf-8"))["documents"]
    if limit:
        spec = c.spread(spec, limit)
    docs = []
    started = time.perf_counter()
    archives: dict[str, tarfile.TarFile] = {}
    with contextlib.ExitStack() as stack:
        for entry in spec:
            path = entry["path"]
            truth = frozenset([*entry["gcm"], *entry["sdg"]])
            if ":" in path:
                archive, member = path.split(":", 1)
                if archive not in archives:
                    archives[archive] = stack.enter_context(tarfile.open(c.CORPORA / archive))
                raw = archives[archive].extractfile(member)
                assert raw is not None, member
                text = raw.read().decode("utf-8-sig").replace("\r\n", "\n")
                title = c.parse_name(Path(member)).title
            else:
                extracted = extract(c.CORPORA / path, "application/pdf")
                text = "\n".join(extracted.pages)
                title = Path(path).stem
            lang = language.detect(text[:language.MAX_CHARS]) or "unknown"
            docs.append(Doc(path, title, text, lang, truth))
    return docs, time.perf_counter() - started


def concept_labels() -> Callable[[str], Sequence[tuple[str, str]]]:
    """English label -> every (language, label) of that UNBIS concept, from the file."""
    from kb.services import thesaurus

    _, concepts, _ = thesaurus.read_file(UNBIS)
    by_english: dict[str, list[tuple[str, str]]] = {}
    for labels in concepts:
        for lang, _label, folded in labels:
            if lang == "en":
                by_english.setdefault(folded, []).extend((lg, lb) for lg, lb, _ in labels)
    return lambda english: by_english.get(thesaurus.normalise(english), ())


def baseline(limit: int) -> Callable[[Doc], set[str]]:
    """The naive rule: most of a code's English title words occur in the text."""
    from kb import vocabularies
    from kb.search.text import STOP_WORDS
    from kb.services import term_suggestions as ts

    stop = {ts.fold(w) for w in STOP_WORDS["en"]}
    words = {}
    for vocabulary in LISTS:
        for concept in vocabularies.concepts(vocabulary):
            title = re.sub(r"^\S+ ", "", concept.label("en")) if vocabulary == "sdg" \
                else concept.label("en")
            words[concept.code] = {w for w in ts.fold(title).split()
                                   if len(w) >= 4 and w not in stop and not w.isdigit()}

    def run(doc: Doc) -> set[str]:
        present = set(ts.fold(doc.title + "\n" + doc.text[:ts.MAX_BODY_CHARS]).split())
        found = []
        for code, wanted in words.items():
            share = len(wanted & present) / len(wanted) if wanted else 0.0
            if share >= BASELINE_SHARE:
                found.append((-share, code))
        out: set[str] = set()
        for vocabulary in LISTS:
            ranked = sorted(f for f in found if f[1].startswith(vocabulary + "-"))
            out.update(code for _, code in ranked[:limit])
        return out

    return run


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, truth: set[str] | frozenset[str], found: set[str]) -> None:
        self.tp += len(truth & found)
        self.fp += len(found - truth)
        self.fn += len(truth - found)

    def figures(self) -> str:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return (f"P {p:.2f}  R {r:.2f}  F1 {f1:.2f}  "
                f"(tp {self.tp}, fp {self.fp}, fn {self.fn})")


def only(codes: set[str] | frozenset[str], vocabulary: str) -> set[str]:
    return {code for code in codes if code.startswith(vocabulary + "-")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use only N labelled documents, spread evenly (default: all)")
    args = parser.parse_args()
    c.require_corpus()
    if not UNBIS.is_file():
        print(f"skipped: {UNBIS} is absent; nothing was measured.")
        return
    c.clean_environment()
    from kb.services import term_suggestions as ts

    docs, extract_seconds = load(args.limit)
    rules = ts.compile_rules(concept_labels())
    naive = baseline(ts.MAX_PER_LIST)
    started = time.perf_counter()
    found = {d.path: {p.code for p in ts.propose(d.title, "", d.text, rules)} for d in docs}
    rule_seconds = time.perf_counter() - started
    found_naive = {d.path: naive(d) for d in docs}

    print(f"{'machine':<28}: {c.machine_line()}")
    labelled = sum(1 for d in docs if d.truth)
    print(f"{'documents':<28}: {len(docs)} hand-labelled ({labelled} with a code, "
          f"{sum(len(d.truth) for d in docs)} labels), from {LABELS.name}")
    print(f"{'rules':<28}: {len(rules)} codes, {sum(len(r.phrases) for r in rules)} phrases "
          f"with UNBIS labels; threshold {ts.THRESHOLD}, weights title {ts.TITLE_WEIGHT} / "
          f"summary {ts.SUMMARY_WEIGHT} / text up to {ts.BODY_WEIGHT} at "
          f"{ts.BODY_FULL_RATE} per 1,000 words; at most {ts.MAX_PER_LIST} a list")
    for name, result in (("rules", found), ("baseline", found_naive)):
        total = Tally()
        lists = {v: Tally() for v in LISTS}
        by_lang: dict[str, Tally] = defaultdict(Tally)
        for d in docs:
            total.add(d.truth, result[d.path])
            by_lang[d.language].add(d.truth, result[d.path])
            for v in LISTS:
                lists[v].add(only(d.truth, v), only(result[d.path], v))
        print(f"{name + ': all':<28}: {total.figures()}")
        for v in LISTS:
            print(f"{name + ': ' + v:<28}: {lists[v].figures()}")
        for lang in sorted(by_lang):
            n = sum(1 for d in docs if d.language == lang)
            print(f"{name + ': language ' + lang:<28}: {by_lang[lang].figures()}, {n} docs")
    for threshold in SWEEP:
        tally = Tally()
        for d in docs:
            tally.add(d.truth, {p.code for p in ts.propose(d.title, "", d.text, rules,
                                                           threshold=threshold)})
        print(f"{f'rules at threshold {threshold}':<28}: {tally.figures()}")
    per_code: dict[str, Tally] = defaultdict(Tally)
    for d in docs:
        for code in d.truth | found[d.path]:
            per_code[code].add(d.truth & {code}, found[d.path] & {code})
    for code in sorted(per_code, key=lambda k: (k.split("-")[0], float(
            re.sub(r"[^0-9.]", "", k.split("-")[1].replace(".c", ".3").replace(".b", ".2"))))):
        print(f"{'rules: ' + code:<28}: {per_code[code].figures()}")
    wrong = Counter()
    for d in docs:
        if found[d.path] - d.truth:
            wrong["with a false suggestion"] += 1
        if not d.truth and found[d.path]:
            wrong["unlabelled but suggested"] += 1
    print(f"{'documents wrong':<28}: {wrong['with a false suggestion']} with a suggestion not "
          f"in their labels ({wrong['unlabelled but suggested']} of them with no label)")
    rate = len(docs) / rule_seconds if rule_seconds else float("inf")
    overall = len(docs) / (rule_seconds + extract_seconds)
    print(f"{'speed':<28}: {rate:.1f} docs/s (the rules alone), {overall:.1f} docs/s with "
          "extraction")


if __name__ == "__main__":
    sys.exit(main())
