"""Judging source code a checkpoint carries, statically (parsed with :mod:`ast`, never run).

Two kinds of files carry code: a pickled ``torch.fx.GraphModule`` (``reduce_graph_module``
execs ``import_block + body['_code']`` on load, then re-traces ``forward``, running its
calls) and a TorchScript archive (``code/``, compiled by ``torch.jit.load``).  Generated code
only calls the module's own submodules (``self.conv(x)``, ``getattr(self, "0")(x)``),
methods of its values (``x.flatten(1)``), torch operators (``torch.cat``,
``torch._C._nn.gelu``, ``ops.prim.RaiseException``) and a few builtins; the standard fx import
block imports torch, ``math.inf``/``nan`` and torch's pytree helpers.  :func:`judge_code`
returns ``suspicious`` ("carries code") for such code and ``malicious`` with the offending
line for anything else: a dunder attribute, a dangerous builtin (``eval``, ``open``,
``__import__``), a call through a name the code imports from outside torch, a torch function
outside the operator tables (``torch.load``, ``torch.from_file``), an unknown name called.

Sources: ``torch/fx/graph_module.py`` (``reduce_graph_module``, ``_format_import_block``),
``torch/fx/graph.py`` (``_custom_builtins``), ``torch/jit/frontend.py`` and the serialized
TorchScript of ``torch.jit.save`` (``code/__torch__/*.py``).
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

from pthforensics.core import Severity

from .damaged import by_length, one_byte_off
from .denynames import DANGEROUS_NAMES
from .policy import Table, entries
from .rules import KNOWN_GOOD, judge_global

__all__ = ["CodeVerdict", "FX_IMPORTS", "judge_code"]

_FX_SOURCE = "torch/fx/graph.py (_custom_builtins), torch/fx/graph_module.py (_format_import_block)"

#: Import lines of the standard fx import block (``import_block`` of ``__reduce__``).
FX_IMPORTS: Table = {
    **entries("fx custom builtin", _FX_SOURCE, "math.inf math.nan torch.device"),
    **entries(
        "torch and its pytree helpers (fx imports them for every graph)",
        _FX_SOURCE,
        "torch torch.fx._pytree torch.utils._pytree",
    ),
}
#: Functions generated code calls besides operators (assertions, pytree flattening).
_FX_IMPORTS_BY_LENGTH = by_length(FX_IMPORTS)
_FX_HELPERS: Table = entries(
    "helpers fx emits in generated code (assertions, pytree (un)flattening)",
    _FX_SOURCE,
    "torch._assert torch.fx._symbolic_trace._assert_is_none torch.fx._pytree.tree_flatten_spec"
    " torch.utils._pytree.tree_unflatten torch.utils._pytree.tree_flatten",
)
#: Builtins generated code uses that compute on values (``NoneType = type(None)``).
_SAFE_BUILTINS = frozenset(
    {
        "len",
        "range",
        "int",
        "float",
        "bool",
        "str",
        "tuple",
        "list",
        "dict",
        "set",
        "frozenset",
        "slice",
        "isinstance",
        "type",
        "max",
        "min",
        "abs",
        "sum",
        "round",
        "zip",
        "enumerate",
        "print",
        "hasattr",
        "iter",
        "next",
        "divmod",
        "pow",
        "any",
        "all",
        "sorted",
        "reversed",
        "NoneType",
        "None",
        "True",
        "False",
        "complex",
        "bytes",
    }
)
#: Names TorchScript serialization uses (types, its own builtins, operator namespaces).
_TORCHSCRIPT_NAMES = frozenset(
    {
        "annotate",
        "uninitialized",
        "unchecked_cast",
        "ops",
        "torch",
        "__torch__",
        "Tensor",
        "Optional",
        "List",
        "Dict",
        "Tuple",
        "Final",
        "Module",
        "Any",
        "Union",
        "NoneType",
        "Future",
        "Device",
        "Stream",
        "Await",
        "fork",
        "wait",
    }
)
#: Operator namespaces (``torch.ops.aten.add.Tensor``, TorchScript ``ops.prim.X``).
_OP_NAMESPACES = frozenset({"aten", "prim", "prims", "quantized", "_quantized"})
#: Modules generated code may import and call into freely: pure functions.
_PURE_MODULES = frozenset({"math", "operator"})
_MAX_SHOWN = 4000


@dataclass(frozen=True, slots=True)
class CodeVerdict:
    """What carried code can do."""

    severity: Severity
    """``suspicious`` (calls only submodules, operators, builtins) or ``malicious``."""
    problems: tuple[str, ...]
    """Why it is malicious: one line per offending construct (empty when suspicious)."""
    shown: str
    """The code (its first characters)."""
    failures: tuple[str, ...] = ()
    """Where the code would fail instead of running on (a name it never defines, an import
    one byte off a standard one): the code is damaged there, which is no capability."""


def judge_code(source: str, *, torchscript: bool = False) -> CodeVerdict:
    """Judge ``source`` (fx: Python that the loader execs; ``torchscript``: code/ files)."""
    shown = source[:_MAX_SHOWN] + ("\n..." if len(source) > _MAX_SHOWN else "")
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return CodeVerdict(Severity.SUSPICIOUS, (), shown)  # exec/compile fails: nothing runs
    judge = _Judge(torchscript)
    judge.visit(tree)
    severity = Severity.MALICIOUS if judge.problems else Severity.SUSPICIOUS
    return CodeVerdict(severity, tuple(judge.problems), shown, tuple(judge.failures))


def _chain(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]`` (``None`` when not a plain name chain)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__") and name != "__torch__"


class _Judge(ast.NodeVisitor):
    """Collects problems; knows the names the code binds (imports, locals, parameters)."""

    def __init__(self, torchscript: bool) -> None:
        self.torchscript = torchscript
        self.imports: dict[str, str] = {}
        self.local: set[str] = set()
        self.problems: list[str] = []
        self.failures: list[str] = []

    def problem(self, node: ast.AST, text: str) -> None:
        self.problems.append(f"line {getattr(node, 'lineno', '?')}: {text}")

    def failure(self, node: ast.AST, text: str) -> None:
        self.failures.append(f"line {getattr(node, 'lineno', '?')}: {text}")

    # -- bindings --------------------------------------------------------------------------

    def visit_Module(self, node: ast.Module) -> None:
        for sub in ast.walk(node):  # names bound anywhere (fx code is straight-line)
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                self.local.add(sub.id)
            elif isinstance(sub, ast.arg):
                self.local.add(sub.arg)
            elif isinstance(sub, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
                self.local.add(sub.name)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            root = alias.name.split(".")[0]
            bound, value = (alias.asname, alias.name) if alias.asname else (root, root)
            self.imported(node, alias.name, bound, value)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            target = f"{module}.{alias.name}"
            self.imported(node, target, alias.asname or alias.name, target)

    def imported(self, node: ast.AST, target: str, bound: str, value: str) -> None:
        """``target`` imported and bound to the name ``bound`` (whose value is ``value``)."""
        if self.torchscript:
            self.problem(node, f"TorchScript code imports '{target}'")
            return
        self.imports[bound] = value
        if target in FX_IMPORTS or target.split(".")[0] in _PURE_MODULES:
            return
        if one_byte_off(target, _FX_IMPORTS_BY_LENGTH):
            self.failure(node, f"imports '{target}', a damaged standard import (it fails)")
            return
        mod, _, attr = target.rpartition(".")
        judgement = judge_global(mod, attr) if mod else judge_global(target, "_")
        if judgement is not None and judgement.severity is Severity.MALICIOUS:
            self.problem(node, f"imports '{target}' ({judgement.rule_id})")

    # -- references --------------------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = _chain(node)
        if chain is None:
            if _dunder(node.attr) and not self.torchscript:
                self.problem(node, f"reaches the dunder attribute '{node.attr}'")
            self.generic_visit(node)
            return
        if not self.torchscript and any(_dunder(part) for part in chain[1:]):
            self.problem(node, f"reaches a dunder attribute ('{'.'.join(chain)}')")
        if chain[0] in self.imports and chain[0] not in self.local:
            self.reference(node, chain)
        # The chain's names are judged whole: its inner attributes are not visited again.

    def reference(self, node: ast.AST, chain: list[str]) -> None:
        """A value taken from an imported module (``s = torch.save`` before ``s(x)``)."""
        full = ".".join([self.imports[chain[0]], *chain[1:]])
        if _is_operator(full) or full in _FX_HELPERS or full in FX_IMPORTS:
            return
        module, _, attr = full.rpartition(".")
        judgement = judge_global(module or full, attr or full)
        if chain[-1] in DANGEROUS_NAMES or (
            judgement is not None and judgement.severity is Severity.MALICIOUS
        ):
            self.problem(node, f"takes '{full}' (files, processes or code)")

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id not in self.local:
            self.name_use(node, node.id)

    def name_use(self, node: ast.AST, name: str) -> None:
        if self.torchscript:
            return  # TorchScript names are resolved by its compiler, not Python: calls matter
        if name in self.imports or name in _SAFE_BUILTINS or name == "getattr":
            return
        if hasattr(builtins, name):
            self.problem(node, f"uses the builtin '{name}' (not one that only computes)")
        elif _dunder(name):
            self.problem(node, f"uses '{name}'")

    def visit_Call(self, node: ast.Call) -> None:
        self.callee(node, node.func)
        self.generic_visit(node)

    def callee(self, node: ast.Call, func: ast.expr) -> None:
        """Who a call calls: submodules, values' methods, operators, builtins, or not."""
        chain = _chain(func)
        if chain is None:
            # A method of what another expression returned (x.numpy().tofile(...)): the
            # expression is judged on its own, the method by its name.
            leaf = func.attr if isinstance(func, ast.Attribute) else ""
            if leaf in DANGEROUS_NAMES and not (self.torchscript and _dunder(leaf)):
                self.problem(node, f"calls the method '{leaf}' (files, processes or code)")
            return
        root = chain[0]
        if root == "getattr" and len(chain) == 1:
            self.getattr_call(node)
        elif root in self.local:
            leaf = chain[-1]
            if (
                len(chain) > 1
                and leaf in DANGEROUS_NAMES
                and not (self.torchscript and _dunder(leaf))
            ):
                self.problem(node, f"calls the method '{leaf}' (files, processes or code)")
        elif root in self.imports or (self.torchscript and root in ("torch", "ops")):
            self.operator_call(node, chain)
        elif (self.torchscript and root in _TORCHSCRIPT_NAMES) or (
            len(chain) == 1 and root in _SAFE_BUILTINS
        ):
            return
        else:  # a NameError there: the code stops, nothing of it runs past this call
            self.failure(node, f"calls '{'.'.join(chain)}', which it neither defines nor imports")

    def getattr_call(self, node: ast.Call) -> None:
        """``getattr(obj, "name")``: the attribute ``obj.name`` (judged as written so)."""
        name = node.args[1] if len(node.args) >= 2 else None
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            self.problem(node, "calls getattr with a computed attribute name")
            return
        if _dunder(name.value):
            self.problem(node, f"calls getattr for the dunder '{name.value}'")
            return
        base = _chain(node.args[0]) if node.args else None
        if base is not None and base[0] in self.imports and base[0] not in self.local:
            self.reference(node, [*base, name.value])
        elif name.value in DANGEROUS_NAMES and not self.torchscript:
            self.problem(node, f"calls getattr for '{name.value}' (files, processes or code)")

    def operator_call(self, node: ast.Call, chain: list[str]) -> None:
        """A call through an imported name (fx) or TorchScript's torch/ops namespaces."""
        target = self.imports.get(chain[0], chain[0])
        full = ".".join([target, *chain[1:]])
        if _is_operator(full) or full in _FX_HELPERS:
            return
        if full.split(".")[0] in _PURE_MODULES and chain[-1] not in DANGEROUS_NAMES:
            return
        if self.torchscript and full.startswith("torch.") and len(chain) == 2:
            if chain[-1] in DANGEROUS_NAMES:
                self.problem(node, f"calls the operator '{full}' (files)")
            return  # an aten operator the TorchScript compiler resolves
        module, _, attr = full.rpartition(".")
        judgement = judge_global(module, attr, called=True)
        verdict = "outside torch's operators" if judgement is None else judgement.reason
        self.problem(node, f"calls '{full}': {verdict}")


def _is_operator(full: str) -> bool:
    """A torch operator: ``torch.X`` (an ATen op), an ``F``/``torch._C._nn`` function,
    ``torch.ops.<aten|prims|...>.*`` or TorchScript's ``ops.<prim|aten>.*``."""
    parts = full.split(".")
    if parts[0] == "ops" or parts[:2] == ["torch", "ops"]:
        namespace = parts[1] if parts[0] == "ops" else (parts[2] if len(parts) > 2 else "")
        return namespace in _OP_NAMESPACES and not any(p in DANGEROUS_NAMES for p in parts)
    if len(parts) == 2 and parts[0] == "torch":
        return f"torch._C._VariableFunctionsClass.{parts[1]}" in KNOWN_GOOD
    judgement = KNOWN_GOOD.get(full, "absent")
    return judgement is None or (
        judgement != "absent" and getattr(judgement, "rule_id", "") == "torch-function"
    )
