"""Hostile index folders: nothing in one can run code, an index from elsewhere needs `trust`, tampering is caught.

Every payload below creates a file named `m` in the working directory when unpickled by plain `pickle`
(each test proves its payload real in a subprocess first); the tests run with that directory as cwd and
assert the file never appears while corpus-search opens, searches or trusts an index carrying it.
"""

from __future__ import annotations

import html
import io
import json
import os
import pickle
import pickletools
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from corpus_search.api import Corpus
from corpus_search.errors import IndexMissingError
from corpus_search.generations import MANIFEST, Generations, write_manifest
from corpus_search.keyword_index import INDEX_NAME

ROOT = Path(__file__).resolve().parents[1]
RECORD = 'id = "a2016"\ntitle = "Excerpt"\nauthors = ["Ann Author"]\nyear = 2016\ntype = "report"\n'
QUERIES = ["Russia China", '"Russia and China"', "pipe*", "(gas OR oil) NOT Europe"]


# -- payloads: each creates ./m when loaded by plain pickle ------------------------------------------


class _Call:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _short(text: str) -> bytes:
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


# Shortest forms (pickletools.optimize drops unused memo writes), so they fit in more of the index's pickles.
PAYLOADS = {
    **{f"os.system REDUCE protocol {p}": pickletools.optimize(pickle.dumps(_Call(os.system, ">m"), protocol=p))
       for p in range(6)},
    "builtins.exec": pickletools.optimize(pickle.dumps(_Call(exec, "open('m','w')"), protocol=2)),
    "whoosh.compat.exec_ (STACK_GLOBAL)": b"\x80\x04" + _short("whoosh.compat") + _short("exec_") + b"\x93"
    + _short("open('m','w')") + b"\x85R.",
    "dotted whoosh.index / os.system": b"\x80\x04" + _short("whoosh.index") + _short("os.system") + b"\x93"
    + _short(">m") + b"\x85R.",
    "INST": b"(V>m\nios\nsystem\n.",
    "OBJ": b"(cos\nsystem\nV>m\no.",
    "NEWOBJ": b"\x80\x02cfunctools\npartial\ncos\nsystem\nV>m\n\x86\x81)R.",
}


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_every_payload_is_real(name, tmp_path):
    """The same bytes under a plain pickle.loads do run: the tests below would see a real attack."""
    code = "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"
    subprocess.run([sys.executable, "-c", code], input=PAYLOADS[name], cwd=tmp_path, check=True, timeout=60)
    assert (tmp_path / "m").exists()


# -- a small index, built once with key A ----------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)


def _cli(index: Path, *args: str, cwd: Path, key: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "corpus_search", "--index", str(index), *args], input=stdin,
                          capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=_env(CORPUS_SEARCH_SECRET_FILE=str(key)))


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("trust")
    corpus = base / "corpus"
    corpus.mkdir()
    text = (ROOT / "corpus" / "makocki-popescu-2016-chaillot.txt").read_text(encoding="utf-8")[:8000]
    (corpus / "a.txt").write_text(text[: text.rfind("\n\n")] + "\n", encoding="utf-8")
    (corpus / "a.toml").write_text(RECORD, encoding="utf-8")
    key = base / "key-a" / "secret.key"
    done = subprocess.run([sys.executable, "-m", "corpus_search", "--corpus", str(corpus), "--index",
                           str(base / "index"), "build"], capture_output=True, text=True, timeout=600,
                          env=_env(CORPUS_SEARCH_SECRET_FILE=str(key)))
    assert done.returncode == 0, done.stderr
    return {"index": base / "index", "key": key}


@pytest.fixture
def key_a(built, monkeypatch) -> Path:
    monkeypatch.setenv("CORPUS_SEARCH_SECRET_FILE", str(built["key"]))
    return built["key"]


@pytest.fixture
def copy(built, tmp_path, key_a, monkeypatch) -> Path:
    """A copy of the index; the working directory is where a payload would create its file."""
    index = shutil.copytree(built["index"], tmp_path / "index")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return index


def _open_and_search(index: Path) -> str | None:
    """Open and search as a user would; None when it answered, else the one-line error."""
    try:
        c = Corpus.open(index)
        try:
            for q in QUERIES:
                c.search(q, mode="keyword")
            c.search("Russia", mode="keyword", doc_ids=["a2016"], kinds=["body"])
        finally:
            c.close()
    except IndexMissingError as exc:
        assert "\n" not in str(exc)
        return str(exc)
    return None


def _rekey(gen: Path) -> None:
    """Re-hash the manifest as `trust` (or an attacker holding the key) would: checksums match the payload."""
    write_manifest(gen, json.loads((gen / MANIFEST).read_text()))


# -- keys: an index from elsewhere needs `trust` ---------------------------------------------------------


def test_the_key_is_created_once_readable_by_its_owner_only(built):
    assert built["key"].stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(built["key"].read_text().strip())) == 32
    assert str(built["key"].parent) not in str(built["index"])


@pytest.mark.parametrize("content", ["not a key\n", "00ff\n", ""])
def test_a_damaged_key_file_is_one_clear_line(built, tmp_path, content):
    key = tmp_path / "secret.key"
    key.write_text(content)
    done = _cli(built["index"], "search", "Russia", "--mode", "keyword", cwd=tmp_path, key=key)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: the index key {key} is not a key (32 bytes in hex); remove it (a new one is made, and indexes "
        "must then be trusted or rebuilt) or set CORPUS_SEARCH_SECRET_FILE to another file"]
    assert key.read_text() == content  # never replaced behind the user's back


def test_an_index_built_with_another_key_is_refused_until_trusted(built, copy, tmp_path, monkeypatch):
    key_b = tmp_path / "key-b" / "secret.key"
    monkeypatch.setenv("CORPUS_SEARCH_SECRET_FILE", str(key_b))
    with pytest.raises(IndexMissingError) as exc:
        Corpus.open(copy)
    message = str(exc.value)
    assert f"corpus-search trust {copy}" in message and "corpus-search build" in message

    done = _cli(copy, "search", "Russia", "--mode", "keyword", cwd=tmp_path, key=key_b)
    assert done.returncode == IndexMissingError.exit_code
    assert done.stderr.strip().splitlines() == [f"error: {message}"]

    refused = _cli(copy, "trust", cwd=tmp_path, key=key_b, stdin="n\n")
    assert refused.returncode != 0 and "not trusted" in refused.stderr
    assert _cli(copy, "search", "Russia", cwd=tmp_path, key=key_b).returncode == IndexMissingError.exit_code

    trusted = _cli(copy, "trust", str(copy), cwd=tmp_path, key=key_b, stdin="y\n")
    assert trusted.returncode == 0, trusted.stderr
    assert "trusted" in trusted.stdout
    done = _cli(copy, "search", "Russia China", "--mode", "keyword", "--json", cwd=tmp_path, key=key_b)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["results"]
    # Re-keyed for this installation, it is now foreign to the one it came from.
    done = _cli(copy, "search", "Russia", cwd=tmp_path, key=built["key"])
    assert done.returncode == IndexMissingError.exit_code and "corpus-search trust" in done.stderr


def test_trust_refuses_an_index_other_backends_wrote_and_says_how_to_rebuild(copy, tmp_path):
    """Our loaders are only ours for what our backends wrote: such a folder is refused by name, never re-keyed."""
    gen = Generations(copy).current()
    manifest = json.loads((gen / MANIFEST).read_text())
    manifest["keyword_backend"] = "tantivy"
    (gen / MANIFEST).write_text(json.dumps(manifest))
    sent = (gen / MANIFEST).read_bytes()
    key_b = tmp_path / "key-b" / "secret.key"
    done = _cli(copy, "trust", "--yes", str(copy), cwd=tmp_path, key=key_b)
    assert done.returncode == IndexMissingError.exit_code, done.stderr
    assert "Traceback" not in done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "written by the keyword backend 'tantivy', not 'whoosh'" in error[0]
    assert "CORPUS_SEARCH_KEYWORD_BACKEND=tantivy" in error[0] and "`corpus-search build`" in error[0]
    assert (gen / MANIFEST).read_bytes() == sent  # not re-keyed: it still opens nowhere
    assert _cli(copy, "search", "Russia", cwd=tmp_path, key=key_b).returncode == IndexMissingError.exit_code


def test_a_changed_file_with_plain_checksums_rehashed_is_refused(copy):
    """What an attacker without the key can do: change a file and re-hash the manifest the unkeyed way."""
    import hashlib

    gen = Generations(copy).current()
    store = gen / "store.sqlite"
    data = store.read_bytes()
    store.write_bytes(data.replace(b"Russia", b"Prussi"))
    manifest = json.loads((gen / MANIFEST).read_text())
    for rel, info in manifest["files"].items():
        digest = hashlib.blake2b((gen / rel).read_bytes(), digest_size=16).hexdigest()
        info.update(size=(gen / rel).stat().st_size, blake2b=digest)
        if "mac" in info:
            info["mac"] = hashlib.blake2b((gen / rel).read_bytes(), digest_size=32).hexdigest()
    (gen / MANIFEST).write_text(json.dumps(manifest))
    message = _open_and_search(copy)
    assert message is not None and "corpus-search trust" in message


def test_an_unlisted_file_in_a_generation_is_refused(copy):
    """Whoosh reads the newest table of contents it finds, listed in the manifest or not."""
    gen = Generations(copy).current()
    toc = next((gen / "keyword").glob("*.toc"))
    shutil.copy(toc, gen / "keyword" / f"_{INDEX_NAME}_99.toc")
    c = None
    with pytest.raises(IndexMissingError, match="not in the manifest"):
        c = Corpus.open(copy)
    assert c is None


# -- the table of contents: only the format we write, never Whoosh's legacy loader ------------------------


def _toc_parts(data: bytes) -> tuple[bytes, int, bytes, int, int, bytes]:
    """(header before the version, version, release, schema pickle, generation, counter, segments pickle)."""
    from whoosh.filedb.structfile import StructFile

    s = StructFile(io.BytesIO(data))
    for _ in range(3):
        s.read_varint()
    s.read_int()
    head = data[: s.tell()]
    version = s.read_int()
    release = data[s.tell(): s.tell() + 3]
    for _ in range(3):
        s.read_varint()
    schema = s.read_string()
    gen, counter = s.read_int(), s.read_int()
    return head, version, release, schema, gen, counter, data[s.tell():]


def _toc(head: bytes, version: int, release: bytes, schema: bytes, gen: int, counter: int, segments: bytes) -> bytes:
    from whoosh.filedb.structfile import StructFile

    buf = io.BytesIO()
    s = StructFile(buf)
    s.write(head)
    s.write_int(version)
    s.write(release)
    s.write_varint(len(schema))  # -111 reads a string (varint length + bytes); -110 a varint length, then a stream
    s.write(schema)
    s.write_int(gen)
    s.write_int(counter)
    s.write(segments)
    return buf.getvalue()


TOC_PLACES = ["schema", "segments", "legacy -110 schema", "legacy -110 segments", "version -112"]


def _plant_in_toc(index: Path, place: str, payload: bytes) -> None:
    gen = Generations(index).current()
    toc = next((gen / "keyword").glob("*.toc"))
    head, version, release, schema, g, counter, segments = _toc_parts(toc.read_bytes())
    if place == "schema":
        schema = payload
    elif place == "segments":
        segments = payload
    elif place == "legacy -110 schema":
        version, schema = -110, payload
    elif place == "legacy -110 segments":
        version, segments = -110, payload
    else:
        version = -112
    toc.write_bytes(_toc(head, version, release, schema, g, counter, segments))
    _rekey(gen)


@pytest.mark.parametrize("place", TOC_PLACES)
@pytest.mark.parametrize("name", list(PAYLOADS))
def test_a_payload_in_the_table_of_contents_never_runs(copy, place, name):
    _plant_in_toc(copy, place, PAYLOADS[name])
    message = _open_and_search(copy)
    assert not Path("m").exists(), f"{name} in the TOC's {place} ran"
    assert message is not None and "keyword index" in message
    if place.startswith("legacy") or place.startswith("version"):
        assert "table of contents in format" in message


@pytest.mark.parametrize("place", ["schema", "legacy -110 schema"])
def test_cli_search_and_trust_of_a_hostile_table_of_contents_run_nothing(built, tmp_path, place):
    index = shutil.copytree(built["index"], tmp_path / "index")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORPUS_SEARCH_SECRET_FILE", str(built["key"]))
        _plant_in_toc(index, place, PAYLOADS["os.system REDUCE protocol 2"])
    for key in (built["key"], tmp_path / "key-b" / "secret.key"):
        done = _cli(index, "search", '"Russia and China"', "--mode", "keyword", cwd=tmp_path, key=key)
        assert done.returncode == IndexMissingError.exit_code, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: "), done.stderr
        assert not (tmp_path / "m").exists()
    # Trusting it (with another key) is refused too: it must not make the folder openable.
    key_b = tmp_path / "key-b" / "secret.key"
    done = _cli(index, "trust", "--yes", cwd=tmp_path, key=key_b)
    assert done.returncode == IndexMissingError.exit_code and "nothing in" in done.stderr, done.stderr
    assert not (tmp_path / "m").exists()


# -- every other pickle in the keyword folder ------------------------------------------------------------


def _pickle_spans(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of every well-formed pickle (protocol 2+) inside a file."""
    spans, i = [], 0
    while (i := data.find(b"\x80", i)) >= 0:
        if i + 1 < len(data) and 2 <= data[i + 1] <= 5:
            try:
                end = next(i + pos + 1 for op, _, pos in pickletools.genops(data[i:]) if op.name == "STOP")
                spans.append((i, end))
                i = end
                continue
            except Exception:  # not a pickle: random bytes that start like one
                pass
        i += 1
    return spans


def _whoosh_everything(folder: Path) -> tuple[int, int]:
    """Read every term's postings and every stored document through our patched Whoosh; (reads, refusals)."""
    from whoosh import index as windex

    from corpus_search.keyword_index import KeywordIndex

    KeywordIndex.open(folder).close()  # patches Whoosh, checks the TOC
    ix = windex.open_dir(str(folder), indexname=INDEX_NAME, readonly=True)
    reads = refusals = 0
    with ix.reader() as reader:
        for fieldname, text in list(reader.all_terms()):
            reads += 1
            try:
                list(reader.postings(fieldname, text).all_items())
            except pickle.UnpicklingError:
                refusals += 1
        for docnum in range(reader.doc_count_all()):
            reads += 1
            try:
                reader.stored_fields(docnum)
            except pickle.UnpicklingError:
                refusals += 1
    ix.close()
    return reads, refusals


def test_the_keyword_folder_holds_pickles_only_where_we_plant_them(built, key_a):
    """The fuzz below covers the TOC and the segment file; nothing else in the folder is a pickle."""
    keyword = Generations(built["index"]).current() / "keyword"
    bearing = {p.name.rsplit(".", 1)[-1] for p in keyword.iterdir() if _pickle_spans(p.read_bytes())}
    assert bearing == {"toc", "seg"}
    assert _whoosh_everything(keyword)[1] == 0


def _zlib_pickle_spans(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of every zlib stream that inflates to a pickle (Whoosh compresses its posting blocks)."""
    spans, i = [], 0
    while i < len(data) - 2:
        if data[i] == 0x78 and data[i + 1] in (0x01, 0x5E, 0x9C, 0xDA):
            inflate = zlib.decompressobj()
            try:
                out = inflate.decompress(data[i:])
            except zlib.error:
                out = b""
            if inflate.eof and out[:1] == b"\x80" and _pickle_spans(out)[:1] == [(0, len(out))]:
                end = len(data) - len(inflate.unused_data)
                spans.append((i, end))
                i = end
                continue
        i += 1
    return spans


# Where a segment file (a Whoosh compound file) keeps pickles: its directory and the term table's
# header (its field map), both read at open; each posting block's header (a small tuple, read when a
# query reads the term's postings) and its data (zlib-compressed); the stored fields (zlib-compressed).
SEGMENT_PLACES = ["compound directory", "term table header", "posting block headers", "posting block data",
                  "stored fields"]


def _subfiles(seg: Path) -> dict[str, tuple[int, int]]:
    """Suffix of each file packed in the compound segment file -> its byte range there."""
    from whoosh.filedb.compound import CompoundStorage
    from whoosh.filedb.structfile import StructFile

    from corpus_search.keyword_safety import whoosh_safely

    whoosh_safely()  # the directory is itself a pickle: read it through our loader
    storage = CompoundStorage(StructFile(open(seg, "rb")), use_mmap=False)
    ranges = {name.split(".", 1)[1]: (d["offset"], d["offset"] + d["length"]) for name, d in storage._dir.items()}
    storage.close()
    return ranges


def _plant_in_segment(seg: Path, place: str, payload: bytes) -> int:
    """Replace every pickle of one kind in the segment file by the payload where it fits; how many were."""
    from whoosh.filedb.structfile import StructFile

    sub = _subfiles(seg)
    data = bytearray(seg.read_bytes())
    directory = StructFile(io.BytesIO(bytes(data[:8]))).read_long()  # where the compound file keeps its directory

    def within(spans, suffix):
        lo, hi = sub[suffix]
        return [(a, b) for a, b in spans if lo <= a and b <= hi]

    plain = _pickle_spans(bytes(data))
    if place == "compound directory":
        spans = [(a, b) for a, b in plain if a == directory]
    elif place == "term table header":
        spans = within(plain, "trm")
    elif place == "posting block headers":
        spans = within(plain, "pst")
    else:
        spans = within(_zlib_pickle_spans(bytes(data)), "pst" if place == "posting block data" else "_stored.col")
        payload = zlib.compress(payload, 3)
    spans = [(a, b) for a, b in spans if b - a >= len(payload)]
    for a, b in spans:
        data[a:b] = payload + b"\x00" * (b - a - len(payload))  # padding after the end is never read
    seg.write_bytes(bytes(data))
    return len(spans)


@pytest.mark.parametrize("place", SEGMENT_PLACES)
@pytest.mark.parametrize("name", list(PAYLOADS))
def test_payloads_in_every_pickle_of_the_segment_never_run(copy, name, place):
    """Each pickle of one kind in the segment file replaced by the payload where it fits, the rest of the
    file left in place, the manifest re-keyed as `trust` would."""
    gen = Generations(copy).current()
    planted = _plant_in_segment(next((gen / "keyword").glob("*.seg")), place, PAYLOADS[name])
    if not planted:
        pytest.skip(f"{name} ({len(PAYLOADS[name])} bytes) is longer than every {place} pickle")
    _rekey(gen)
    message = _open_and_search(copy)
    assert message is None or "keyword index" in message
    try:  # then everything Whoosh can load: every term's postings, every stored document
        reads, refusals = _whoosh_everything(gen / "keyword")
        assert refusals, f"none of {reads} reads reached one of the {planted} planted payloads"
        seen = f"{refusals} of {reads} reads refused"
    except IndexMissingError as exc:
        assert message is not None and "foreign object" in str(exc)
        seen = "refused at open"
    print(f"\n[trust] {name} in {planted} {place}: search: {'answered' if message is None else 'refused'}; {seen}")
    assert not Path("m").exists(), f"{name} planted in {planted} segment pickles ({place}) ran"


@pytest.mark.parametrize("place", SEGMENT_PLACES)
def test_cli_search_of_a_segment_full_of_payloads_runs_nothing(built, tmp_path, place):
    index = shutil.copytree(built["index"], tmp_path / "index")
    gen = Generations(index).current()
    assert _plant_in_segment(next((gen / "keyword").glob("*.seg")), place, PAYLOADS["os.system REDUCE protocol 2"])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORPUS_SEARCH_SECRET_FILE", str(built["key"]))
        _rekey(gen)
    for query in QUERIES:
        done = _cli(index, "search", query, "--mode", "keyword", cwd=tmp_path, key=built["key"])
        assert not (tmp_path / "m").exists()
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
        if done.returncode:
            assert done.returncode == IndexMissingError.exit_code
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr


NPY_FILES = ["vectors.npy"] + [f"keyword/bm25_{n}.npy" for n in
                                ("terms", "indptr", "df", "docs", "weights", "lengths", "pids", "doc_ids", "kinds")]


@pytest.mark.parametrize("rel", NPY_FILES)
def test_a_pickled_array_in_any_npy_file_never_runs(copy, rel):
    """NumPy files are loaded with allow_pickle=False: an object array (a pickle inside .npy) is never unpickled."""
    import numpy as np

    gen = Generations(copy).current()
    assert (gen / rel).exists()
    with open(gen / rel, "wb") as f:
        np.save(f, np.array([_Call(os.system, ">m")], dtype=object), allow_pickle=True)
    _rekey(gen)
    message = _open_and_search(copy)
    assert not Path("m").exists(), f"the payload in {rel} ran"
    assert message is None or "\n" not in message


# -- no raw loader left anywhere in Whoosh -----------------------------------------------------------------


def test_no_whoosh_module_keeps_a_raw_loader():
    """After our patch, import every Whoosh module (as any later code path might) and look for raw loaders."""
    code = r"""
import importlib, marshal, pickle, pkgutil, sys
from corpus_search import keyword_safety
keyword_safety.whoosh_safely()
import whoosh
for m in pkgutil.walk_packages(whoosh.__path__, "whoosh."):
    try:
        importlib.import_module(m.name)
    except Exception:
        pass  # modules that cannot even import (Whoosh 1 leftovers) cannot load anything either
raw = {id(x) for x in (pickle.load, pickle.loads, pickle.Unpickler, pickle._Unpickler, marshal.load,
                       marshal.loads, pickle, marshal)}
left = [f"{n}.{a}" for n, mod in list(sys.modules.items()) if n.startswith("whoosh")
        for a, v in vars(mod).items() if id(v) in raw
        or (isinstance(v, type) and issubclass(v, pickle.Unpickler)
            and not issubclass(v, keyword_safety.WhooshOnlyUnpickler))]
import whoosh.index, whoosh.legacy
left += [f"toc loader {v}" for v in list(whoosh.index.toc_loaders) + list(whoosh.legacy.toc_loaders)]
print("\n".join(left))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


# -- the app ---------------------------------------------------------------------------------------------


def test_the_app_shows_the_one_line_reason_for_an_index_from_elsewhere(copy, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CORPUS_SEARCH_SECRET_FILE", str(tmp_path / "key-b" / "secret.key"))
    monkeypatch.setenv("CORPUS_SEARCH_INDEX", str(copy))
    monkeypatch.setenv("CORPUS_SEARCH_CORPUS", str(ROOT / "corpus"))
    at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    # Escaped for Markdown (render.escape writes entities, which Markdown shows as the characters).
    shown = [html.unescape(e.value) for e in [*at.caption, *at.error]]
    assert any("corpus-search trust" in v and "corpus-search build" in v for v in shown), shown
    assert [h.value for h in at.header] == ["This index is not trusted here"]


def test_links_planted_in_an_index_folder_are_never_written_through(built, copy, tmp_path):
    """A colleague's folder can hold `.lock` or `PUBLISHED.tmp` as a link to one of the user's files:
    trusting, building or publishing must replace the link, never truncate and overwrite its target."""
    victims = {}
    for name in (".lock", "PUBLISHED.tmp", "CURRENT.tmp"):
        victim = tmp_path / f"victim-{len(victims)}.txt"
        victim.write_text("the user's own file\n")
        (copy / name).unlink(missing_ok=True)
        (copy / name).symlink_to(victim)
        victims[name] = victim
    gens = Generations(copy)
    try:
        with gens.lock():
            gens.publish(gens.current())
    except Exception as exc:  # refusing is fine; writing through the link is not
        assert "\n" not in str(exc)
    key_b = tmp_path / "key-b" / "secret.key"
    trusted = _cli(copy, "trust", "--yes", str(copy), cwd=tmp_path, key=key_b)
    assert "Traceback" not in trusted.stderr
    for name, victim in victims.items():
        assert victim.read_text() == "the user's own file\n", name


@pytest.mark.parametrize("damage", ["deep cache", "deep manifest", "manifest files not a mapping"])
def test_hostile_json_in_an_index_folder_is_a_damaged_file_not_an_internal_error(built, copy, tmp_path, damage):
    # JSON nested 100,000 deep raised RecursionError: every command on the folder was an internal error.
    gen = Generations(copy).current()
    deep = "[" * 100_000 + "]" * 100_000
    if damage == "deep cache":
        (copy / ".verified.json").write_text(deep)
    elif damage == "deep manifest":
        (gen / MANIFEST).write_text(deep)
    else:
        (gen / MANIFEST).write_text(json.dumps({"format_version": 1, "files": 5, "counts": 7}))
    search = _cli(copy, "search", "Russia", "--mode", "keyword", cwd=tmp_path, key=built["key"])
    trust = _cli(copy, "trust", "--yes", str(copy), cwd=tmp_path, key=built["key"])
    for done in (search, trust):
        assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    if damage == "deep cache":  # a cache that does not verify is ignored: every file is hashed instead
        assert search.returncode == 0 and "Russia" in search.stdout
    else:
        assert search.returncode != 0 and len(search.stderr.strip().splitlines()) == 1


def test_trust_shows_a_foreign_manifest_without_its_terminal_escapes(built, copy, tmp_path):
    # The sender writes the manifest: "created" holding escapes could erase and rewrite the trust prompt.
    gen = Generations(copy).current()
    manifest = json.loads((gen / MANIFEST).read_text())
    manifest["created"] = "2026\x1b[2K\r\x1b[1A\x1b[2Kgen-000001: built on your machine\x1b]0;title\x07"
    (gen / MANIFEST).write_text(json.dumps(manifest))
    done = _cli(copy, "trust", str(copy), cwd=tmp_path, key=tmp_path / "key-b" / "secret.key", stdin="n\n")
    shown = done.stdout + done.stderr
    assert "gen-000001:" in shown
    assert not any(ch in shown for ch in "\x1b\r\x07"), repr(shown)
