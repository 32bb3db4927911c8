"""The size solver: its interval arithmetic against torch's own layers, and its search."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from pthforensics.infer.input.costs import Pool
from pthforensics.infer.input.op_options import cheapest_plan
from pthforensics.infer.input.preimage import pool_out, preimage
from pthforensics.infer.input.size_ranking import common_sizes, size_cost
from pthforensics.infer.input.solver import solve
from pthforensics.infer.input.solver_records import (
    Choice,
    OpKind,
    PoolHint,
    SolveContext,
    SpatialOp,
)
from pthforensics.infer.priors import (
    PRIOR_TABLES,
    UNLISTED_COST,
    SizeTable,
    round_size_bonus,
)


def torch_out(ops: list[SpatialOp], choices: list[Choice], size: int) -> int | None:
    """Output length of the 1-d chain, computed by torch on the meta device."""
    layers: list[nn.Module] = []
    for op, ch in zip(ops, choices, strict=True):
        if op.kind is OpKind.GAP:
            p = ch.pool
            layers.append(
                nn.MaxPool1d(p.kernel[0], p.stride[0], p.pads[0], ceil_mode=p.ceil_mode)
                if p is not None
                else nn.Identity()
            )
        else:
            cls = nn.ConvTranspose1d if op.kind is OpKind.CONV_TRANSPOSE else nn.Conv1d
            dilation = ch.dilation[0] if ch.dilation else 1
            layers.append(
                cls(
                    1,
                    1,
                    op.kernel[0],
                    stride=ch.stride[0],
                    padding=ch.padding[0],
                    dilation=dilation,
                )
            )
    with torch.device("meta"):
        model = nn.Sequential(*layers)
        try:
            return int(model(torch.zeros(1, 1, size)).shape[-1])
        except RuntimeError:
            return None


def random_chain(rng: random.Random) -> tuple[list[SpatialOp], list[Choice]]:
    ops: list[SpatialOp] = []
    choices: list[Choice] = []
    for i in range(rng.randint(1, 4)):
        if i and rng.random() < 0.4:
            ops.append(SpatialOp(OpKind.GAP, f"g{i}"))
            k = rng.choice([1, 2, 3])
            s = rng.choice([k, 2]) if k > 1 else 1
            pad = rng.choice([0, k // 2])
            pool = Pool((k,), (s,), (pad,), rng.random() < 0.5) if k > 1 else None
            choices.append(Choice(pool=pool))
            continue
        k = rng.choice([1, 2, 3, 4, 5, 7])
        kind = OpKind.CONV_TRANSPOSE if rng.random() < 0.2 else OpKind.CONV
        ops.append(SpatialOp(kind, f"c{i}", (k,)))
        pad = rng.choice([0, (k - 1) // 2])
        dilation = rng.choice([1, 1, 2]) if kind is OpKind.CONV else 1
        choices.append(
            Choice(padding=(pad,), stride=(rng.choice([1, 2, 3]),), dilation=(dilation,))
        )
    return ops, choices


def test_preimage_matches_torch_shapes() -> None:
    """Every size in the interval gives the final size in torch, and its neighbours not."""
    rng = random.Random(11)
    checked = 0
    for _ in range(120):
        ops, choices = random_chain(rng)
        final = rng.randint(1, 9)
        pre = preimage(ops, choices, [(final, final)])
        if pre is None:
            continue
        ((lo, hi),) = pre
        checked += 1
        for size in {lo, (lo + hi) // 2, hi}:
            assert torch_out(ops, choices, size) == final, (ops, choices, size)
        if lo > 1:
            assert torch_out(ops, choices, lo - 1) != final
        assert torch_out(ops, choices, hi + 1) != final
    assert checked >= 30


def test_solve_finds_the_true_hypothesis_of_a_lenet() -> None:
    """conv5 (no padding), pool 2, conv5, pool 2, 16x5x5 head: the true plan reaches 5x5
    from 32, and it is among the solutions with 32 in its interval."""
    ops = [
        SpatialOp(OpKind.CONV, "c1", (5, 5), first=True),
        SpatialOp(OpKind.GAP, "c1", pool_hint=PoolHint.UNKNOWN),
        SpatialOp(OpKind.CONV, "c2", (5, 5)),
        SpatialOp(OpKind.GAP, "c2", pool_hint=PoolHint.UNKNOWN),
    ]
    conv = Choice(padding=(0, 0), stride=(1, 1))
    pool = Choice(pool=Pool((2, 2), (2, 2)))
    truth = (conv, pool, conv, pool)
    solutions = solve(ops, [(((5, 5), (5, 5)), 0.0)], SolveContext("image", 3), limit=40)
    assert solutions == sorted(solutions, key=lambda s: (s.cost, s.sizes))
    match = [s for s in solutions if s.choices == truth]
    assert match and all(lo <= 32 <= hi for lo, hi in match[0].intervals)


def test_pool_out_is_torchs_formula_in_ceil_mode() -> None:
    """ceil_mode, padding and the dropped last window, against torch on every size."""
    for k, s, p in ((3, 2, 0), (2, 2, 0), (3, 2, 1), (2, 2, 1), (3, 3, 1), (5, 2, 2)):
        for ceil in (False, True):
            pool = Pool((k,), (s,), (p,), ceil)
            for n in range(max(k - 2 * p, 1), 40):
                layer = nn.MaxPool1d(k, s, p, ceil_mode=ceil)
                with torch.device("meta"):
                    want = int(layer(torch.zeros(1, 1, n)).shape[-1])
                assert pool_out(pool, 0, n) == want, (k, s, p, ceil, n)


def test_a_stored_hyper_parameter_is_the_only_option() -> None:
    """A full-model pickle's stride/padding replace every hypothesis of that op."""
    stored = Choice(padding=(0,), stride=(4,), stored=True)
    ops = [SpatialOp(OpKind.CONV, "c1", (8,), first=True, known=stored)]
    sols = solve(ops, [(((10, 10),), 0.0)], SolveContext("sequence", 1))
    assert sols and all(s.choices == (stored,) for s in sols)
    assert sols[0].intervals == ((44, 47),)


def test_a_pin_cuts_the_interval_of_an_inner_map() -> None:
    """A LayerNorm over [C, 2950] after a 251-tap convolution: the input is 3200."""
    ops = [
        SpatialOp(OpKind.CONV, "c1", (251,), first=True, pin=(2950,)),
        SpatialOp(OpKind.GAP, "c1", pool_hint=PoolHint.NONE),
    ]
    sols = solve(ops, [(((1, 10**6),), 0.0)], SolveContext("sequence", 1))
    assert any(s.intervals == ((3200, 3200),) for s in sols)


def test_a_stored_size_beats_the_priors() -> None:
    """dim_in=272 stored on the model: among 271..272 the stored one is chosen."""
    ops = [
        SpatialOp(OpKind.CONV, "c1", (10,), first=True),
        SpatialOp(OpKind.GAP, "c1", pool_hint=PoolHint.NONE),
    ]
    ctx = SolveContext("sequence", 1, stored_sizes=frozenset({272}))
    best = solve(ops, [(((131, 131),), 0.0)], ctx)[0]
    assert best.sizes == (272,) and best.stored_size


def test_a_pool_module_makes_pooling_near_certain() -> None:
    ops = [
        SpatialOp(OpKind.CONV, "c1", (3,)),
        SpatialOp(OpKind.GAP, "c1", pool_hint=PoolHint.POOL, pool_module="pool"),
    ]
    best = solve(ops, [(((10, 10),), 0.0)], SolveContext("sequence", 1))[0]
    assert best.choices[1].pooled


def test_cheapest_plan_is_pytorch_defaults() -> None:
    """No evidence: stride 1, 'same' padding, no pool where nothing is known."""
    ops = [
        SpatialOp(OpKind.CONV, "c1", (3, 3)),
        SpatialOp(OpKind.GAP, "c1", pool_hint=PoolHint.UNKNOWN),
    ]
    assert cheapest_plan(ops, 2) == (
        Choice(padding=(1, 1), stride=(1, 1)),
        Choice(pool=None),
    )


@pytest.mark.parametrize(
    ("kind", "channels", "axis", "table"),
    [
        ("image", 3, 0, SizeTable.IMAGE_RGB),
        ("image", 1, 0, SizeTable.IMAGE_GRAY),
        ("image", 4, 0, SizeTable.IMAGE_4CH),
        ("sequence", 1, 0, SizeTable.SIGNAL_LENGTH),
        ("volume", 3, 0, SizeTable.VIDEO_FRAMES),
        ("volume", 3, 1, SizeTable.VIDEO_SIDE),
    ],
)
def test_size_costs_read_the_prior_tables(
    kind: str, channels: int, axis: int, table: SizeTable
) -> None:
    costs = PRIOR_TABLES[table]
    for size, cost in costs.items():
        assert size_cost(size, kind, channels, axis) == cost
    common = common_sizes(kind, channels, axis)
    assert [costs[s] for s in common] == sorted(costs.values())
    unlisted = next(s for s in range(1, 100) if s not in costs and s % 2)
    assert size_cost(unlisted, kind, channels, axis) == UNLISTED_COST > max(costs.values())
    even = next(s for s in range(64, 200) if s not in costs and s % 16 == 0)
    assert size_cost(even, kind, channels, axis) == UNLISTED_COST - round_size_bonus(even)
    assert size_cost(even, kind, channels, axis) < size_cost(unlisted, kind, channels, axis)
