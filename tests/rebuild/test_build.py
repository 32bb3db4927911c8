"""rebuild_model: the guessed model as torch.nn modules on the meta device, loaded
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
)
from pthforensics.rebuild import REBUILD_ATTR, rebuild_model, trace_model
from tests._helpers import to_state
from tests._models import analyse_state, build

MODELS = [
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
    "resnet_like",
    "unet_tiny",
    "tiny_vit",
    "tiny_gpt",
]
ZOO = [
    "tv_resnet50",
    "tv_densenet121",
    "tv_mobilenet_v2",
    "tv_efficientnet_b0",
    "tv_alexnet",
    "tv_vit_b_16",
    "tv_r3d_18",
    "tv_convnext_tiny",
    "timm_vit_small",
    "hf_bert_base_cls",
    "hf_gpt2",
    "milesial_unet",
    "cifar_cnn",
    "lenet5_padded",
    "ecg_net",
    "char_rnn",
    "fixed_len_text",
    "sensor_lstm_flat",
]


def rebuilt(model: nn.Module, *, sort: bool = False) -> tuple[nn.Module, InputGuess, StateDict]:
    state = to_state(model.state_dict(), sort=sort, metadata=not sort)
    groups, guesses, guess = analyse_state(state)
    return rebuild_model(groups, guesses, guess, state), guess, state


@pytest.mark.parametrize("name", MODELS + ZOO)
def test_models_are_rebuilt_whole_with_every_tensor_loaded(name: str) -> None:
    model, _ = build(name)
    module, guess, state = rebuilt(model)
    info = getattr(module, REBUILD_ATTR)
    assert info.part == RebuildPart.WHOLE, info.note
    assert info.input_shape == guess.shape
    # every checkpoint tensor was loaded (strict) into the rebuilt modules, on meta
    assert set(module.state_dict()) == {t.key for t in state.tensors}
    assert all(p.device.type == "meta" for p in module.parameters())
    # at the path the checkpoint gives it, with the torch.nn class the file's shapes say
    real = dict(model.named_modules())
    for path in info.modules:
        assert path in real


def test_rebuild_keeps_the_largest_part_when_a_structure_is_not_recognised() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(5, 4, 3), nn.Conv2d(4, 2, 1))
    module, _, _ = rebuilt(model)
    info = getattr(module, REBUILD_ATTR)
    assert isinstance(info, RebuildInfo)
    assert info.part == RebuildPart.PREFIX and info.modules == ("0",)
    assert set(module.state_dict()) == {"0.weight", "0.bias"}


def test_rebuild_error_when_nothing_is_typed() -> None:
    state = StateDict("", (TensorRecord("cls_token", (1, 1, 8), "float32"),))
    groups, guesses, guess = analyse_state(state)
    with pytest.raises(RebuildError, match="nothing to rebuild"):
        rebuild_model(groups, guesses, guess, state)


def test_half_precision_checkpoint() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    ).to(torch.bfloat16)
    module, guess, _ = rebuilt(model)
    assert guess.dtype == "bfloat16"
    assert next(module.parameters()).dtype == torch.bfloat16
    result = trace_model(module, guess)
    assert result.part == RebuildPart.WHOLE and result.tried[0][1] == "ok"


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
    module, guess, _ = rebuilt(model)
    assert tuple(module.get_parameter("0.weight").shape) == (4, 1, 5)
    result = trace_model(module, guess)
    assert result.part == RebuildPart.WHOLE and result.tried[0][1] == "ok"


def test_group_norm_is_built() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.GroupNorm(4, 8),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    )
    module, _, _ = rebuilt(model)
    norm = module.get_submodule("1")
    assert isinstance(norm, nn.GroupNorm) and norm.num_channels == 8 and 8 % norm.num_groups == 0


def test_rebuild_is_importable_without_loading_torch_at_import() -> None:
    import pthforensics.rebuild.build as rebuild_module

    assert "torch" not in rebuild_module.__dict__
