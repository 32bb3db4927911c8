"""torch.nn modules for planned modules: each one's class, built from its attributes.

``make_module`` maps a spec to its ``torch.nn`` class (``Conv2d(in, out, k, stride,
padding, dilation, groups, bias)``, ``Linear``, norms, RNNs, ``MultiheadAttention``...),
parameter-less modules to what their type names (Identity when torch.nn has no such
class), modules the rebuild inserts to their classes in :mod:`.ops`, and provides the few
classes torch.nn lacks: ``LayerNorm2d`` (torchvision/timm), transformers' ``Conv1D``, and
RNNs whose forward returns one tensor.

torch is imported inside the functions: importing this module does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pthforensics.core import RebuildError
from pthforensics.infer import GROUPNORM_GROUPS, LayerFamily, layer_type

from .values import ModuleSpec

if TYPE_CHECKING:
    from torch import nn

__all__ = ["make_module"]

RECURRENT = ("RNN", "LSTM", "GRU")
_CELLS = ("RNNCell", "LSTMCell", "GRUCell")
_UPSAMPLE_FACTOR = 2
"""``nn.Upsample`` does not store its factor; decoders double."""


def make_module(step: ModuleSpec) -> nn.Module:
    """The torch.nn module of ``step``."""
    from torch import nn

    from .ops import torch_classes

    t, a = step.type, step.attrs
    inserted_classes = torch_classes()["INSERTED"]
    if t in inserted_classes:
        inserted: nn.Module = inserted_classes[t](**a)
        return inserted
    lt = layer_type(t)
    if lt.conv_dims:
        return _conv(t, a)
    if t in ("Linear", "NonDynamicallyQuantizableLinear", "LazyLinear"):
        return nn.Linear(a["in_features"], a["out_features"], bias=a.get("bias", True))
    if t == "Conv1D":
        return _conv1d()(a["in_features"], a["out_features"])
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
    if t == "MultiheadAttention":
        return _attention(a)
    if t in RECURRENT:
        return _rnn(t, a)
    if t in _CELLS:
        return _rnn_class(t, "cell")(a["input_size"], a["hidden_size"], bias=a.get("bias", True))
    return _paramless(t, a)


def _conv(t: str, a: dict[str, Any]) -> nn.Module:
    k = tuple(a["kernel_size"])
    transposed = layer_type(t).is_transposed
    # without a planned padding: 'same' for a Conv, none for a ConvTranspose
    pad = a.get("padding", 0 if transposed else tuple((x - 1) // 2 for x in k))
    extra = {"output_padding": a["output_padding"]} if transposed and "output_padding" in a else {}
    return _nn_class(t)(
        a["in_channels"],
        a["out_channels"],
        k,
        stride=a.get("stride", 1),
        padding=pad,
        dilation=a.get("dilation", 1),
        groups=a.get("groups", 1),
        bias=a.get("bias", True),
        **extra,
    )


def _group_norm(step: ModuleSpec) -> nn.Module:
    from torch import nn

    c = step.attrs["num_channels"]
    groups = next(g for g in GROUPNORM_GROUPS if c % g == 0)
    return nn.GroupNorm(groups, c)


def _layer_norm(step: ModuleSpec) -> nn.Module:
    from torch import nn

    has_bias = step.group is None or step.group.tensor("bias") is not None
    affine = step.group is None or step.group.tensor("weight") is not None
    return nn.LayerNorm(
        step.attrs["normalized_shape"],
        elementwise_affine=affine,
        bias=has_bias if affine else True,
    )


def _rms_norm(step: ModuleSpec) -> nn.Module:
    from torch import nn

    return nn.RMSNorm(step.attrs["normalized_shape"])


def _layer_norm_2d_module(step: ModuleSpec) -> nn.Module:
    return _layer_norm_2d()(step.attrs["normalized_shape"])


_NORMS = {
    "GroupNorm": _group_norm,
    "LayerNorm": _layer_norm,
    "RMSNorm": _rms_norm,
    "LayerNorm2d": _layer_norm_2d_module,
}


def _rnn(t: str, a: dict[str, Any]) -> nn.Module:
    """An RNN whose forward returns its output sequence (batch first)."""
    cls = _rnn_class(t, "seq")
    return cls(
        a["input_size"],
        a["hidden_size"],
        num_layers=a.get("num_layers", 1),
        bias=a.get("bias", True),
        batch_first=True,
        bidirectional=a.get("bidirectional", False),
        **({"proj_size": a["proj_size"]} if a.get("proj_size") else {}),
    )


def _attention(a: dict[str, Any]) -> nn.Module:
    """``nn.MultiheadAttention`` (batch first; one head: shapes do not depend on it)."""
    from torch import nn

    embed = a["embed_dim"]
    kdim, vdim = a.get("kdim", embed), a.get("vdim", embed)
    return nn.MultiheadAttention(
        embed,
        1,
        bias=a.get("bias", True),
        batch_first=True,
        kdim=kdim,
        vdim=vdim,
        add_bias_kv=a.get("add_bias_kv", False),
    )


def _paramless(t: str, a: dict[str, Any]) -> nn.Module:
    from torch import nn

    family = layer_type(t).family
    if family is LayerFamily.POOL:
        extra = {k: a[k] for k in ("ceil_mode",) if k in a}
        return _nn_class(t)(
            a.get("kernel_size", 2), stride=a.get("stride"), padding=a.get("padding", 0), **extra
        )
    if family is LayerFamily.ADAPTIVE_POOL:
        return _nn_class(t)(a.get("output_size", 1))
    if t == "Flatten":
        return nn.Flatten()
    if t == "Unflatten":
        return nn.Unflatten(a["dim"], tuple(a["unflattened_size"]))
    if t in ("Softmax", "LogSoftmax"):
        return _nn_class(t)(dim=-1)
    if t == "Upsample":
        return nn.Upsample(scale_factor=a.get("scale_factor", _UPSAMPLE_FACTOR))
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


def _conv1d() -> type[nn.Module]:
    """transformers ``Conv1D``: a Linear whose weight is stored ``(in, out)``
    (transformers: pytorch_utils.py)."""
    import torch
    from torch import nn

    if "Conv1D" not in _CLASSES:

        def init(self: Any, nx: int, nf: int) -> None:
            nn.Module.__init__(self)
            self.nf = nf
            self.weight = nn.Parameter(torch.empty(nx, nf))
            self.bias = nn.Parameter(torch.empty(nf))

        def forward(self: Any, x: Any) -> Any:
            return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(
                *x.shape[:-1], self.nf
            )

        _CLASSES["Conv1D"] = type(
            "Conv1D", (nn.Module,), {"__init__": init, "forward": forward, "__module__": __name__}
        )
    cls: type[nn.Module] = _CLASSES["Conv1D"]
    return cls
