"""A plausible registration order for module paths whose keys lost it.

safetensors writes keys sorted by name (``layer10`` before ``layer2``, ``bn1`` before
``conv1``), so the order a model registered its modules in is gone.  This restores the
likeliest one: numbers compare as numbers, stems and embeddings first, final norms and
heads last, and inside transformer blocks norm1 < attention < norm2 < MLP.  The names are
torchvision / timm / Hugging Face conventions, kept here as data.

Pure: no torch, no I/O.
"""

from __future__ import annotations

import re
from itertools import pairwise

__all__ = ["insert_gaps", "looks_sorted", "natural_module_key", "restore_order"]


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


def restore_order(paths: list[str]) -> list[str]:
    """``paths`` sorted by :func:`natural_module_key`, siblings known to each other."""
    siblings: dict[str, set[str]] = {}
    for p in paths:
        parts = p.split(".") if p else []
        for i, comp in enumerate(parts):
            siblings.setdefault(".".join(parts[:i]), set()).add(comp)
    return sorted(paths, key=lambda p: natural_module_key(p, siblings))


def looks_sorted(keys: list[str], dtypes: int = 1) -> bool:
    """Whether the keys come sorted by name, possibly in one run per dtype (safetensors
    writes tensors sorted by dtype alignment, then by name)."""
    if len(keys) <= 2:
        return False
    descents = sum(1 for a, b in pairwise(keys) if b < a)
    return descents < max(1, dtypes)


def insert_gaps(order: list[str], gaps: list[str]) -> list[str]:
    """Place synthesized index-gap modules among their numbered siblings."""
    out = list(order)
    for gap in restore_order(gaps):
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
