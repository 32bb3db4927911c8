"""Clues the file holds besides the layers' weights (issue 10, item 2), each on a model
whose truth comes from running it: a full-model pickle's stored hyper-parameters, relative
position tables, token-mixing widths, coordinate channels, a LayerNorm over the input,
signals laid out as columns, per-frame front ends, inputs that never meet."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812 - the name everybody uses
from torch import nn

from pthforensics.core import InputKind, InputStatus
from pthforensics.pipeline import inspect_file
from tests._helpers import to_state
from tests._models import (
    analyse,
    analyse_state,
    build,
    hypothesis_with_truth,
    real_error,
    sizes_in,
    truth_in_valid_sizes,
)


class StridedNet(nn.Module):
    """Hyper-parameters no default would guess: a 5x5/2 convolution padded 2, an
    overlapping ceil-mode pool, a dilated convolution; the root stores ``dim_in``."""

    def __init__(self) -> None:
        super().__init__()
        self.dim_in = 45
        self.conv1 = nn.Conv2d(3, 4, 5, stride=2, padding=2)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(4, 6, 3, dilation=2)
        self.fc = nn.Linear(6 * 7 * 7, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.pool(F.relu(self.conv1(x))))
        return self.fc(x.flatten(1))


def accepted_sizes(model: nn.Module, sizes: range) -> list[int]:
    return [s for s in sizes if real_error(model, (1, 3, s, s)) is None]


def test_a_full_model_pickle_states_its_hyper_parameters(tmp_path: Path) -> None:
    """The stored stride/padding/dilation/ceil_mode leave one reading, no assumption, and
    exactly the sizes the real model accepts; the stored ``dim_in`` picks the size."""
    model = StridedNet().eval()
    path = tmp_path / "strided_full.pt"
    torch.save(model, path)
    report = inspect_file(str(path), trace=False)
    guess = report.input
    assert guess is not None and guess.status == InputStatus.FIXED
    top = guess.hypotheses[0]
    assert top.name.startswith("as stored")
    assert not any("padding" in a or "stride" in a for a in top.assumptions)
    truth = accepted_sizes(model, range(40, 130))
    assert list(guess.valid_sizes or ()) == truth
    assert guess.shape == (1, 3, 45, 45)
    assert any("stores the size 45" in e for e in top.evidence)
    layers = {g.name: g.attrs for g in report.layers or ()}
    assert layers["conv1"]["stride"] == (2, 2) and layers["conv2"]["dilation"] == (2, 2)
    assert layers["pool"]["ceil_mode"] is True


def test_a_relative_position_table_over_the_grid_fixes_the_size() -> None:
    """BEiT: (2g-1)^2 + 3 rows of relative positions -> a g x g grid of patches."""
    model, truth = build("tiny_beit")
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FIXED
    assert hypothesis_with_truth(guess, tuple(truth["input_shape"])) == 0
    assert any("(2x4-1)^2 + 3" in e for e in guess.evidence)


def test_a_token_mixing_width_is_the_patch_count() -> None:
    model, truth = build("tiny_mixer")
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FIXED
    assert hypothesis_with_truth(guess, tuple(truth["input_shape"])) == 0
    assert any("mixes across 16 tokens" in e for e in guess.evidence)


def test_a_distillation_token_is_an_extra_token_before_the_patches() -> None:
    """transformers' DeiT/AST ``distillation_token`` is a second prefix token: 18 positions
    are 16 patches (4x4) and two extra tokens, so the input is 32x32."""
    model, truth = build("tiny_distilled_vit")
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FIXED
    assert truth_in_valid_sizes(guess, tuple(truth["input_shape"]))
    assert guess.shape is not None and real_error(model, guess.shape) is None
    assert any("2 class/extra token(s)" in e for e in guess.evidence)


def test_a_stored_shifted_window_mask_fixes_the_map_of_its_stage() -> None:
    """Official Swin stores ``attn_mask`` (nW, w^2, w^2): 4 windows of 4x4 -> an 8x8 map
    after the 4x4 patches -> a 32x32 input, which the real model alone accepts."""
    model, truth = build("tiny_swin")
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FIXED
    assert truth_in_valid_sizes(guess, tuple(truth["input_shape"]))
    assert not sizes_in(guess.valid_sizes, [64, 64])
    assert guess.shape is not None and real_error(model, guess.shape) is None
    assert real_error(model, (1, 3, 64, 64)) is not None
    assert any("4 windows of 4x4" in e for e in guess.evidence)


def test_a_window_mask_of_a_constant_width_network_fixes_nothing() -> None:
    """SwinIR-style (a 3x3 stem, blocks of one width, a convolution back to the image):
    it recomputes its mask for any size, so the stored one is no constraint."""
    model, _ = build("tiny_swin")
    restore = nn.Module()
    restore.conv_first = nn.Conv2d(3, 16, 3, padding=1)
    restore.layers = nn.ModuleList([nn.Module()])
    restore.layers[0].blocks = model.layers[0].blocks
    restore.conv_last = nn.Conv2d(16, 3, 3, padding=1)
    guess = analyse(restore)[2]
    assert guess.status != InputStatus.FIXED
    assert not any("shifted-window mask" in e for e in guess.evidence)


def test_a_single_window_mask_is_no_grid() -> None:
    """A (1, N, N) mask (a causal or padding mask, or one window over the whole map, which
    Swin never shifts nor masks) fixes no map."""
    model, _ = build("tiny_swin")
    state = {
        k: (torch.zeros(1, 16, 16) if k.endswith("attn_mask") else v)
        for k, v in model.state_dict().items()
    }
    guess = analyse_state(to_state(state))[2]
    assert not any("shifted-window mask" in e for e in guess.evidence)


def test_a_coordinate_map_fixes_its_axis_and_takes_a_channel() -> None:
    model, truth = build("coord_net")
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FREE and guess.shape is not None
    assert guess.shape[:3] == (1, 1, 64)
    assert sizes_in(guess.valid_sizes, [64, truth["input_shape"][3]])
    assert real_error(model, guess.shape) is None


def test_a_layer_norm_over_the_input_gives_its_shape() -> None:
    model, truth = build("layernorm_front")
    guess = analyse(model)[2]
    assert (guess.status, guess.shape) == (InputStatus.FIXED, tuple(truth["input_shape"]))


def test_a_column_signal_is_read_as_frames() -> None:
    """Conv2d kernels (k, 1) on one channel: [N, L] first, the map [N, 1, L, 1] next."""
    model, truth = build("column_signal")
    guess = analyse(model)[2]
    assert guess.kind == InputKind.SEQUENCE and guess.shape is not None
    assert len(guess.shape) == 2
    assert guess.plan[0][1] == "Unflatten"
    assert any(h.shape is not None and len(h.shape) == 4 for h in guess.hypotheses)
    ranked = [h for h in guess.hypotheses if h.shape is not None and len(h.shape) == 2]
    assert any(truth["input_shape"][1] in (h.valid_sizes or ()) for h in ranked)


def test_convolutions_before_an_rnn_run_per_frame() -> None:
    model, truth = build("frame_lstm")
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FREE
    assert guess.shape is not None and guess.shape[2] == truth["input_shape"][2]
    assert real_error(model, guess.shape) is None


def test_heads_that_never_meet_are_several_inputs() -> None:
    model, _ = build("two_heads")
    guess = analyse(model)[2]
    assert guess.shape is not None and guess.shape[1] == 16
    assert [o.shape[1] for o in guess.others if o.shape] == [24]


class BranchScorer(nn.Module):
    """ICLabel's layout: a 1x32x32 map through three 4x4/2 convolutions padded 1 (4x4
    left), a second input of 8 features through (1, 3) convolutions, tiled to 4x4 and
    concatenated; a last 4x4 convolution scores the concatenated map: 7 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 4, 2, 1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 4, 2, 1)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(16, 32, 4, 2, 1)
        self.relu3 = nn.ReLU()
        self.vec1 = nn.Conv2d(1, 4, (1, 3), padding=(0, 1))
        self.vec2 = nn.Conv2d(4, 1, (1, 3), padding=(0, 1))
        self.conv = nn.Conv2d(32 + 8, 7, 4)

    def forward(self, img: torch.Tensor, vec: torch.Tensor | None = None) -> torch.Tensor:
        x = self.relu3(self.conv3(self.relu2(self.conv2(self.relu1(self.conv1(img))))))
        v = vec if vec is not None else torch.zeros(img.shape[0], 1, 1, 8)
        v = self.vec2(self.vec1(v)).reshape(img.shape[0], 8, 1, 1).expand(-1, -1, 4, 4)
        return self.conv(torch.cat([x, v], 1)).flatten(1)


def test_a_last_convolution_covering_the_map_fixes_the_size() -> None:
    """The scorer reads the concatenation of two branches (no earlier output matches its
    840 channels): its 4x4 window covers the map, so the image is 32..39; a map of scores
    sliding over larger inputs is kept as the next hypothesis."""
    model = BranchScorer()
    truth = [s for s in range(8, 80) if real_error(model, (1, 1, s, s)) is None]
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FIXED and guess.shape is not None
    assert list(guess.valid_sizes or ()) == truth
    assert real_error(model, guess.shape) is None
    assert guess.hypotheses[-1].name.startswith("any size")
    assert any("covers the map exactly" in e for e in guess.evidence)


def test_a_window_spanning_the_electrodes_consumes_that_axis() -> None:
    """EEGNet: the depthwise (8, 1) convolution after the (1, 32) temporal one is the only
    window along the electrode axis: the input has exactly 8 rows, on every hypothesis,
    and pools act along time only."""
    model, truth = build("eegnet")
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FIXED
    assert all(h.shape is not None and h.shape[2] == 8 for h in guess.hypotheses)
    assert hypothesis_with_truth(guess, tuple(truth["input_shape"])) is not None
    pools = [p for h in guess.hypotheses for p in h.plan if "Pool" in p[1]]
    assert pools and all(dict(p[2])["kernel_size"][0] == 1 for p in pools)


def test_a_detector_takes_a_list_of_images_of_any_size() -> None:
    """A Faster R-CNN layout (``rpn.head`` and ``roi_heads.box_head``): the flatten Linear of
    the box head reads pooled crops, so the size is free, and each input is one
    ``[C, H, W]`` image of the list ``forward()`` takes; the plan first adds the batch axis.
    The real model runs on a list holding the reported image, and on the true one."""
    model, truth = build("tiny_detector")
    for sort in (False, True):
        guess = analyse(model, sort=sort, metadata=not sort)[2]
        assert guess.status == InputStatus.FREE, guess.evidence
        assert guess.shape is not None and len(guess.shape) == 3 and guess.shape[0] == 3
        assert sizes_in(guess.valid_sizes, list(truth["input_shape"][1:]))
        assert real_error(model, guess.shape) is None
        assert guess.plan[0][1] == "Unflatten" and dict(guess.plan[0][2])["dim"] == 0
        assert any("torchvision detector" in e for e in guess.evidence)


def test_without_detector_heads_the_input_is_a_batched_map() -> None:
    """The same weights under other names (no ``rpn``/``roi_heads``): no detector, so the
    input is an ordinary batched image map."""
    model, _ = build("tiny_detector")
    state = {
        k.replace("rpn.head.", "side.").replace("roi_heads.", "head_"): v
        for k, v in model.state_dict().items()
    }
    guess = analyse_state(to_state(state))[2]
    assert guess.shape is not None and len(guess.shape) == 4, guess.evidence
    assert not any("torchvision detector" in e for e in guess.evidence)
