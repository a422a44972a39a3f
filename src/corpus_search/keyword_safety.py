"""Whoosh's own files read without running what they hold.

Whoosh keeps its schema, segment list and term infos as pickles and binds pickle and marshal loaders
in many modules at import time. `whoosh_safely` swaps every one of them for a restricted unpickler
before Whoosh opens anything, and `check_toc` refuses a table of contents in a format whose loader
could run code. This is the one module that names the raw loaders (tests/test_reliability.py).
"""

from __future__ import annotations

import importlib
import io
import marshal  # only to take marshal's loaders away from Whoosh; nothing of ours is marshalled
import pickle  # only to refuse foreign objects in Whoosh's own files; nothing of ours is pickled
import sys
import types
from pathlib import Path

from corpus_search.errors import IndexMissingError
from corpus_search.keyword_analysis import INDEX_NAME

# Whoosh keeps its schema, segment list and term infos as pickles. Loading a pickle can run
# any code, so every load Whoosh does goes through an unpickler that only builds plain containers
# and the Whoosh classes our own schema and codec write, each named exactly (the manifest's
# checksums are checked before, too). "Any whoosh.* name" is not safe: `whoosh.compat.exec_` is
# exec, and a protocol-4 pickle can reach `os.system` as "whoosh.index" / "os.system".
_SAFE_GLOBALS = {
    ("builtins", n) for n in ("set", "frozenset", "dict", "list", "tuple", "object", "bytearray", "slice", "range",
                              "int", "float", "str", "bytes", "bool", "complex")
} | {("copyreg", "_reconstructor"), ("_codecs", "encode"), ("collections", "defaultdict"), ("collections", "OrderedDict"),
     ("array", "array"), ("array", "_array_reconstructor"), ("re", "_compile"), ("datetime", "datetime")}
_WHOOSH_GLOBALS = {
    ("whoosh.analysis.analyzers", "CompositeAnalyzer"),
    ("whoosh.analysis.filters", "CharsetFilter"),
    ("whoosh.analysis.filters", "LowercaseFilter"),
    ("whoosh.analysis.morph", "StemFilter"),
    ("whoosh.analysis.tokenizers", "IDTokenizer"),
    ("whoosh.analysis.tokenizers", "RegexTokenizer"),
    ("whoosh.codec.whoosh3", "W3Codec"),
    ("whoosh.codec.whoosh3", "W3Segment"),
    ("whoosh.fields", "ID"),
    ("whoosh.fields", "Schema"),
    ("whoosh.fields", "TEXT"),
    ("whoosh.formats", "Existence"),
    ("whoosh.formats", "Frequency"),
    ("whoosh.formats", "Positions"),
    ("whoosh.lang.porter", "stem"),
}
# The only table-of-contents format Whoosh 2.7 writes. Whoosh sends any other version it knows
# (-110) to whoosh.legacy, whose RenamingUnpickler imports whatever a pickle names, so the version
# is read and refused here before Whoosh opens the file.
TOC_VERSION = -111
# Whoosh modules that bind a deserialiser at import time; each is imported, then patched, up front.
_WHOOSH_LOADING_MODULES = (
    "whoosh.compat", "whoosh.index", "whoosh.legacy", "whoosh.util.loading", "whoosh.filedb.structfile",
    "whoosh.filedb.fileindex", "whoosh.filedb.compound", "whoosh.filedb.filetables", "whoosh.codec.whoosh3",
    "whoosh.codec.plaintext", "whoosh.columns", "whoosh.formats", "whoosh.externalsort", "whoosh.multiproc",
)
_patched = False


class WhooshOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        # Whoosh writes protocol 2, which names Python 2's modules; the unpickler maps them.
        plain = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        if (plain, name) in _SAFE_GLOBALS or (module, name) in _WHOOSH_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"the keyword index holds a foreign object ({module}.{name}); refusing it")


def safe_load(file):
    return WhooshOnlyUnpickler(file).load()


def safe_loads(data, *args, **kwargs):
    return WhooshOnlyUnpickler(io.BytesIO(data)).load()


def _refuse_marshal(*args, **kwargs):
    raise pickle.UnpicklingError("the keyword index holds marshalled data, which this version never writes; "
                                 "refusing it")


class _NoRenamingUnpickler(WhooshOnlyUnpickler):
    """Whoosh's legacy RenamingUnpickler imports any name it is given; ours admits the same names as any load."""

    def __init__(self, f, objmap=None, shortcuts=None):
        super().__init__(f)


def whoosh_safely():
    """Route every pickle Whoosh loads through the restricted unpickler; close its legacy loaders (once per process).

    Every Whoosh module that binds a loader at import time is imported here and each binding replaced:
    pickle.load(s) by the restricted unpickler, marshal.load(s) by a refusal, the pickle and marshal
    modules by namespaces holding those, RenamingUnpickler by the restricted unpickler. Modules imported
    later get the patched whoosh.compat names. tests/test_index_trust.py imports every Whoosh module
    afterwards and checks that no raw loader is left anywhere.
    """
    global _patched
    if _patched:
        return
    # Whoosh is imported here, not at the top: `--help` and commands that open no index start without it.
    for name in _WHOOSH_LOADING_MODULES:
        importlib.import_module(name)
    import whoosh.index
    import whoosh.legacy
    import whoosh.util.loading

    safe_pickle = types.SimpleNamespace(
        load=safe_load, loads=safe_loads, dump=pickle.dump, dumps=pickle.dumps, Unpickler=WhooshOnlyUnpickler,
        Pickler=pickle.Pickler, PicklingError=pickle.PicklingError, UnpicklingError=pickle.UnpicklingError,
        HIGHEST_PROTOCOL=pickle.HIGHEST_PROTOCOL)
    safe_marshal = types.SimpleNamespace(load=_refuse_marshal, loads=_refuse_marshal, dump=marshal.dump,
                                         dumps=marshal.dumps)
    swap = {id(pickle.load): safe_load, id(pickle.loads): safe_loads, id(pickle.Unpickler): WhooshOnlyUnpickler,
            id(pickle._Unpickler): WhooshOnlyUnpickler, id(marshal.load): _refuse_marshal,
            id(marshal.loads): _refuse_marshal, id(pickle): safe_pickle, id(marshal): safe_marshal,
            id(whoosh.util.loading.RenamingUnpickler): _NoRenamingUnpickler}
    for modname, module in list(sys.modules.items()):
        if modname == "whoosh" or modname.startswith("whoosh."):
            for attr, value in list(vars(module).items()):
                if id(value) in swap:
                    setattr(module, attr, swap[id(value)])
    # No legacy table-of-contents loader at all: check_toc refuses other versions first, and this
    # makes sure a TOC swapped in after that check is not read by whoosh.legacy either.
    whoosh.legacy.toc_loaders.clear()
    whoosh.index.toc_loaders.clear()
    _patched = True


def check_toc(folder: Path) -> None:
    """Refuse a keyword index whose newest table of contents is not in the format we write, before Whoosh reads it."""
    # Whoosh on first use only, as in whoosh_safely.
    from whoosh.filedb.filestore import FileStorage
    from whoosh.filedb.structfile import StructFile
    from whoosh.index import TOC
    from whoosh.system import _FLOAT_SIZE, _INT_SIZE, _LONG_SIZE

    try:
        storage = FileStorage(str(folder), readonly=True)
        gen = TOC._latest_generation(storage, INDEX_NAME)  # the same file Whoosh will read
        if gen < 0:
            raise IndexMissingError(f"keyword index {folder} has no table of contents; run `corpus-search build`")
        with open(folder / TOC._filename(INDEX_NAME, gen), "rb") as f:
            head = f.read(64)
    except OSError as exc:
        raise IndexMissingError(f"keyword index {folder} is unreadable ({exc.strerror}); "
                                "run `corpus-search build`") from None
    expected = io.BytesIO()
    writer = StructFile(expected)
    for size in (_INT_SIZE, _LONG_SIZE, _FLOAT_SIZE):
        writer.write_varint(size)
    writer.write_int(-12345)
    prefix = expected.getvalue()
    writer.write_int(TOC_VERSION)
    if not head.startswith(expected.getvalue()):
        found = "unknown"
        if head.startswith(prefix) and len(head) >= len(prefix) + 4:
            found = str(StructFile(io.BytesIO(head[len(prefix):])).read_int())
        raise IndexMissingError(
            f"keyword index {folder} has a table of contents in format {found}; this version reads only "
            f"{TOC_VERSION} (older formats load through code that can run what the file holds), so it is "
            "refused; run `corpus-search build`")
