"""What each rule means and what to do about it: the rule metadata of the SARIF output
(and of anyone who wants to explain a ``rule_id``).

A rule id without an entry here (a rule added since) still gets SARIF metadata: a generic
description and the detail of its first finding.  ``tests/report/test_sarif.py`` checks
that every rule the corpus triggers has an entry.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["RULE_HELP", "RuleHelp", "rule_help"]


class RuleHelp(NamedTuple):
    """A rule's short description and its help text (what it means, what to do)."""

    short: str
    help: str


_CODE = "Do not load this file with torch.load(weights_only=False) or pickle."
_TRUST = "Load it only with torch.load(weights_only=True) or from a source you trust."

RULE_HELP: dict[str, RuleHelp] = {
    # Globals and calls a pickle names (safety)
    "dangerous-global": RuleHelp(
        "A global that can run code, spawn processes or touch files or the network",
        f"Unpickling imports and calls it (os.system, subprocess, builtins.exec...). {_CODE}",
    ),
    "dangerous-callable": RuleHelp(
        "A callable that executes code, loads files or pickles, or reaches processes",
        f"The pickle calls a function that loads or runs something. {_CODE}",
    ),
    "dangerous-torch-global": RuleHelp(
        "A torch global that loads files, compiles or runs code",
        f"torch sub-packages such as torch.hub, torch.jit or torch.package run code. {_CODE}",
    ),
    "stdlib-global": RuleHelp(
        "A standard-library global outside the allow-list",
        f"Checkpoints need no standard-library global beyond plain data types. {_CODE}",
    ),
    "dunder-attribute": RuleHelp(
        "A dotted name walking dunder attributes",
        f"Walks such as __self__ or __globals__ reach builtins and arbitrary code. {_CODE}",
    ),
    "unresolved-global": RuleHelp(
        "A global whose name is computed at load time",
        f"No scanner can tell what the loader will import; writers never do this. {_CODE}",
    ),
    "extension-global": RuleHelp(
        "A global named through copyreg's extension registry",
        f"The loading process, not the file, decides what it is. {_CODE}",
    ),
    "computed-callable": RuleHelp(
        "A call on a callable an earlier call returned (a gadget chain)",
        f"Checkpoint writers never emit this; it is how payloads hide their target. {_CODE}",
    ),
    "unknown-function-call": RuleHelp(
        "A call on a function that is not on the allow-list",
        f"Loading calls a function nobody vetted. {_TRUST}",
    ),
    "attribute-walk": RuleHelp(
        "A dotted global that walks attributes from a module (protocol 4)",
        f"find_class does getattr per component: the walk can reach anything the module "
        f"imported. {_CODE}",
    ),
    "corrupt-global": RuleHelp(
        "A global one byte away from a known name that exists nowhere",
        "A damaged file: loading fails at that import and nothing runs. Get a fresh copy.",
    ),
    "global-mutated": RuleHelp(
        "A container operation applied to a global itself",
        f"The loader calls the global's own methods (append, __setitem__...). {_TRUST}",
    ),
    "global-past-stop": RuleHelp(
        "A global named after the point where CPython's unpickler stops",
        f"Not known to be reached (loading fails first), but nothing a writer emits. {_TRUST}",
    ),
    "code-carrier": RuleHelp(
        "A constructor that executes code it is given (a torch.fx GraphModule...)",
        "The code it is given is judged on its own (carries-code). Informational.",
    ),
    "carries-code": RuleHelp(
        "Python source carried in the file and exec'd on load (a pickled GraphModule)",
        "It only calls its submodules, torch operators and builtins, judged statically "
        "(never run). Trust it only as much as its source.",
    ),
    "carried-code-dangerous": RuleHelp(
        "Carried Python source that does more than call submodules and torch operators",
        f"Loading execs it: it imports or calls what can run code or touch files. {_CODE}",
    ),
    "carried-code-unknown": RuleHelp(
        "Source text for a code carrier computed at load time",
        f"No scanner can tell what it execs. {_CODE}",
    ),
    "nested-load": RuleHelp(
        "A loader called on bytes the stream carries (pickle.loads, _load_from_bytes...)",
        "The bytes were scanned as a file of their own with the same rules. Informational.",
    ),
    "nested-load-unknown": RuleHelp(
        "A loader called on bytes computed at load time",
        f"Whatever those bytes hold runs, and no scanner can tell what they are. {_CODE}",
    ),
    "torch-function": RuleHelp(
        "A torch function stored as a value (an activation in a config)",
        "Checkpoints store F.gelu and friends in configurations. Informational.",
    ),
    "build-on-global": RuleHelp(
        "BUILD applied to a global (it sets attributes on a module or class)",
        f"This can rewrite code the loader runs later. {_CODE}",
    ),
    "gadget-global": RuleHelp(
        "A helper that calls what it is given (functools.partial, copyreg...)",
        f"Harmless alone, it is what a payload uses to call something else. {_TRUST}",
    ),
    "unknown-global": RuleHelp(
        "A class or function outside the allow-list",
        f"Loading imports its module and runs that module's code. {_TRUST}",
    ),
    "unknown-torch-global": RuleHelp(
        "A torch global outside the allow-list",
        f"Not one of the globals a plain checkpoint needs. {_TRUST}",
    ),
    "torch-module-class": RuleHelp(
        "A torch.nn/optim class (a pickled full model)",
        "torch.save(model) pickles classes; loading instantiates them. Informational.",
    ),
    "torchscript-class": RuleHelp(
        "A TorchScript class compiled from the archive's own code",
        "The archive is reported as code (torchscript-code). Informational.",
    ),
    "benign-metadata-global": RuleHelp(
        "A configuration type (argparse.Namespace, typing...) allow-listed as metadata",
        "Training scripts save their configuration this way. Informational.",
    ),
    "numpy-object-array": RuleHelp(
        "A NumPy object array (np.load(allow_pickle=True) unpickles it)",
        "Its pickle was scanned like any other. Informational.",
    ),
    # The pickle byte stream
    "malformed-pickle": RuleHelp(
        "A pickle stream that breaks",
        "A loader runs every opcode before the break; the file is judged on that prefix. "
        "A damaged or deliberately confusing file.",
    ),
    "trailing-bytes": RuleHelp(
        "Bytes after the pickle's STOP",
        "pickle.load stops at STOP, but a loader that reads again runs them. A polyglot or "
        "a staged payload.",
    ),
    "nested-pickle": RuleHelp(
        "A bytes value that is itself a pickle",
        "It was scanned too; a loader that unpickles the value runs it. Informational.",
    ),
    "hidden-pickle": RuleHelp(
        "A storage member no tensor uses holds a pickle",
        f"A staged payload for another loader. {_TRUST}",
    ),
    "nested-archive": RuleHelp(
        "A torch archive inside a value", "It was scanned too. Informational."
    ),
    "nested-archive-unreadable": RuleHelp(
        "A torch archive inside a value that cannot be read",
        "Its content was not scanned. Treat the file as unverified.",
    ),
    "nesting-depth-capped": RuleHelp(
        "The object tree nests deeper than the limit",
        "Deeper values were not examined. Informational.",
    ),
    "resource-limit": RuleHelp(
        "A resource limit was hit while reading",
        "Part of the file was not examined; raise the matching --max-* option for a trusted file.",
    ),
    "pickle-zip-polyglot": RuleHelp(
        "A file that is both a pickle and a zip archive",
        "torch.load runs the pickle while zip-based scanners read the archive. "
        "Deliberately confusing.",
    ),
    "opaque-archive": RuleHelp(
        "An archive format that is not opened (zstd, rar, lz4)",
        "What it holds was not scanned. Unpack it and scan the content.",
    ),
    "torchscript-code": RuleHelp(
        "A TorchScript archive (it carries code)",
        "torch.jit.load compiles and runs the code in its code/ members. Trust it only as "
        "much as its source.",
    ),
    "torchscript-code-dangerous": RuleHelp(
        "TorchScript code that does more than call its submodules and torch operators",
        f"torch.jit.load compiles and runs it. {_CODE}",
    ),
    # Zip structure
    "zip-duplicate-name": RuleHelp(
        "Two zip entries share a name",
        "Readers disagree on which counts: a scanner and a loader can read different bytes.",
    ),
    "zip-name-mismatch": RuleHelp(
        "A zip entry's local header names another file",
        "Readers that trust one header or the other read different members.",
    ),
    "zip-encrypted-entry": RuleHelp(
        "A zip entry flagged as encrypted",
        "torch's reader ignores the flag while zipfile-based scanners give up.",
    ),
    "zip-overlapping-entries": RuleHelp(
        "Zip entries whose bytes overlap", "A crafted archive: one byte range, two meanings."
    ),
    "zip-unaccounted-bytes": RuleHelp(
        "Bytes inside the zip that no entry owns", "Room for a hidden payload."
    ),
    "zip-trailing-bytes": RuleHelp(
        "Bytes after the zip's end record", "Room for a hidden payload or a polyglot."
    ),
    "zip-bad-local-header": RuleHelp(
        "A zip local header that cannot be read", "The archive is damaged or crafted."
    ),
    "zip-path-traversal": RuleHelp(
        "A zip member name that leaves the archive folder (../, absolute)",
        "Extracting the archive writes outside the target folder.",
    ),
    "zip-unexpected-member": RuleHelp(
        "A zip member a torch archive does not have", "Extra content beside the checkpoint."
    ),
    "zip-unexpected-pickle": RuleHelp(
        "A pickle in a zip member torch.load does not read",
        f"Another loader might unpickle it. {_TRUST}",
    ),
    "zip-case-duplicate": RuleHelp(
        "Zip members whose names differ only by case",
        "torch's reader matches names case-insensitively: it may open another member "
        "than a scanner reads.",
    ),
    "zip-member-unreadable": RuleHelp(
        "A zip member that cannot be read (damaged or over a limit)",
        "Its content was not scanned. Treat the file as unverified.",
    ),
    "zip-name-outside-root": RuleHelp(
        "Zip members outside the archive root torch takes from the first name",
        "torch refuses the archive while other zip readers list every member.",
    ),
    "zip-other-directory": RuleHelp(
        "A second end record describing another central directory",
        "Different zip readers take different directories; the other one's members were "
        "scanned too.",
    ),
    "zip-refused-by-torch": RuleHelp(
        "An archive torch's reader refuses, readable by another zip reader",
        f"torch.load fails; another reader may unpickle what it holds. {_TRUST}",
    ),
    "zip-unsupported-compression": RuleHelp(
        "A zip entry compressed with a method torch cannot read",
        "torch stores members uncompressed; the entry was not read.",
    ),
    # Tensors and storages
    "storage-missing": RuleHelp(
        "Storages that tensors refer to are absent",
        "A truncated download or a tampered archive.",
    ),
    "storage-truncated": RuleHelp(
        "Storages shorter than their tensors need", "The file is truncated or the shapes forged."
    ),
    "storage-unreferenced": RuleHelp(
        "Storages no tensor uses", "Extra data in the archive. Informational."
    ),
    "tensor-shape-implausible": RuleHelp(
        "A tensor shape no storage could hold",
        "Forged shapes aim at loaders that allocate before checking.",
    ),
    "too-many-tensors": RuleHelp("More tensors than the limit", "The rest were not examined."),
    "legacy-truncated": RuleHelp("A legacy torch stream that ends early", "The file is truncated."),
}

_GENERIC = RuleHelp(
    "A pthforensics finding",
    "See the result's message; `pthforensics scan FILE -v` explains each finding.",
)


def rule_help(rule_id: str) -> RuleHelp:
    """The help of ``rule_id`` (a generic one for a rule without an entry)."""
    return RULE_HELP.get(rule_id, _GENERIC)
