"""The hypotheses and size priors of signal inputs: raw waveforms, EEG trials, spectrograms.

Each rule is checked on its own (what it prices) and on a corpus sample written as the cited
code writes that network (``corpus/models/signals.py``): the true input lies in the valid
sizes of a reported hypothesis, or, where the weights and priors leave several readings open,
the solver reaches the true reading.
"""

from __future__ import annotations

from typing import Any

from pthforensics.core import InputStatus
from pthforensics.infer.input import fixed as fixed_module
from pthforensics.infer.input.costs import (
    EEG_NARROW_POOL,
    GapSituation,
    PaddingStyle,
    gap_options,
)
from pthforensics.infer.input.solver import solve as real_solve
from pthforensics.infer.input.solver_records import Solution
from pthforensics.infer.input.strides import (
    EEG_STRIDE,
    LONG_KERNEL_STRIDE1,
    stride_options,
)
from pthforensics.infer.priors import (
    EEG_KIND,
    PRIOR_ENTRIES,
    SPECTROGRAM_KIND,
    SizeTable,
    prior_table,
    raw_signal,
)
from tests._models import analyse, build, hypothesis_with_truth


def solutions_of(name: str, **kw: Any) -> tuple[list[Solution], Any, Any]:
    """Every solution the flatten-head solver reaches for a corpus sample (up to 64), the
    context it solved in, and the input guess."""
    model, truth = build(name)
    reached: list[Solution] = []
    contexts: list[Any] = []

    def spy(ops: Any, finals: Any, ctx: Any, **skw: Any) -> Any:
        out = real_solve(ops, finals, ctx, **{**skw, "limit": 64})
        reached.extend(out)
        contexts.append(ctx)
        return out[: skw.get("limit", 12)]

    original = fixed_module.solve
    fixed_module.solve = spy  # type: ignore[assignment]
    try:
        guess = analyse(model, **kw)[2]
    finally:
        fixed_module.solve = original  # type: ignore[assignment]
    return reached, contexts[0], (guess, truth)


# --- the rules on their own -------------------------------------------------------------------


def test_a_long_first_kernel_on_a_raw_signal_hops() -> None:
    """Stride 1 of a long first kernel reading a raw signal costs more than any hop; a 2-d
    image kernel, a later convolution or a frames input keep PyTorch's free stride 1."""
    raw = stride_options((256,), first=True, transposed=False, raw_signal=True)
    assert raw[(1,)] == LONG_KERNEL_STRIDE1
    assert all(c < raw[(1,)] for s, c in raw.items() if s in ((2,), (4,), (8,), (64,)))
    assert stride_options((256,), first=False, transposed=False, raw_signal=True)[(1,)] == 0
    assert stride_options((256,), first=True, transposed=False)[(1,)] == 0
    assert raw_signal("sequence", 1) and raw_signal("sequence", 2)
    assert not raw_signal("sequence", 80) and not raw_signal("image", 1)


def test_eeg_convolutions_do_not_hop() -> None:
    """In an EEG net every stride > 1 costs :data:`EEG_STRIDE` more; the eegnet sample
    (EEGNet-4,2 on 8 x 128, arl-eegmodels' Samples=128) then ranks its true size first,
    where a hop of 8 on its (1, 32) temporal filter had read 1125 samples."""
    plain = stride_options((1, 32), first=True, transposed=False)
    eeg = stride_options((1, 32), first=True, transposed=False, eeg=True)
    assert eeg[(1, 1)] == plain[(1, 1)]
    assert all(eeg[s] == plain[s] + EEG_STRIDE for s in plain if max(s) > 1)
    _, ctx, (guess, truth) = solutions_of("eegnet")
    assert ctx.kind == EEG_KIND
    assert hypothesis_with_truth(guess, tuple(truth["input_shape"])) == 0, guess.evidence


def test_stride_4_is_for_square_first_stems() -> None:
    """AlexNet's 11x11/4 stem is a square first kernel; a spectrogram's (20, 8) window is
    no stem."""
    assert (4, 4) in stride_options((11, 11), first=True, transposed=False)
    assert (4, 4) not in stride_options((11, 11), first=False, transposed=False)
    assert (4, 4) not in stride_options((12, 9), first=True, transposed=False)


def test_the_eeg_overlapping_time_pool_is_a_hypothesis() -> None:
    """Along the long axis of an anisotropic 2-d model: ShallowConvNet's (1, 75)/(1, 15)."""
    args = (GapSituation.POOL, 2, (True, True))
    pools = {p for p, _ in gap_options(*args, adaptive=False, long_axes=(1,)) if p is not None}
    assert any(p.kernel == (1, 75) and p.stride == (1, 15) for p in pools)
    plain = {p for p, _ in gap_options(*args, adaptive=False) if p is not None}
    assert not any(p.kernel == (1, 75) for p in plain)


def test_eeg_time_pools_are_wide() -> None:
    """In an EEG trial a window of 2 along time costs :data:`EEG_NARROW_POOL` more; wider
    windows and other models are unchanged."""
    args = (GapSituation.POOL, 2, (True, True))
    plain = dict(gap_options(*args, adaptive=False, long_axes=(1,)))
    eeg = dict(gap_options(*args, adaptive=False, long_axes=(1,), eeg=True))
    for pool, cost in plain.items():
        narrow = pool is not None and pool.kernel[1] == 2
        assert eeg[pool] == cost + (EEG_NARROW_POOL if narrow else 0.0), pool


def test_signal_kinds_read_their_own_tables() -> None:
    """EEG time axes and spectrogram axes have tables whose every entry says why."""
    assert prior_table(EEG_KIND, 1, 1) is SizeTable.EEG_SAMPLES
    assert prior_table(SPECTROGRAM_KIND, 1, 0) is SizeTable.SPECTROGRAM_AXIS
    assert prior_table(SPECTROGRAM_KIND, 1, 1) is SizeTable.SPECTROGRAM_AXIS
    eeg = {p.size for p in PRIOR_ENTRIES[SizeTable.EEG_SAMPLES]}
    assert {1125, 1000, 256, 128, 640} <= eeg
    spec = {p.size for p in PRIOR_ENTRIES[SizeTable.SPECTROGRAM_AXIS]}
    assert {40, 64, 80, 128, 101, 98, 3000} <= spec


# --- corpus samples ---------------------------------------------------------------------------


def test_spectrogram_sample_ranks_the_true_size_first() -> None:
    """kws_spectrogram: rectangular kernels make the map a spectrogram; 64 mel bins x 101
    frames lie in the best hypothesis, with and without the module list."""
    for kw in ({}, {"sort": True, "metadata": False}):
        _, ctx, (guess, truth) = solutions_of("kws_spectrogram", **kw)
        assert ctx.kind == SPECTROGRAM_KIND
        assert guess.status == InputStatus.FIXED
        assert hypothesis_with_truth(guess, tuple(truth["input_shape"])) == 0, guess.evidence


def test_pitch_frames_reach_the_exact_same_reading() -> None:
    """pitch_frames (CREPE written with Conv1d, 1024 samples): the solver reaches the
    author's reading, exact 'same' padding of every even kernel as one model-wide style and
    a hop of 8 on the 256-tap filterbank, with 1024 among its sizes; no reported hypothesis
    keeps stride 1 on that filterbank.  The weights leave 16000 samples under a hop of 64
    (a quarter of the kernel, the STFT's default hop) as likely, so the true reading need
    not rank first."""
    reached, ctx, (guess, truth) = solutions_of("pitch_frames")
    n = truth["input_shape"][-1]
    true_reading = [
        s
        for s in reached
        if s.style is PaddingStyle.EXACT
        and s.choices[0].stride == (8,)
        and s.intervals[0][0] <= n <= s.intervals[0][1]
    ]
    assert true_reading, [(s.style, s.intervals) for s in reached[:8]]
    assert (PaddingStyle.EXACT, 0.4) in [(st, round(c, 2)) for st, c in ctx.style_costs]
    for h in guess.hypotheses:
        first = next(p for p in h.plan if p[0] == "convs.1")
        assert dict(first[2]).get("stride") not in (1, (1,)), h.name


def test_eeg_shallow_reaches_the_overlapping_pool_reading() -> None:
    """eeg_shallow (ShallowFBCSPNet on 8 electrodes x 1000 samples): an EEG trial, its time
    axis read against the EEG table; the mean pool of 75 every 15 reaches the true 1000
    samples.  A (1, 4) pool reaching 256 samples (2 s at 128 Hz) fits the weights as well
    and ranks above it (the generic test finds 1000 in a hypothesis the evidence names as
    not ruled out)."""
    reached, ctx, (guess, truth) = solutions_of("eeg_shallow")
    assert ctx.kind == EEG_KIND
    n = truth["input_shape"][-1]
    assert any(
        any(c.pool is not None and c.pool.kernel == (1, 75) for c in s.choices)
        and s.intervals[1][0] <= n <= s.intervals[1][1]
        for s in reached
    ), [(s.intervals, s.sizes) for s in reached[:8]]
    assert guess.status == InputStatus.FIXED and guess.shape is not None
    assert guess.shape[2] == truth["input_shape"][2]  # the electrodes the spatial conv reads


def test_listed_valid_sizes_hold_the_chosen_size() -> None:
    """A hypothesis whose interval is longer than the listing shows a window around the
    chosen size (CREPE's 770..1025 lists 1024), not only the interval's start."""
    from pthforensics.infer.input.fixed import valid_of

    listed = valid_of(((770, 1025),), (1024,))
    assert 1024 in listed and len(listed) == 64 and max(listed) == 1025
    assert valid_of(((770, 1025),))[0] == 770  # no chosen size: from the start
    per_axis = valid_of(((8, 8), (900, 2000)), (8, 1000))
    assert per_axis[0] == (8,) and 1000 in per_axis[1]
    _, _, (guess, _) = solutions_of("pitch_frames")
    for h in guess.hypotheses:
        assert h.shape is not None and h.shape[-1] in h.valid_sizes, h.name
