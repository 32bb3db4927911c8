"""rebuild_sequential: the guessed model as torch.nn modules on the meta device, loaded
strictly with the checkpoint's shapes."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import nn

from pthforensics.core import (
    InputGuess,
    RebuildError,
    RebuildInfo,
    RebuildPart,
    StateDict,
    TensorRecord,
    TraceStatus,
)
from pthforensics.rebuild import REBUILD_ATTR, rebuild_sequential, trace_model
from tests._helpers import to_state
from tests._models import analyse_state, build

CHAINS = [
    "lenet_seq",
    "mnist_net",
    "cifar_net",
    "keras_style_cnn",
    "atari_dqn",
    "vgg_like",
    "mobilenet_like",
    "audio_m5",
    "video_c3d",
    "dcgan_generator",
    "norm_zoo",
    "text_lstm",
    "text_gru",
    "mlp",
]
NOT_CHAINS = {
    "resnet_like": RebuildPart.PREFIX,
    "unet_tiny": RebuildPart.PREFIX,
    "tiny_vit": RebuildPart.PREFIX,
    "tiny_gpt": RebuildPart.HEAD,
}
ZOO_CHAINS = [
    "tv_mobilenet_v2",
    "tv_efficientnet_b0",
    "tv_alexnet",
    "cifar_cnn",
    "lenet5_padded",
    "ecg_net",
    "char_rnn",
    "fixed_len_text",
    "sensor_lstm_flat",
]


def rebuilt(
    model: nn.Module, *, sort: bool = False
) -> tuple[nn.Module, str, InputGuess, StateDict]:
    state = to_state(model.state_dict(), sort=sort, metadata=not sort)
    groups, guesses, guess = analyse_state(state)
    module, note = rebuild_sequential(groups, guesses, guess, state)
    return module, note, guess, state


@pytest.mark.parametrize("sort", [False, True], ids=["metadata", "sorted"])
@pytest.mark.parametrize("name", CHAINS + ZOO_CHAINS)
def test_chain_models_are_rebuilt_whole(name: str, sort: bool) -> None:
    model, truth = build(name)
    module, note, guess, state = rebuilt(model, sort=sort)
    assert note == "whole model is a chain"
    info = getattr(module, REBUILD_ATTR)
    assert info.part == RebuildPart.WHOLE and info.input_shape == guess.shape
    # every checkpoint tensor was loaded (strict) into the rebuilt modules, on meta
    assert len(list(module.state_dict())) == len(state.tensors)
    assert all(p.device.type == "meta" for p in module.parameters())
    result = trace_model(module, guess)
    assert result.status == TraceStatus.CONFIRMED, result.detail
    assert result.tried[0] == (guess.shape, "ok")
    assert list(result.output_shape or ()) == truth["output_shape"]


@pytest.mark.parametrize("name", sorted(NOT_CHAINS))
def test_other_models_are_partly_rebuilt(name: str) -> None:
    model, _ = build(name)
    module, note, _, _ = rebuilt(model)
    info = getattr(module, REBUILD_ATTR)
    assert isinstance(info, RebuildInfo)
    assert info.part == NOT_CHAINS[name]
    assert note.startswith(("prefix up to", "head only")) and " at " in note
    assert info.modules and all(m in dict(model.named_modules()) for m in info.modules)


def test_rebuild_error_when_nothing_is_typed() -> None:
    state = StateDict("", (TensorRecord("cls_token", (1, 1, 8), "float32"),))
    groups, guesses, guess = analyse_state(state)
    with pytest.raises(RebuildError, match="nothing to rebuild"):
        rebuild_sequential(groups, guesses, guess, state)


def test_half_precision_checkpoint() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    ).to(torch.bfloat16)
    module, _, guess, _ = rebuilt(model)
    assert guess.dtype == "bfloat16"
    assert next(module.parameters()).dtype == torch.bfloat16
    assert trace_model(module, guess).status == TraceStatus.CONFIRMED


def old_weight_norm(module: nn.Module) -> nn.Module:
    """The pre-parametrize weight_norm (weight_g, weight_v), still found in checkpoints."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in favour of parametrize
        return nn.utils.weight_norm(module)


@pytest.mark.parametrize(
    "wrap",
    [nn.utils.parametrizations.weight_norm, old_weight_norm, nn.utils.spectral_norm],
    ids=["weight_norm", "old_weight_norm", "spectral_norm"],
)
def test_reparametrised_weights_load_as_plain_weights(wrap: Any) -> None:
    model = nn.Sequential(
        wrap(nn.Conv1d(1, 4, 5)),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )
    module, _, guess, _ = rebuilt(model)
    assert tuple(module.get_parameter("0.weight").shape) == (4, 1, 5)
    assert trace_model(module, guess).status == TraceStatus.CONFIRMED


def test_group_norm_is_built() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.GroupNorm(4, 8),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    )
    module, _, _, _ = rebuilt(model)
    norm = module.get_submodule("1")
    assert isinstance(norm, nn.GroupNorm) and norm.num_channels == 8 and 8 % norm.num_groups == 0


def test_rebuild_is_importable_without_loading_torch_at_import() -> None:
    import pthforensics.rebuild.build as rebuild_module

    assert "torch" not in rebuild_module.__dict__
