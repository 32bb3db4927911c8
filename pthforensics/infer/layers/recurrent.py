"""Recurrent layers and attention: RNN/GRU/LSTM (and cells), MultiheadAttention.

``weight_ih_l{k}[_reverse]`` / ``weight_hh_l{k}`` / ``weight_hr_l{k}`` are RNN/GRU/LSTM
(``weight_hh`` rows = 1/3/4 x hidden), without ``_l{k}`` the *Cell variants (pytorch:
torch/nn/modules/rnn.py); ``in_proj_weight`` or ``q_proj_weight`` is MultiheadAttention
(torch/nn/modules/activation.py).

Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

from pthforensics.core import LayerGuess

from .context import Context, make_guess, shape_text
from .views import RNN_KEY, Raw, TensorLayout

__all__ = ["GATES", "infer_attention", "infer_recurrent"]

#: Rows of ``weight_hh`` per hidden unit -> the recurrent class (pytorch: torch/nn/modules/
#: rnn.py: RNN has 1 gate, GRU 3 (r, z, n), LSTM 4 (i, f, g, o)).
GATES = {1: "RNN", 3: "GRU", 4: "LSTM"}


def infer_recurrent(ctx: Context, raw: Raw) -> LayerGuess | None:
    """RNN/GRU/LSTM or a cell; ``None`` when the input/hidden weights are missing."""
    lv = raw.leaves
    cell = raw.kind is TensorLayout.RNN_CELL
    suffix = "" if cell else "_l0"
    ih, hh = lv.get("weight_ih" + suffix), lv.get("weight_hh" + suffix)
    if ih is None or hh is None:
        return None
    hr = lv.get("weight_hr_l0")
    hidden = hr.shape[1] if hr is not None else hh.shape[1]
    gates = hh.shape[0] // hidden if hidden else 0
    type_ = GATES.get(gates)
    if type_ is None or hh.shape[0] % hidden:
        return make_guess(
            raw,
            ctx,
            "unknown",
            0.2,
            {},
            [
                f"recurrent weights with {hh.shape[0]} rows for hidden size {hidden}: not 1/3/4 "
                "gates"
            ],
        )
    ev = [f"weight_hh{suffix} {shape_text(hh.shape)}: {gates} gate(s) x hidden {hidden}"]
    attrs: dict[str, Any] = {
        "input_size": ih.shape[1],
        "hidden_size": hidden,
        "bias": ("bias_ih" + suffix) in lv,
    }
    if cell:
        return make_guess(
            raw, ctx, type_ + "Cell", 0.95, attrs, [*ev, "no _l{k} suffix: a single cell"]
        )
    return make_guess(raw, ctx, type_, 0.98, _stacked(raw, attrs, ev), ev)


def _stacked(raw: Raw, attrs: dict[str, Any], ev: list[str]) -> dict[str, Any]:
    """Layers, direction and projection of a multi-layer RNN (added to ``attrs``/``ev``)."""
    lv = raw.leaves
    layers = 1 + max(int(m.group(3)) for n in lv if (m := RNN_KEY.match(n)))
    attrs["num_layers"] = layers
    attrs["bidirectional"] = any(n.endswith("_reverse") for n in lv)
    hr = lv.get("weight_hr_l0")
    if hr is not None:
        attrs["proj_size"] = hr.shape[0]
        ev.append(f"weight_hr_l0 {shape_text(hr.shape)}: proj_size={hr.shape[0]}")
    ev.append(
        f"{layers} layer(s)" + (", bidirectional (_reverse)" if attrs["bidirectional"] else "")
    )
    return attrs


def infer_attention(ctx: Context, raw: Raw) -> LayerGuess:
    """MultiheadAttention: packed or separate q/k/v projections."""
    lv = raw.leaves
    if "in_proj_weight" in lv:
        e = lv["in_proj_weight"].shape[1]
        attrs: dict[str, Any] = {"embed_dim": e}
        ev = [f"in_proj_weight {shape_text(lv['in_proj_weight'].shape)}: packed q/k/v of {e}"]
    else:
        q, k, v = (lv.get(n + "_proj_weight") for n in "qkv")
        e = q.shape[0] if q is not None else 0
        attrs = {
            "embed_dim": e,
            "kdim": k.shape[1] if k is not None else e,
            "vdim": v.shape[1] if v is not None else e,
        }
        ev = ["separate q/k/v_proj_weight: key/value dims differ from embed_dim"]
    attrs["bias"] = "in_proj_bias" in lv
    attrs["add_bias_kv"] = "bias_k" in lv
    ev.append("num_heads is not stored")
    return make_guess(raw, ctx, "MultiheadAttention", 0.97, attrs, ev)
