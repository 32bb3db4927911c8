"""Group state_dict tensors into modules, in registration order.

A ``state_dict`` key is ``<module path>.<leaf>``: ``nn.Module._save_to_state_dict`` writes a
module's own parameters and buffers, then ``Module.state_dict`` recurses into the children
in registration order (pytorch: torch/nn/modules/module.py ``state_dict``).  The same
traversal fills ``state_dict._metadata`` with one entry per module, parameter-less ones
(ReLU, MaxPool2d, Flatten, Dropout) included, so when it is present it gives both the order
and the position of every module.  Without it we fall back on the stored key order, and
when the keys are sorted (safetensors writes them sorted, so ``layer10`` comes before
``layer2`` and ``bn1`` before ``conv1``) on a natural sort with a few naming conventions.

Special leaves follow torch.nn layouts: ``parametrizations.<name>.original0/1``
(torch/nn/utils/parametrize.py) belong to the module that owns ``parametrizations``.

Pure: no torch, no I/O.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from itertools import pairwise

from pthforensics.core import LayerGroup, LayerOrder, LayerSource, StateDict, TensorRecord

__all__ = ["group_layers", "module_and_leaf", "natural_module_key"]

logger = logging.getLogger(__name__)

_PARAMETRIZATIONS = "parametrizations"


def module_and_leaf(key: str) -> tuple[str, str]:
    """Split a state_dict key into (module path, leaf), e.g. ``features.0.weight`` ->
    ``('features.0', 'weight')``; ``conv.parametrizations.weight.original0`` ->
    ``('conv', 'parametrizations.weight.original0')``; a root parameter ``cls_token`` ->
    ``('', 'cls_token')``."""
    parts = key.split(".")
    if _PARAMETRIZATIONS in parts[:-1]:
        i = parts.index(_PARAMETRIZATIONS)
        return ".".join(parts[:i]), ".".join(parts[i:])
    if len(parts) == 1:
        return "", key
    return ".".join(parts[:-1]), parts[-1]


def _is_parametrization_path(path: str) -> bool:
    """Submodules created by torch.nn.utils.parametrize (never layers of their own)."""
    return _PARAMETRIZATIONS in path.split(".")


# --- natural order for sorted keys -------------------------------------------------------

_NUM_SUFFIX = re.compile(r"^(.*?)(\d+)$")
# Where a sibling usually sits when the keys lost their order (buckets: 0 input side,
# 1 body, 2 final norm, 3 head).  Names are torchvision / timm / Hugging Face conventions.
_FIRST = {
    "embed",
    "embeds",
    "embedding",
    "embeddings",
    "patch_embed",
    "patch_embedding",
    "stem",
    "conv_stem",
    "wte",
    "wpe",
    "tok_embeddings",
    "embed_tokens",
    "word_embeddings",
    "position_embeddings",
    "token_type_embeddings",
    "embed_positions",
    "input",
    "inp",
    "features",
    "encoder",
    "cls_token",
    "pos_embed",
    "conv_first",
    "shared",
    "in_conv",
    "inc",
    "input_layer",
}
_LAST_NORM = {
    "norm",
    "ln_f",
    "fc_norm",
    "final_layer_norm",
    "final_norm",
    "norm_f",
    "layernorm",
    "post_layernorm",
    "ln_post",
}
_HEAD = {
    "fc",
    "head",
    "heads",
    "classifier",
    "lm_head",
    "cls",
    "pooler",
    "logits",
    "out",
    "output_layer",
    "outc",
    "out_conv",
    "final",
    "decoder",
    "proj_head",
    "last_linear",
}
# In transformer blocks the sorted sibling names lose the norm/attention interleaving.
_BLOCK_RANK = {
    "ln_1": 1.0,
    "norm1": 1.0,
    "input_layernorm": 1.0,
    "attention_norm": 1.0,
    "layernorm_before": 1.0,
    "self_attn_layer_norm": 1.0,
    "attn": 1.5,
    "attention": 1.5,
    "self_attn": 1.5,
    "self_attention": 1.5,
    "ls1": 1.6,
    "drop_path1": 1.7,
    "ln_2": 2.0,
    "norm2": 2.0,
    "post_attention_layernorm": 2.0,
    "ffn_norm": 2.0,
    "layernorm_after": 2.0,
    "final_layer_norm_block": 2.0,
    "mlp": 2.5,
    "ffn": 2.5,
    "feed_forward": 2.5,
    "intermediate": 2.5,
    "ls2": 2.6,
    "drop_path2": 2.7,
    "output": 2.8,
    "query": 1.1,
    "key": 1.2,
    "value": 1.3,
    "q_proj": 1.1,
    "k_proj": 1.2,
    "v_proj": 1.3,
    "o_proj": 1.4,
    "out_proj": 1.4,
    "gate_proj": 1.1,
    "up_proj": 1.2,
    "down_proj": 1.3,
    "qkv": 1.1,
    "proj": 1.4,
    "dense": 1.0,
    "LayerNorm": 1.5,
    "self": 1.0,
}
_ROLE_PATTERNS = (
    (0, re.compile(r"conv|linear|fc|dense|proj|lin|dw|pw")),
    (1, re.compile(r"bn|norm|ln|gn")),
    (2, re.compile(r"relu|act|gelu|silu|prelu")),
    (3, re.compile(r"pool")),
    (4, re.compile(r"drop")),
)


# Token tables before position/segment tables (wte < wpe, word < position < token_type),
# patch/stem convolutions before an encoder.
_EMBED_RANK = {
    "wte": 0.1,
    "word_embeddings": 0.1,
    "embed_tokens": 0.1,
    "tok_embeddings": 0.1,
    "wpe": 0.2,
    "position_embeddings": 0.2,
    "embed_positions": 0.2,
    "token_type_embeddings": 0.3,
    "cls_token": 0.05,
    "class_token": 0.05,
    "pos_embed": 0.06,
    "patch_embed": 0.07,
    "conv_proj": 0.07,
    "stem": 0.07,
    "embeddings": 0.04,
    "embedding": 0.04,
    "embed": 0.04,
    "embeds": 0.04,
    "encoder": 0.5,
}
# Siblings that mark a transformer block, where _BLOCK_RANK applies.
_BLOCK_MARKERS = frozenset(
    {
        "attn",
        "attention",
        "self_attn",
        "self_attention",
        "mlp",
        "ffn",
        "feed_forward",
        "intermediate",
        "query",
        "q_proj",
        "qkv",
        "gate_proj",
        "c_attn",
        "c_fc",
        "self",
    }
)


def _component_key(comp: str, block: bool = False) -> tuple[float, float, int, str]:
    if comp in _EMBED_RANK:
        return (0.0, _EMBED_RANK[comp], 0, comp)
    if comp.isdigit():
        return (1.0, float(comp), 0, "")
    if block and comp in _BLOCK_RANK:
        return (1.0, _BLOCK_RANK[comp], 0, comp)
    match = _NUM_SUFFIX.match(comp)
    base, num = (match.group(1), float(match.group(2))) if match else (comp, 1e9)
    base_l = base.lower().rstrip("_")
    if comp in _FIRST or base_l in _FIRST:
        bucket = 0.0
    elif comp in _LAST_NORM:
        bucket = 2.0
    elif base_l in _HEAD or comp in _HEAD:
        bucket = 3.0
    else:
        bucket = 1.0
    role = 5
    for rank, pattern in _ROLE_PATTERNS:
        if pattern.search(base_l):
            role = rank
            break
    return (bucket, num, role, comp)


def natural_module_key(
    path: str, siblings: dict[str, set[str]] | None = None
) -> tuple[tuple[float, float, int, str], ...]:
    """Sort key restoring a plausible registration order from sorted module paths:
    numbers compare as numbers (``layer2`` < ``layer10``), ``conv1`` < ``bn1`` < ``conv2``,
    stems and embeddings first, final norms then heads (``fc``, ``classifier``) last, and
    inside transformer blocks (``siblings``: parent path -> child names) norm1 < attn <
    norm2 < mlp."""
    if not path:
        return ()
    parts = path.split(".")
    keys = []
    for i, comp in enumerate(parts):
        sib = siblings.get(".".join(parts[:i]), set()) if siblings else set()
        keys.append(_component_key(comp, bool(sib & _BLOCK_MARKERS)))
    return tuple(keys)


def _restore_order(paths: list[str]) -> list[str]:
    siblings: dict[str, set[str]] = {}
    for p in paths:
        parts = p.split(".") if p else []
        for i, comp in enumerate(parts):
            siblings.setdefault(".".join(parts[:i]), set()).add(comp)
    return sorted(paths, key=lambda p: natural_module_key(p, siblings))


def _looks_sorted(keys: list[str], dtypes: int = 1) -> bool:
    """Whether the keys come sorted by name, possibly in one run per dtype (safetensors
    writes tensors sorted by dtype alignment, then by name)."""
    if len(keys) <= 2:
        return False
    descents = sum(1 for a, b in pairwise(keys) if b < a)
    return descents < max(1, dtypes)


# --- grouping -----------------------------------------------------------------------------


def _strip(path: str, prefixes: Iterable[str]) -> str:
    for prefix in prefixes:
        p = prefix.rstrip(".")
        if p and (path == p or path.startswith(p + ".")):
            return path[len(p) + 1 :] if path != p else ""
    return path


def _metadata_paths(state: StateDict, owners: set[str]) -> list[tuple[str, int | None]]:
    """``_metadata`` entries, with wrapper prefixes removed when the keys lost them."""
    entries = list(state.module_versions or ())
    if not entries:
        return []
    names = {p for p, _ in entries}
    if owners and not (owners - {""}) & names and state.stripped_prefixes:
        entries = [(_strip(p, state.stripped_prefixes), v) for p, v in entries]
    seen: set[str] = set()
    out = []
    for path, version in entries:
        if path not in seen:
            seen.add(path)
            out.append((path, version))
    return out


def _prefixes(paths: Iterable[str]) -> set[str]:
    """Every proper ancestor of the given module paths (``''`` is the root's)."""
    prefixes = set()
    for p in paths:
        if not p:
            continue
        prefixes.add("")
        parts = p.split(".")
        for i in range(1, len(parts)):
            prefixes.add(".".join(parts[:i]))
    return prefixes


def _leaves(paths: Iterable[str]) -> set[str]:
    paths = [p for p in paths if p]
    prefixes = _prefixes(paths)
    return {p for p in paths if p not in prefixes}


def _index_gaps(owners: list[str]) -> list[str]:
    """Missing indices of numbered containers: parameter-less modules (ReLU, pools...)."""
    children: dict[str, set[int]] = {}
    named: set[str] = set()
    for path in owners:
        parts = path.split(".")
        for i in range(len(parts)):
            parent = ".".join(parts[:i])
            if parts[i].isdigit():
                children.setdefault(parent, set()).add(int(parts[i]))
            else:
                named.add(parent)
    gaps: list[str] = []
    for parent, idx in children.items():
        if parent in named or len(idx) < 2:
            continue  # a container mixing names and numbers is no nn.Sequential
        prefix = f"{parent}." if parent else ""
        gaps.extend(f"{prefix}{i}" for i in range(max(idx)) if i not in idx)
    return gaps


def group_layers(state: StateDict) -> tuple[LayerGroup, ...]:
    """Group ``state.tensors`` by owning module, in registration order.

    Modules owning tensors become groups with their tensors; parameter-less leaf modules
    listed in ``_metadata`` (or named by a full-model pickle) become groups with no tensors
    (``source='metadata'``), and so do missing indices of numbered containers when there is
    no metadata (``source='index-gap'``).  Containers that own nothing are left out.
    """
    by_module: dict[str, list[TensorRecord]] = {}
    first_seen: list[str] = []
    for t in state.tensors:
        module, _ = module_and_leaf(t.key)
        if module not in by_module:
            by_module[module] = []
            first_seen.append(module)
        by_module[module].append(t)
    owners = set(by_module)

    meta = _metadata_paths(state, owners)
    versions = dict(meta)
    classes = {
        _strip(p, state.stripped_prefixes) if p not in owners else p: c
        for p, c in state.class_names
    }

    structure = [p for p, _ in meta] or [p for p, _ in state.class_names]
    structure = [p for p in structure if not _is_parametrization_path(p)]
    all_paths = set(structure) | owners
    leaves = _leaves(all_paths)
    paramless = [p for p in structure if p in leaves and p not in owners]
    source = dict.fromkeys(paramless, LayerSource.METADATA)
    if not structure:
        for gap in _index_gaps([p for p in first_seen if p]):
            if gap not in owners:
                paramless.append(gap)
                source[gap] = LayerSource.INDEX_GAP

    members = list(dict.fromkeys(first_seen + paramless))
    how = LayerOrder.STORED
    if structure:
        how = LayerOrder.METADATA
        position = {p: i for i, p in enumerate(structure)}
        order: list[str] = []
        # Stable merge: modules missing from the metadata keep their place after the
        # module whose tensors preceded them.
        anchored = sorted((position[p], i, p) for i, p in enumerate(members) if p in position)
        pending = [p for p in members if p not in position]
        order = [p for _, _, p in anchored]
        for p in pending:
            i = members.index(p)
            prev = next((q for q in reversed(members[:i]) if q in order), None)
            order.insert(order.index(prev) + 1 if prev is not None else 0, p)
    elif _looks_sorted([t.key for t in state.tensors], len({t.dtype for t in state.tensors})):
        order = _restore_order(members)
        how = LayerOrder.RESTORED
    elif paramless:
        order = _insert_gaps(first_seen, paramless)
    else:
        order = members

    has_children = _prefixes(all_paths)
    groups = []
    for index, path in enumerate(order):
        groups.append(
            LayerGroup(
                name=path,
                tensors=tuple(by_module.get(path, ())),
                version=versions.get(path),
                class_name=classes.get(path),
                index=index,
                source=source.get(path, LayerSource.TENSORS),
                has_children=path in has_children,
                order=how,
            )
        )
    logger.debug(
        "grouped %d tensors into %d modules (%d parameter-less)",
        len(state.tensors),
        len(groups),
        len(paramless),
    )
    return tuple(groups)


def _insert_gaps(order: list[str], gaps: list[str]) -> list[str]:
    """Place synthesized index-gap modules among their numbered siblings."""
    out = list(order)
    for gap in _restore_order(gaps):
        parent, _, idx = gap.rpartition(".")
        n = int(idx)
        prefix = parent + "." if parent else ""
        best = None
        for i, p in enumerate(out):
            if p.startswith(prefix):
                rest = p[len(prefix) :].split(".")[0]
                if rest.isdigit() and int(rest) < n:
                    best = i
        if best is None:
            first = next((i for i, p in enumerate(out) if p.startswith(prefix)), len(out))
            out.insert(first, gap)
        else:
            out.insert(best + 1, gap)
    return out
