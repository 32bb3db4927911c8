"""torch.nn modules for planned steps: each step's class, built from its attributes.

``make_module`` maps a step to its ``torch.nn`` class (``Conv2d(in, out, k, stride,
padding, groups, bias)``, ``Linear``, norms, RNNs...), parameter-less modules to what their
type names (Identity when torch.nn has no such class), and provides the few classes
torch.nn lacks: ``LayerNorm2d`` (torchvision/timm), RNNs whose forward returns one tensor,
and the ViT tokeniser.

torch is imported inside the functions: importing this module does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pthforensics.core import RebuildError
from pthforensics.infer import GROUPNORM_GROUPS, LayerFamily, layer_type

from .state import Step, Tokens
from .steps import RECURRENT

if TYPE_CHECKING:
    from torch import nn

__all__ = ["make_module", "tokens_module"]

#: Types that keep vectors flat after an RNN: the RNN then returns its last step.
_FLAT_AFTER_RNN = frozenset(
    {"Linear", "NonDynamicallyQuantizableLinear", "LayerNorm", "RMSNorm", "BatchNorm1d", "PReLU"}
)
_CELLS = ("RNNCell", "LSTMCell", "GRUCell")
#: Pool classes and the one argument the rebuild gives them (pytorch: torch/nn/modules/
#: pooling.py); a 2x pool, or a global one.
_POOL_ARGUMENT = (
    ("MaxPool", "kernel_size", 2),
    ("AvgPool", "kernel_size", 2),
    ("AdaptiveAvgPool", "output_size", 1),
    ("AdaptiveMaxPool", "output_size", 1),
)
_UPSAMPLE_FACTOR = 2
"""``nn.Upsample`` does not store its factor; decoders double."""


def make_module(step: Step, nxt: Step | None) -> nn.Module:
    """The torch.nn module of ``step`` (``nxt``: the next step owning tensors)."""
    from torch import nn

    t, a = step.type, step.attrs
    lt = layer_type(t)
    if lt.conv_dims:
        return _conv(t, a)
    if t in ("Linear", "NonDynamicallyQuantizableLinear"):
        return nn.Linear(a["in_features"], a["out_features"], bias=a.get("bias", True))
    if lt.family in (LayerFamily.BATCH_NORM, LayerFamily.INSTANCE_NORM):
        return _nn_class(t)(
            a["num_features"],
            affine=a.get("affine", True),
            track_running_stats=a.get("track_running_stats", True),
        )
    if t in _NORMS:
        return _NORMS[t](step)
    if t == "PReLU":
        return nn.PReLU(a.get("num_parameters", 1))
    if t in ("Embedding", "EmbeddingBag"):
        return _nn_class(t)(a["num_embeddings"], a["embedding_dim"])
    if t in RECURRENT:
        return _rnn(t, a, nxt)
    if t in _CELLS:
        return _rnn_class(t, "cell")(a["input_size"], a["hidden_size"], bias=a.get("bias", True))
    return _paramless(t, a)


def _conv(t: str, a: dict[str, Any]) -> nn.Module:
    k = tuple(a["kernel_size"])
    transposed = layer_type(t).is_transposed
    # without a planned padding: 'same' for a Conv, none for a ConvTranspose
    pad = a.get("padding", 0 if transposed else tuple((x - 1) // 2 for x in k))
    return _nn_class(t)(
        a["in_channels"],
        a["out_channels"],
        k,
        stride=a.get("stride", 1),
        padding=pad,
        groups=a.get("groups", 1),
        bias=a.get("bias", True),
    )


def _group_norm(step: Step) -> nn.Module:
    from torch import nn

    c = step.attrs["num_channels"]
    groups = next(g for g in GROUPNORM_GROUPS if c % g == 0)
    return nn.GroupNorm(groups, c)


def _layer_norm(step: Step) -> nn.Module:
    from torch import nn

    has_bias = step.group is None or step.group.tensor("bias") is not None
    affine = step.group is None or step.group.tensor("weight") is not None
    return nn.LayerNorm(
        step.attrs["normalized_shape"],
        elementwise_affine=affine,
        bias=has_bias if affine else True,
    )


def _rms_norm(step: Step) -> nn.Module:
    from torch import nn

    return nn.RMSNorm(step.attrs["normalized_shape"])


def _layer_norm_2d_module(step: Step) -> nn.Module:
    return _layer_norm_2d()(step.attrs["normalized_shape"])


_NORMS = {
    "GroupNorm": _group_norm,
    "LayerNorm": _layer_norm,
    "RMSNorm": _rms_norm,
    "LayerNorm2d": _layer_norm_2d_module,
}


def _rnn(t: str, a: dict[str, Any], nxt: Step | None) -> nn.Module:
    # a classifier reads the last step; a language model (head back onto the token
    # table) reads every step; a head taking T x features reads them flattened
    lm = nxt is not None and a.get("vocab") and nxt.attrs.get("out_features") == a["vocab"]
    out_dim = (a.get("proj_size") or a["hidden_size"]) * (2 if a.get("bidirectional") else 1)
    last = (
        nxt is not None
        and nxt.type in _FLAT_AFTER_RNN
        and not lm
        and nxt.attrs.get("in_features", out_dim) == out_dim
    )
    cls = _rnn_class(t, "last" if last else "seq")
    return cls(
        a["input_size"],
        a["hidden_size"],
        num_layers=a.get("num_layers", 1),
        bias=a.get("bias", True),
        batch_first=True,
        bidirectional=a.get("bidirectional", False),
        **({"proj_size": a["proj_size"]} if a.get("proj_size") else {}),
    )


def _paramless(t: str, a: dict[str, Any]) -> nn.Module:
    from torch import nn

    for prefix, argument, default in _POOL_ARGUMENT:
        if t.startswith(prefix):
            return _nn_class(t)(a.get(argument, default))
    if t == "Flatten":
        return nn.Flatten()
    if t in ("Softmax", "LogSoftmax"):
        return _nn_class(t)(dim=-1)
    if t == "Upsample":
        return nn.Upsample(scale_factor=_UPSAMPLE_FACTOR)
    if t in ("DropPath",) or not hasattr(nn, t):
        return nn.Identity()
    return _nn_class(t)()


def _nn_class(name: str) -> type[nn.Module]:
    """``torch.nn.<name>``, checked to be a module class."""
    from torch import nn

    cls = getattr(nn, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise RebuildError(f"torch.nn has no module class {name!r}")
    return cls


_CLASSES: dict[tuple[str, str] | str, type] = {}


def _layer_norm_2d() -> type[nn.Module]:
    """torchvision/timm ``LayerNorm2d``: a LayerNorm over the channels of NCHW maps."""
    from torch import nn

    if "LayerNorm2d" not in _CLASSES:

        def forward(self: Any, x: Any) -> Any:
            return nn.LayerNorm.forward(self, x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

        _CLASSES["LayerNorm2d"] = type(
            "LayerNorm2d", (nn.LayerNorm,), {"forward": forward, "__module__": __name__}
        )
    cls: type[nn.Module] = _CLASSES["LayerNorm2d"]
    return cls


def _rnn_class(base: str, mode: str) -> type[nn.Module]:
    """A subclass of ``nn.<base>`` (same parameter names) whose forward returns a tensor:
    the whole output sequence, its last step (before a Linear head), or a cell's ``h``."""
    from torch import nn

    key = (base, mode)
    if key not in _CLASSES:
        parent = getattr(nn, base)

        def forward(self: Any, x: Any) -> Any:
            out = parent.forward(self, x)
            if mode == "cell":
                return out[0] if isinstance(out, tuple) else out
            seq = out[0]
            return seq[:, -1] if mode == "last" else seq

        _CLASSES[key] = type(base, (parent,), {"forward": forward, "__module__": __name__})
    cls: type[nn.Module] = _CLASSES[key]
    return cls


def tokens_module(root: nn.Module, tokens: Tokens) -> nn.Module:
    """Patch map -> tokens: flatten, prepend the class tokens, add the position table."""
    import weakref

    import torch
    from torch import nn

    owner_ref = weakref.ref(root)  # not a submodule: the parameters stay where keys put them

    class Tokens(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            owner = owner_ref()
            if owner is None:
                raise RuntimeError("the rebuilt model holding the position table is gone")
            x = x.flatten(2).transpose(1, 2)
            extra = []
            for key in tokens.cls_keys:
                p = owner.get_parameter(key)
                extra.append(p.reshape(1, -1, p.shape[-1]).expand(x.shape[0], -1, -1))
            x = torch.cat([*extra, x], 1)
            pos = owner.get_parameter(tokens.pos_key)
            out: torch.Tensor = x + pos.reshape(1, -1, pos.shape[-1])
            return out

    return Tokens()
