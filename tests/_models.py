"""Reference models for the infer and rebuild tests, and truth checks against them.

Models come from ``corpus/models/generate_models.py`` (small, built on CPU) and
``corpus/models/zoo.py`` (full-size replicas of torchvision/timm/transformers layouts,
built on the meta device).  Their ``state_dict()`` (with ``_metadata``) becomes the
records the tensors stage produces; ``sort=True, metadata=False`` drops ``_metadata`` and
sorts the keys, as a safetensors file would.

Truth checks never compare a guess with the one size the model was built for when the
weights allow several: they check that the truth lies in what the guess reports, and that
the real model accepts what the guess proposes.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import torch
from torch import nn

from pthforensics import infer
from pthforensics.core import InputGuess, InputKind, LayerGroup, LayerGuess, PlanStep, StateDict
from pthforensics.structure.layers import group_layers
from tests._helpers import CORPUS, to_state

MODELS_DIR = CORPUS / "models"
sys.path.insert(0, str(MODELS_DIR))
import generate_models as gm  # type: ignore[import-not-found]  # noqa: E402
import zoo  # type: ignore[import-not-found]  # noqa: E402

__all__ = [
    "NAMEABLE",
    "analyse",
    "analyse_state",
    "build",
    "gm",
    "real_error",
    "size_axes",
    "hypothesis_with_truth",
    "sizes_in",
    "true_plan",
    "truth_in_valid_sizes",
    "zoo",
]

#: torch.nn classes (and transformers' Conv1D) are what the rules can name; custom
#: containers holding bare parameters (a VisionTransformer root) cannot be named.
NAMEABLE = {n for n in dir(nn) if isinstance(getattr(nn, n), type)} | {
    "Conv1D",
    "NonDynamicallyQuantizableLinear",
    "GPT2Attention",
    "LayerNorm2d",
}

Analysis = tuple[tuple[LayerGroup, ...], tuple[LayerGuess, ...], InputGuess]


@functools.cache
def build(name: str) -> tuple[nn.Module, dict[str, Any]]:
    """A reference model (``generate_models`` or ``zoo``) and its truth."""
    built: tuple[nn.Module, dict[str, Any]] = (
        zoo.build_zoo(name) if name in zoo.ZOO else gm.build(name)
    )
    return built


def analyse_state(state: StateDict) -> Analysis:
    """groups, layer guesses and the input guess of a state_dict record."""
    groups = group_layers(state)
    guesses = infer.infer_layers(groups)
    return groups, guesses, infer.infer_input(groups, guesses)


def analyse(model: nn.Module, **kw: Any) -> Analysis:
    """:func:`analyse_state` of ``model.state_dict()`` (``to_state`` keywords)."""
    return analyse_state(to_state(model.state_dict(), **kw))


def size_axes(guess: InputGuess) -> tuple[int, ...]:
    """Positions of the sizes in ``guess.shape`` (what ``valid_sizes`` speaks of): the
    spatial axes of a map input, the length of a token/step sequence, the width of a
    vector."""
    assert guess.shape is not None
    convolutional = any(infer.layer_type(t).conv_dims for _, t, _ in guess.plan)
    if len(guess.shape) == 2 or (guess.evidence and "takes sequences of" in guess.evidence[0]):
        return (1,)  # tokens, a vector, frames of a signal [N, L]; (batch, length, features)
    if guess.kind in (InputKind.IMAGE, InputKind.VOLUME):  # the last 2/3 (unbatched: C, H, W)
        dims = 2 if guess.kind == InputKind.IMAGE else 3
        return tuple(range(max(1, len(guess.shape) - dims), len(guess.shape)))
    if guess.kind == InputKind.SEQUENCE and (convolutional or guess.status == "fixed"):
        return tuple(range(2, len(guess.shape)))
    return (1,)


def sizes_in(valid: Any, sizes: list[int]) -> bool:
    """Whether ``sizes`` (one per axis) lie in a ``valid_sizes`` value: one list shared by
    every axis, or one list per axis."""
    valid = valid or ()
    if all(isinstance(v, int) for v in valid):
        return all(s in valid for s in sizes)
    return len(valid) == len(sizes) and all(s in v for s, v in zip(sizes, valid, strict=True))


def truth_in_valid_sizes(guess: InputGuess, truth_shape: tuple[int, ...]) -> bool:
    """Whether the true input's sizes lie in ``guess.valid_sizes``."""
    return sizes_in(guess.valid_sizes, [truth_shape[i] for i in size_axes(guess)])


def hypothesis_with_truth(guess: InputGuess, truth_shape: tuple[int, ...]) -> int | None:
    """Rank of the first hypothesis whose valid sizes hold the true input (``None``: no
    hypothesis does).  Only shapes of the true rank are compared."""
    for rank, h in enumerate(guess.hypotheses):
        if h.shape is None or len(h.shape) != len(truth_shape):
            continue
        axes = [i for i in size_axes(guess) if i < len(truth_shape)]
        fixed = [i for i in range(len(truth_shape)) if i not in axes and i]
        if all(h.shape[i] == truth_shape[i] for i in fixed) and sizes_in(
            h.valid_sizes, [truth_shape[i] for i in axes]
        ):
            return rank
    return None


def real_error(model: nn.Module, shape: tuple[int, ...], dtype: str = "float32") -> str | None:
    """``None`` when the real model runs on ``shape``, else its error message.  Models on
    the meta device run on meta tensors (shapes only); a model taking a list of images
    (``takes_image_list``, as torchvision's detectors) gets a list of one."""
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    torch_dtype = getattr(torch, dtype)
    x = torch.zeros(shape, dtype=torch_dtype, device=device)
    try:
        with torch.no_grad():
            model.eval()([x] if getattr(model, "takes_image_list", False) else x)
    except Exception as e:  # noqa: BLE001 - any failure is the answer
        return f"{type(e).__name__}: {e}"
    return None


#: Attributes of torch.nn modules that decide sizes (what a state_dict does not store).
_SIZE_ATTRIBUTES = ("kernel_size", "stride", "padding", "dilation", "output_padding",
                    "ceil_mode", "output_size", "scale_factor")  # fmt: skip


def true_plan(model: nn.Module) -> tuple[PlanStep, ...]:
    """The real modules' size attributes as a plan: every convolution's padding, stride
    and dilation, every parameter-less torch.nn module's class and attributes."""
    plan = []
    for name, m in model.named_modules():
        if not name or any(True for _ in m.children()):
            continue
        cls = type(m)
        if getattr(nn, cls.__name__, None) is not cls:
            continue  # not a torch.nn class (a Permute of torchvision's ops)
        if isinstance(m, nn.modules.conv._ConvNd) or not any(True for _ in m.parameters()):
            attrs = tuple(
                (k, getattr(m, k)) for k in _SIZE_ATTRIBUTES if getattr(m, k, None) is not None
            )
            plan.append((name, cls.__name__, attrs))
    return tuple(plan)
