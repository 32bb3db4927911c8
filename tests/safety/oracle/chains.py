"""Attribute chains from harmless-looking modules to code-running callables, by introspection.

A protocol-4 global is resolved by ``find_class`` as ``getattr`` per dotted component of
the name, starting at the imported module (CPython ``Modules/_pickle.c``,
``_pickle_Unpickler_find_class_impl`` -> ``get_dotted_path``/``getattribute``).  A module that
imports another exposes it as an attribute, so ``torch.nn.functional`` + ``torch.fx.<...>``
reaches whatever torch imported.  :func:`discover_chains` walks the module graph of a real
``import torch, numpy`` **in a subprocess** (this process never imports what it walks) and
returns, for each target callable, the shortest chains from each root.

Run as a script to print the chains as JSON:
``python -m tests.safety.oracle.chains [--max-depth 4]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["OBVIOUS", "TARGETS", "Chain", "discover_chains"]

#: Callables that create a file (the canary) or run code, keyed by the label the generator
#: knows an argument recipe for; value: (module, attribute) of the object, found by identity.
TARGETS: dict[str, tuple[str, str]] = {
    "os.system": ("os", "system"),
    "os.popen": ("os", "popen"),
    "os.mknod": ("os", "mknod"),
    "os.mkdir": ("os", "mkdir"),
    "os.mkfifo": ("os", "mkfifo"),
    "os.open": ("os", "open"),
    "subprocess.call": ("subprocess", "call"),
    "subprocess.run": ("subprocess", "run"),
    "subprocess.check_call": ("subprocess", "check_call"),
    "subprocess.check_output": ("subprocess", "check_output"),
    "subprocess.getoutput": ("subprocess", "getoutput"),
    "subprocess.Popen": ("subprocess", "Popen"),
    "builtins.exec": ("builtins", "exec"),
    "builtins.eval": ("builtins", "eval"),
    "builtins.open": ("builtins", "open"),
    "io.FileIO": ("io", "FileIO"),
    "logging.FileHandler": ("logging", "FileHandler"),
    "runpy._run_code": ("runpy", "_run_code"),
    "torch.fx.graph_module._exec_with_source": ("torch.fx.graph_module", "_exec_with_source"),
    "torch.save": ("torch", "save"),
    "numpy.savetxt": ("numpy", "savetxt"),
    "zipfile.ZipFile": ("zipfile", "ZipFile"),
    "gzip.GzipFile": ("gzip", "GzipFile"),
    "tarfile.TarFile": ("tarfile", "TarFile"),
}

#: Attribute names an attacker who read a name-based scanner steers around.
OBVIOUS = frozenset(
    {
        "os",
        "posix",
        "nt",
        "sys",
        "subprocess",
        "builtins",
        "__builtins__",
        "pickle",
        "_pickle",
        "importlib",
        "runpy",
        "shutil",
        "socket",
        "ctypes",
        "marshal",
        "code",
        "pty",
        "multiprocessing",
        "system",
        "popen",
        "exec",
        "eval",
        "open",
        "save",
        "load",
        "run",
        "call",
        "Popen",
        "compile",
        "_C",
        "jit",
        "hub",
        "fx",
        "serialization",
        "storage",
        "utils",
        "_dynamo",
        "_inductor",
        "distributed",
        "testing",
        "onnx",
        "export",
        "library",
        "ops",
    }
)

#: Roots an attacker starts from: packages a checkpoint legitimately names (torch, numpy)
#: and the third-party packages torch installs with it.
ROOT_PACKAGES = ("torch", "numpy", "typing_extensions", "networkx", "jinja2", "mpmath")


@dataclass(frozen=True, slots=True)
class Chain:
    """``find_class(module, name)`` with a dotted ``name`` that reaches ``target``."""

    module: str
    name: str
    target: str

    @property
    def full(self) -> str:
        """``module.name`` as a scanner sees it."""
        return f"{self.module}.{self.name}"


_PROBE = r"""
import json, sys, types, importlib
import torch, numpy  # what a checkpoint's globals import anyway
targets = json.loads(sys.argv[1]); roots = tuple(json.loads(sys.argv[2]))
max_depth = int(sys.argv[3]); per_pair = int(sys.argv[4]); avoid = set(json.loads(sys.argv[5]))
ident = {}
for label, (mod, attr) in targets.items():
    try:
        ident[id(getattr(importlib.import_module(mod), attr))] = label
    except Exception:
        pass
every = {n: m for n, m in list(sys.modules.items()) if isinstance(m, types.ModuleType)}
mods = {n: m for n, m in every.items() if n.split(".")[0] in roots}
edges = {}
hits = {}
for n, m in every.items():
    try:
        items = list(vars(m).items())
    except Exception:
        continue
    out, found = [], []
    for k, v in items:
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("__") or k in avoid:
            continue
        if isinstance(v, types.ModuleType):
            out.append((k, v.__name__))
        elif id(v) in ident:
            found.append((k, ident[id(v)]))
    edges[n], hits[n] = out, found
# every module reached from a root by module attributes, shortest first (BFS)
result = []
for root in sorted(mods):
    seen = {root: ""}
    frontier = [root]
    count = {}
    for depth in range(max_depth):
        nxt = []
        for node in frontier:
            prefix = seen[node]
            for k, label in hits.get(node, ()):
                if node == root and depth == 0:
                    continue  # the target's own module: not a walk
                if count.get(label, 0) >= per_pair:
                    continue
                count[label] = count.get(label, 0) + 1
                result.append([root, (prefix + "." if prefix else "") + k, label])
            for k, child in edges.get(node, ()):
                if child not in seen and child in every:
                    seen[child] = (prefix + "." if prefix else "") + k
                    nxt.append(child)
        frontier = nxt
json.dump(result, sys.stdout)
"""


def discover_chains(
    python: str = sys.executable,
    *,
    max_depth: int = 4,
    per_pair: int = 2,
    avoid: Iterable[str] = (),
    timeout: float = 300,
) -> list[Chain]:
    """Chains found in a fresh interpreter that imported torch and numpy.

    For each root module (every loaded module of :data:`ROOT_PACKAGES`) and each target,
    the ``per_pair`` shortest walks through module attributes (at most ``max_depth``
    hops), never through an attribute named in ``avoid`` (an attacker's list of words a
    scanner looks for).  Nothing is called: the probe only reads module dictionaries.
    """
    proc = subprocess.run(
        [
            python,
            "-c",
            _PROBE,
            json.dumps(TARGETS),
            json.dumps(ROOT_PACKAGES),
            str(max_depth),
            str(per_pair),
            json.dumps(sorted(avoid)),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return [Chain(m, n, t) for m, n, t in json.loads(proc.stdout)]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-depth", type=int, default=4)
    parser.add_argument("--per-pair", type=int, default=2)
    parser.add_argument("--evasive", action="store_true", help="avoid OBVIOUS attribute names")
    args = parser.parse_args()
    chains = discover_chains(
        max_depth=args.max_depth,
        per_pair=args.per_pair,
        avoid=OBVIOUS if args.evasive else (),
    )
    json.dump([[c.module, c.name, c.target] for c in chains], sys.stdout, indent=0)
    print(file=sys.stderr)
    print(f"{len(chains)} chains", file=sys.stderr)
