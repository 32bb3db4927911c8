"""Today's misses of the differential oracle, each with the reason in our code.

``tests/safety/test_oracle.py`` checks this list strictly both ways: a variant that misses
and is not listed fails the test, and so does a listed variant that no longer misses
(remove it when its fix lands).  A miss is what :func:`tests.safety.oracle.measure.misses`
reports: a payload a loader runs that is not ``malicious`` (single file or folder scan),
an attack that does not run and is not at least ``suspicious``, a benign look-alike
called ``malicious``, or a file whose single and folder verdicts differ.

Reasons name the file, function and rule responsible (paths below ``pthforensics/``).
"""

from __future__ import annotations

__all__ = ["KNOWN_MISSES", "REASONS"]

WALK_INFO = (
    "safety/rules.py::_judge_torch: a module under torch.nn.functional (any name), or under "
    "torch.nn/torch.optim with a capitalised last component, is 'torch-module-class' (info); "
    "a protocol-4 dotted name is a getattr walk (find_class) that leaves torch "
    "(np.savetxt, threading._os.mknod, tarfile.TarFile, fx.graph_module._exec_with_source)"
)
WALK_CLASS_SUSPICIOUS = (
    "safety/rules.py::rule_globals: a walk from torch._utils / a third-party root is "
    "'unknown(-torch)-global' (suspicious) and is upgraded to 'unknown-function-call' only "
    "when its last component reads as a function (_is_function_name); a class at the end "
    "of the walk (logging.FileHandler, io.FileIO) stays suspicious even when called"
)
WALK_PROTOCOL2 = (
    "safety/rules.py::judge_global ignores the protocol: under protocol < 4 _pickle.c does one "
    "getattr of the whole dotted name, which cannot resolve (a broken global), yet the "
    "walk's root makes it info (clean) instead of at least suspicious"
)
CALLEE_NAMED = (
    "safety/static_scan.py::scan_stream marks as called only the callable of REDUCE/NEWOBJ/"
    "INST/OBJ; a global handed to an allow-listed function that calls its argument "
    "(torch._tensor._rebuild_from_type_v2/_rebuild_from_type: func(*args); numpy "
    "__randomstate_ctor/__generator_ctor: ctor(name); copyreg._reconstructor: base.__init__; "
    "functools.partial called by LambdaLR's lr_lambda(0)) is only 'named', so rules.py::"
    "rule_globals grades it unknown-global (suspicious)"
)
ZIP_DIRECTORY_SHIFT = (
    "container/zipread.py::read_zip_directory shifts every offset by "
    "eocd - cd_size - cd_offset ('prepended data'); miniz reads the directory at cd_offset as "
    "written, so a second directory (or an end record hidden in the comment) makes us read "
    "other bytes than torch: error 'local header missing or corrupt' / 'entry 0 is corrupt'"
)
ZIP_SKIPPED_DIRS = (
    "container/reader.py::_Reader._zip_member returns early for members under code/, "
    "constants/, extra/, .data/ not named *.pkl: a pickle staged there is never scanned"
)
ZIP_CASE_SNIFF = (
    "container/reader.py::_Reader._zip finds data.pkl by exact case-sensitive name and reads "
    "other members only if named *.pkl (case-sensitive) or sniffed as pickles; miniz's "
    "getRecord is case-insensitive, so DATA.PKL whose first opcode evades "
    "safety/opcodes.py::looks_like_pickle is what torch unpickles and we never read"
)
ZIP_ROOT = (
    "container/reader.py::_Reader._zip takes the archive root from the first */data.pkl "
    "(data/x/) while torch takes the first central-directory name's root (data/): torch's "
    "data/data.pkl is then a tensor storage 'data/<key>' here, sniffed only by "
    "read_hidden_pickles (and missed when its first opcode evades the sniff)"
)
SNIFF_MEMBER = (
    "safety/opcodes.py::looks_like_pickle (used by container/reader.py::_zip_member and "
    "read_hidden_pickles) rejects a member whose first opcode is outside "
    "_PICKLE_FIRST_BYTES (SHORT_BINBYTES here), though CPython unpickles it"
)
MIDINT_MEMBER = (
    "safety/static_scan.py::scan_stream decodes with pickletools.genops, whose INT/LONG "
    "text parsing is int(x) base 10 while _pickle.c load_int/load_long use strtol / "
    "PyLong_FromString base 0 ('0x10', '0o7', '0b1'): the walk stops (malformed-pickle, "
    "suspicious) before the payload; object streams are rescued by pipeline.py::_Scan."
    "tree_of (stub pass), member and nested streams are not"
)
MIDINT_FAST_PATH = (
    "same pickletools number parsing (safety/static_scan.py) on a walk whose globals are "
    "info: the single-file (opcode) scan stops at the INT ('malformed', suspicious) while "
    "the folder's fast path (pipeline.py::_Scan._fast, C stub unpickler) reads it to the end "
    "and finds only info globals (clean): two verdicts for one file, neither malicious"
)
SNIFF = (
    "safety/opcodes.py::looks_like_pickle: a first byte outside _PICKLE_FIRST_BYTES "
    "(C/B/T/L/\\x8b/\\x8f/\\x96), or protocol-0 text pickletools cannot parse (I0x0), is "
    "'not a pickle': container/reader.py::sniff raises ContainerError (single: error) and "
    "batch/discover.py::_is_checkpoint drops the file (folder: absent)"
)
POLYGLOT_SNIFF = (
    "container/reader.py::_Reader.read: a file whose head safety/opcodes.py::looks_like_pickle "
    "rejects but that holds a zip end record is read as a zip only, so the pickle torch.load "
    "runs (the file does not start with PK\\x03\\x04) is never scanned (clean); "
    "batch/discover.py::_is_checkpoint drops it from folders (absent)"
)
LEGACY_SPLIT = (
    "container/legacy.py::LegacyFormats._pickle_at splits the legacy stream with "
    "safety/opcodes.py::simple_values (pickletools): the protocol pickle starting I0x0 breaks "
    "it ('legacy-truncated'), the rest is one malformed stream judged on its prefix"
)
TAR_V7 = (
    "container/reader.py::sniff knows tar only by 'ustar' at offset 257; torch.load's "
    "legacy_load opens any tarfile (V7 headers carry no magic), so error / absent"
)
NESTED_DELIVERY = (
    "nested bytes for torch.storage._load_from_bytes are found only as BINBYTES literals or "
    "latin-1 text starting with PICKLE_TEXT_START (safety/static_scan.py) or as "
    "_codecs.encode(text, *) stubs decoded as latin-1 whatever the codec "
    "(safety/unpickle.py::find_pickle_values); latin-1 text of a zip ('PK'), utf-16-le text, "
    "builtins.bytes(list) / bytearray(list) reach the nested torch.load unscanned, and the "
    "call itself is only 'gadget-global' (suspicious)"
)
NESTED_SNIFF = (
    "pipeline.py::_Scan._nested takes embedded bytes only when safety/opcodes.py::"
    "looks_like_nested (the sniff) accepts them: a nested pickle whose first opcode evades "
    "it is never scanned"
)
FP_COMPONENT = (
    "safety/rules.py::judge_global matches _DANGEROUS_COMPONENTS against every component of "
    "the module path: a user package path holding 'code' or 'sh' is dangerous-global"
)
FP_TORCH_C = (
    "safety/rules.py::_judge_torch: torch._C is in _TORCH_DANGEROUS, but torch._C._nn.gelu "
    "is how F.gelu pickles (activation functions stored in configs)"
)
FP_NAME = (
    "safety/rules.py::judge_global: _DANGEROUS_NAMES ('main') is matched on a user function "
    "that is only named, never called"
)
FP_BITFLIP_STDLIB = (
    "safety/rules.py::judge_global: every standard-library name outside the allow-list is "
    "'stdlib-global' / 'dangerous-global' (malicious), even one that exists in no module "
    "(a flipped byte: loading it fails, it runs nothing)"
)
FP_BITFLIP_CALL = (
    "safety/rules.py::rule_globals: a called torch._utils name that does not exist "
    "(_rebuild_tensoq_v2) becomes 'unknown-function-call' (malicious) instead of corrupt"
)
CORRUPT_CLEAN = (
    "safety/rules.py::_judge_torch: a flipped torch.nn class name (Lineas) is "
    "'torch-module-class' info, so the file is clean; issue 9 wants 'suspicious, corrupt'"
)
FP_LEGACY_MODULE = (
    "legacy torch.save of a full model stores each class as a persistent id "
    "('module', cls, file, source) and NEWOBJs the persistent_load result: "
    "safety/static_scan.py pushes _UNKNOWN for BINPERSID, so rules.py::rule_computed_calls "
    "calls it a gadget chain (computed-callable, malicious)"
)
FP_GRAPH_MODULE = (
    "safety/rules.py::_judge_torch: torch.fx is in _TORCH_DANGEROUS, so a real pickled "
    "GraphModule (torch.fx.graph_module.reduce_graph_module, source exec'd on load) is "
    "malicious; issue 9: judge its code (suspicious when it only calls torch ops)"
)

#: Every reason, by name (for reports).
REASONS: dict[str, str] = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, str)
}

#: Variant name -> reason.
KNOWN_MISSES: dict[str, str] = {
    "1-walk/torch.nn.functional:np.savetxt/stack/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:np.savetxt/global/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:np.savetxt/memo/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:np.savetxt/stack/reduce/none/zip.pt": WALK_INFO,
    "1-walk/torch.nn.functional:np.savetxt/global/reduce/proto-switch/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:np.lib._datasource._open/stack/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:np.lib._datasource._open/global/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:np.lib._datasource._open/memo/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:np.lib._datasource._open/stack/reduce/none/zip.pt": WALK_INFO,
    "1-walk/torch.nn.functional:np.lib._datasource._open/global/reduce/proto-switch/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.threading._os.mknod/stack/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.threading._os.mknod/global/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.threading._os.mknod/memo/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.threading._os.mknod/stack/reduce/none/zip.pt": WALK_INFO,
    "1-walk/torch.nn.functional:torch.threading._os.mknod/global/reduce/proto-switch/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:dataclasses.inspect.tokenize._builtin_open/stack/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:dataclasses.inspect.tokenize._builtin_open/global/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:dataclasses.inspect.tokenize._builtin_open/memo/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:dataclasses.inspect.tokenize._builtin_open/stack/reduce/none/zip.pt": WALK_INFO,
    "1-walk/torch.nn.functional:dataclasses.inspect.tokenize._builtin_open/global/reduce/proto-switch/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.fx.graph_module._exec_with_source/stack/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.fx.graph_module._exec_with_source/global/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.fx.graph_module._exec_with_source/memo/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.fx.graph_module._exec_with_source/stack/reduce/none/zip.pt": WALK_INFO,
    "1-walk/torch.nn.functional:torch.fx.graph_module._exec_with_source/global/reduce/proto-switch/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.serialization.tarfile.TarFile/stack/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.serialization.tarfile.TarFile/global/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.serialization.tarfile.TarFile/memo/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.serialization.tarfile.TarFile/stack/reduce/none/zip.pt": WALK_INFO,
    "1-walk/torch.nn.functional:torch.serialization.tarfile.TarFile/global/reduce/proto-switch/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.hub.zipfile.ZipFile/stack/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.hub.zipfile.ZipFile/global/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.hub.zipfile.ZipFile/memo/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:torch.hub.zipfile.ZipFile/stack/reduce/none/zip.pt": WALK_INFO,
    "1-walk/torch.nn.functional:torch.hub.zipfile.ZipFile/global/reduce/proto-switch/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.attention._registry:logging.FileHandler/stack/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.attention._registry:logging.FileHandler/global/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.attention._registry:logging.FileHandler/memo/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.attention._registry:logging.FileHandler/stack/reduce/none/zip.pt": WALK_INFO,
    "1-walk/torch.nn.attention._registry:logging.FileHandler/global/reduce/proto-switch/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.modules.module:inspect.dis.io.FileIO/stack/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.modules.module:inspect.dis.io.FileIO/global/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.modules.module:inspect.dis.io.FileIO/memo/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.modules.module:inspect.dis.io.FileIO/stack/reduce/none/zip.pt": WALK_INFO,
    "1-walk/torch.nn.modules.module:inspect.dis.io.FileIO/global/reduce/proto-switch/raw.pkl": WALK_INFO,
    "1-walk/torch._utils:logging.FileHandler/stack/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch._utils:logging.FileHandler/global/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch._utils:logging.FileHandler/memo/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch._utils:logging.FileHandler/stack/reduce/none/zip.pt": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch._utils:logging.FileHandler/global/reduce/proto-switch/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch._utils:logging.io.FileIO/stack/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch._utils:logging.io.FileIO/global/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch._utils:logging.io.FileIO/memo/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch._utils:logging.io.FileIO/stack/reduce/none/zip.pt": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch._utils:logging.io.FileIO/global/reduce/proto-switch/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/typing_extensions:io.FileIO/stack/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/typing_extensions:io.FileIO/global/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/typing_extensions:io.FileIO/memo/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/typing_extensions:io.FileIO/stack/reduce/none/zip.pt": WALK_CLASS_SUSPICIOUS,
    "1-walk/typing_extensions:io.FileIO/global/reduce/proto-switch/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "1-walk/torch.nn.functional:np.savetxt/binstring/reduce/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:np.savetxt/stack/reduce/none/legacy-3.pt": WALK_INFO,
    "1-walk/torch.nn.functional:np.savetxt/stack/obj/none/raw.pkl": WALK_INFO,
    "1-walk/torch.nn.functional:np.savetxt/global/reduce/protocol-2/raw.pkl": WALK_PROTOCOL2,
    "2-caller/numpy:savetxt/stack/rebuild_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/numpy:savetxt/stack/rebuild_v2/none/zip.pt": CALLEE_NAMED,
    "2-caller/numpy:savetxt/stack/rebuild_v1/none/raw.pkl": CALLEE_NAMED,
    "2-caller/numpy:savetxt/stack/partial_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/numpy:savetxt/stack/lambdalr/none/raw.pkl": CALLEE_NAMED,
    "2-caller/typing_extensions:get_type_hints/stack/rebuild_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/typing_extensions:get_type_hints/stack/rebuild_v2/none/zip.pt": CALLEE_NAMED,
    "2-caller/typing_extensions:get_type_hints/stack/rebuild_v1/none/raw.pkl": CALLEE_NAMED,
    "2-caller/typing_extensions:get_type_hints/stack/randomstate_ctor/none/raw.pkl": CALLEE_NAMED,
    "2-caller/typing_extensions:get_type_hints/stack/randomstate_ctor/none/zip.pt": CALLEE_NAMED,
    "2-caller/typing_extensions:get_type_hints/stack/generator_ctor/none/raw.pkl": CALLEE_NAMED,
    "2-caller/typing_extensions:get_type_hints/stack/partial_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/networkx:write_adjlist/stack/rebuild_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/networkx:write_adjlist/stack/rebuild_v2/none/zip.pt": CALLEE_NAMED,
    "2-caller/networkx:write_adjlist/stack/rebuild_v1/none/raw.pkl": CALLEE_NAMED,
    "2-caller/networkx:write_adjlist/stack/partial_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/numpy.lib._format_impl:open_memmap/stack/rebuild_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/numpy.lib._format_impl:open_memmap/stack/rebuild_v2/none/zip.pt": CALLEE_NAMED,
    "2-caller/numpy.lib._format_impl:open_memmap/stack/rebuild_v1/none/raw.pkl": CALLEE_NAMED,
    "2-caller/numpy.lib._format_impl:open_memmap/stack/partial_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch.nn.parallel.parallel_apply:threading._os.mknod/stack/rebuild_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch.nn.parallel.parallel_apply:threading._os.mknod/stack/rebuild_v2/none/zip.pt": CALLEE_NAMED,
    "2-caller/torch.nn.parallel.parallel_apply:threading._os.mknod/stack/rebuild_v1/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch.nn.parallel.parallel_apply:threading._os.mknod/stack/randomstate_ctor/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch.nn.parallel.parallel_apply:threading._os.mknod/stack/randomstate_ctor/none/zip.pt": CALLEE_NAMED,
    "2-caller/torch.nn.parallel.parallel_apply:threading._os.mknod/stack/generator_ctor/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch.nn.parallel.parallel_apply:threading._os.mknod/stack/partial_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch._utils:logging.FileHandler/stack/reduce/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "2-caller/torch._utils:logging.FileHandler/stack/obj/none/raw.pkl": WALK_CLASS_SUSPICIOUS,
    "2-caller/torch._utils:logging.FileHandler/stack/rebuild_v2/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch._utils:logging.FileHandler/stack/rebuild_v2/none/zip.pt": CALLEE_NAMED,
    "2-caller/torch._utils:logging.FileHandler/stack/rebuild_v1/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch._utils:logging.FileHandler/stack/randomstate_ctor/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch._utils:logging.FileHandler/stack/randomstate_ctor/none/zip.pt": CALLEE_NAMED,
    "2-caller/torch._utils:logging.FileHandler/stack/generator_ctor/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch._utils:logging.FileHandler/stack/reconstructor/none/raw.pkl": CALLEE_NAMED,
    "2-caller/torch._utils:logging.FileHandler/stack/partial_v2/none/raw.pkl": CALLEE_NAMED,
    "3-zip/plain/decoy-directory": ZIP_DIRECTORY_SHIFT,
    "3-zip/plain/eocd-in-comment-evil-hidden": ZIP_DIRECTORY_SHIFT,
    "3-zip/plain/eocd-in-comment-good-hidden": ZIP_DIRECTORY_SHIFT,
    "3-zip/plain/staged-archive_extra_notes.txt": ZIP_SKIPPED_DIRS,
    "3-zip/plain/staged-archive_code___torch___m.py": ZIP_SKIPPED_DIRS,
    "3-zip/plain/staged-archive_constants_0": ZIP_SKIPPED_DIRS,
    "3-zip/plain/staged-archive_.data_notes": ZIP_SKIPPED_DIRS,
    "3-zip/lead/case-DATA.PKL": ZIP_CASE_SNIFF,
    "3-zip/lead/case-Data.pkl": ZIP_CASE_SNIFF,
    "3-zip/lead/case-data.PKL": ZIP_CASE_SNIFF,
    "3-zip/lead/case-dup-evil-first": ZIP_CASE_SNIFF,
    "3-zip/lead/case-dup-good-first": ZIP_CASE_SNIFF,
    "3-zip/lead/decoy-directory": ZIP_DIRECTORY_SHIFT,
    "3-zip/lead/eocd-in-comment-evil-hidden": ZIP_DIRECTORY_SHIFT,
    "3-zip/lead/eocd-in-comment-good-hidden": ZIP_DIRECTORY_SHIFT,
    "3-zip/lead/staged-archive_extra_notes.txt": ZIP_SKIPPED_DIRS,
    "3-zip/lead/staged-archive_code___torch___m.py": ZIP_SKIPPED_DIRS,
    "3-zip/lead/staged-archive_constants_0": ZIP_SKIPPED_DIRS,
    "3-zip/lead/staged-archive_.data_notes": ZIP_SKIPPED_DIRS,
    "3-zip/lead/staged-archive_notes.txt": SNIFF_MEMBER,
    "3-zip/lead/staged-archive_data_0": SNIFF_MEMBER,
    "3-zip/lead/root-data-prefix": ZIP_ROOT,
    "3-zip/lead/pickle-then-zip": POLYGLOT_SNIFF,
    "3-zip/midint/case-dup-evil-first": MIDINT_MEMBER,
    "3-zip/midint/case-dup-good-first": MIDINT_MEMBER,
    "3-zip/midint/dup-good-first": MIDINT_MEMBER,
    "3-zip/midint/decoy-directory": ZIP_DIRECTORY_SHIFT,
    "3-zip/midint/eocd-in-comment-evil-hidden": ZIP_DIRECTORY_SHIFT,
    "3-zip/midint/eocd-in-comment-good-hidden": ZIP_DIRECTORY_SHIFT,
    "3-zip/midint/staged-archive_extra_notes.txt": ZIP_SKIPPED_DIRS,
    "3-zip/midint/staged-archive_code___torch___m.py": ZIP_SKIPPED_DIRS,
    "3-zip/midint/staged-archive_constants_0": ZIP_SKIPPED_DIRS,
    "3-zip/midint/staged-archive_.data_notes": ZIP_SKIPPED_DIRS,
    "3-zip/midint/staged-archive_notes.txt": MIDINT_MEMBER,
    "3-zip/midint/staged-archive_data_0": MIDINT_MEMBER,
    "3-zip/midint/staged-archive_extra_x.pkl": MIDINT_MEMBER,
    "3-zip/midint/root-data-prefix": MIDINT_MEMBER,
    "3-zip/midint/nested-root": MIDINT_MEMBER,
    "4-sniff/os:system/stack/reduce/lead-short-binbytes/raw.pkl": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-short-binbytes/raw.pth": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-short-binbytes/raw": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-binbytes/raw.pkl": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-binbytes/raw.pth": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-binbytes/raw": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-binstring/raw.pkl": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-binstring/raw.pth": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-binstring/raw": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-empty-set/raw.pkl": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-empty-set/raw.pth": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-empty-set/raw": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-bytearray8/raw.pkl": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-bytearray8/raw.pth": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-bytearray8/raw": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-long/raw.pkl": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-long/raw.pth": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-long/raw": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-long4/raw.pkl": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-long4/raw.pth": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-long4/raw": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-int-hex/raw.pkl": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-int-hex/raw.pth": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-int-hex/raw": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-int-hex/legacy-1.pt": LEGACY_SPLIT,
    "4-sniff/os:system/stack/reduce/lead-short-binbytes/raw.txt": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-short-binbytes/raw.json": SNIFF,
    "4-sniff/os:system/stack/reduce/lead-binbytes/legacy-0.pt": SNIFF,
    "4-sniff/os:system/stack/reduce/none/tarv7-storages.pt": TAR_V7,
    "4-sniff/os:system/stack/reduce/none/tarv7-pickle.pt": TAR_V7,
    "4-sniff/os:system/stack/reduce/none/tarv7-sys_info.pt": TAR_V7,
    "4-sniff/os:system/stack/reduce/lead-long/tarv7-storages.pkl": TAR_V7,
    "5-semantics/torch.nn.functional:torch.threading._os.mknod/stack/reduce/mid-int-hex/raw.pkl": MIDINT_FAST_PATH,
    "5-semantics/torch.nn.functional:torch.threading._os.mknod/stack/reduce/mid-int-octal/raw.pkl": MIDINT_FAST_PATH,
    "5-semantics/torch.nn.functional:torch.threading._os.mknod/stack/reduce/mid-long-hex/raw.pkl": MIDINT_FAST_PATH,
    "5-semantics/torch.nn.functional:torch.threading._os.mknod/stack/reduce/mid-int-binary/raw.pkl": MIDINT_FAST_PATH,
    "6-nested/os:system/stack/reduce/lead-short-binbytes/nested-raw-binbytes.pkl": NESTED_SNIFF,
    "6-nested/os:system/stack/reduce/mid-int-hex/nested-binbytes.pkl": MIDINT_MEMBER,
    "6-nested/os:system/stack/reduce/none/nested-latin1.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/lead-short-binbytes/nested-raw-latin1.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/mid-int-hex/nested-latin1.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/none/nested-utf16.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/none/nested-raw-utf16.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/lead-short-binbytes/nested-raw-utf16.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/mid-int-hex/nested-utf16.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/none/nested-list.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/none/nested-raw-list.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/lead-short-binbytes/nested-raw-list.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/mid-int-hex/nested-list.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/none/nested-bytearray.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/none/nested-raw-bytearray.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/lead-short-binbytes/nested-raw-bytearray.pkl": NESTED_DELIVERY,
    "6-nested/os:system/stack/reduce/mid-int-hex/nested-bytearray.pkl": NESTED_DELIVERY,
    "6-nested/torch.nn.functional:np.savetxt/stack/reduce/none/nested-binbytes.pkl": WALK_INFO,
    "6-nested/zip(zip)/latin1+binbytes.pkl": NESTED_DELIVERY,
    "7-code/gm-walk-functional/raw": WALK_INFO,
    "7-code/gm-walk-functional/zip": WALK_INFO,
    "7-code/gm-forward-from-src/raw": WALK_INFO,
    "7-code/gm-forward-from-src/zip": WALK_INFO,
    "benign/user-class-mypkg.code.model.Net": FP_COMPONENT,
    "benign/user-class-tools.sh.layers.Block": FP_COMPONENT,
    "benign/named-torch._C._nn.gelu": FP_TORCH_C,
    "benign/named-mypkg.cli.main": FP_NAME,
    "benign/bitflip-collections.OrderedDicu": FP_BITFLIP_STDLIB,
    "benign/bitflip-torch._utils._rebuild_tensoq_v2": FP_BITFLIP_CALL,
    "benign/bitflip-torch.nn.modules.linear.Lineas": CORRUPT_CLEAN,
    "benign/bitflip-builtins.dicu": FP_BITFLIP_STDLIB,
    "benign/torch-save-full-model-legacy": FP_LEGACY_MODULE,
    "benign/torch-save-graph-module-zip": FP_GRAPH_MODULE,
    "benign/torch-save-graph-module-legacy": FP_GRAPH_MODULE,
}
