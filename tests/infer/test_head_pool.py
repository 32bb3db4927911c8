"""A head reading one feature per channel of the last convolution: an adaptive pool, a
global reduction in forward() (both free) or a fixed window (fixed), told apart by what
the file holds; truth from running the real models."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F  # noqa: N812 - the name everybody uses
from torch import nn

from pthforensics.core import InputGuess, InputStatus
from pthforensics.pipeline import inspect_file
from tests._models import analyse, build, real_error, sizes_in


def _runs(model: nn.Module, sizes: range) -> list[int]:
    return [s for s in sizes if real_error(model, (1, 3, s, s)) is None]


def _free_listed(guess: InputGuess) -> bool:
    return any("any size" in h.name for h in guess.hypotheses)


def test_a_fixed_window_in_an_all_functional_model_fixes_the_size() -> None:
    """kuangliu/pytorch-cifar: F.relu and F.avg_pool2d(out, 4) in forward(), only empty
    shortcuts registered: the window reading is first, its sizes are exactly the ones
    that run, and the free reading stays listed."""
    model, truth = build("kuangliu_resnet")
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FIXED, guess.evidence
    assert guess.shape == tuple(truth["input_shape"])
    assert list(guess.valid_sizes or ()) == _runs(model, range(8, 80))
    assert "AvgPool2d(4)" in guess.hypotheses[0].name
    assert _free_listed(guess)
    assert any("the weights cannot tell apart" in e for e in guess.evidence)


def test_without_the_module_list_a_fixed_window_is_only_listed() -> None:
    """The same weights with sorted keys and no ``_metadata``: nothing says the model
    registers no pool, so the size stays free; the window reading is listed with 32."""
    model, truth = build("kuangliu_resnet")
    guess = analyse(model, sort=True, metadata=False)[2]
    assert guess.status == InputStatus.FREE
    side = truth["input_shape"][-1]
    assert any(sizes_in(h.valid_sizes, [side, side]) for h in guess.hypotheses[1:])


def test_registered_activations_keep_a_functional_global_pool_free() -> None:
    """torchvision MobileNetV2's habit: ReLU modules registered, F.adaptive_avg_pool2d in
    forward(): nothing points to a fixed window, so the size stays free (the proposed
    shape runs) and the window reading is only listed."""
    model, _ = build("functional_gap_cnn")
    guess = analyse(model)[2]
    assert guess.status == InputStatus.FREE, guess.evidence
    assert guess.shape is not None and real_error(model, guess.shape) is None
    assert any("AvgPool2d" in h.name for h in guess.hypotheses[1:])
    assert any("a fixed window would fix it" in e for e in guess.evidence)


class AllFunctionalMean(nn.Module):
    """As kuangliu's ResNet but ending in ``x.mean([2, 3])``: its file is the same."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.conv3 = nn.Conv2d(8, 16, 3, 2, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn3(self.conv3(F.relu(self.bn2(self.conv2(x))))))
        return self.fc(x.mean([2, 3]))


def test_an_all_functional_global_mean_keeps_its_reading_listed() -> None:
    """The limit of the rule: weights and ``_metadata`` of an all-functional model cannot
    tell ``x.mean([2, 3])`` from ``F.avg_pool2d(x, 8)``.  A common size giving a common
    window ranks the window first; the free reading, the true one here, is listed and its
    shape runs on the real model."""
    model = AllFunctionalMean().eval()
    guess = analyse(model)[2]
    free = [h for h in guess.hypotheses if "any size" in h.name]
    assert free and free[0].shape is not None
    assert real_error(model, free[0].shape) is None
    assert guess.shape is not None and real_error(model, guess.shape) is None


class StoredWindow(nn.Module):
    """torchvision <= 0.2's ResNet habit on a small scale: ReLU modules and an
    ``nn.AvgPool2d(7, stride=1)`` before the head, saved as a full model."""

    def __init__(self, adaptive: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 2, 1)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 16, 3, 2, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1) if adaptive else nn.AvgPool2d(7, stride=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.relu(self.conv2(self.relu(self.conv1(x)))))
        return self.fc(torch.flatten(x, 1))


def test_a_stored_window_decides_a_stored_adaptive_pool_too(tmp_path: Path) -> None:
    """A full-model pickle stores the pool's class and window: AvgPool2d(7, stride=1)
    fixes the sizes to exactly those that run; AdaptiveAvgPool2d leaves them free."""
    fixed_model = StoredWindow(adaptive=False).eval()
    path = tmp_path / "window_full.pt"
    torch.save(fixed_model, path)
    guess = inspect_file(str(path), trace=False).input
    assert guess is not None and guess.status == InputStatus.FIXED, guess.evidence
    assert list(guess.valid_sizes or ()) == _runs(fixed_model, range(8, 64))
    assert not _free_listed(guess)
    free_model = StoredWindow(adaptive=True).eval()
    path = tmp_path / "adaptive_full.pt"
    torch.save(free_model, path)
    guess = inspect_file(str(path), trace=False).input
    assert guess is not None and guess.status == InputStatus.FREE, guess.evidence
    assert any("is an adaptive pool" in e for e in guess.evidence)
