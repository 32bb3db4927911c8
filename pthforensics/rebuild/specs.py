"""The module each checkpoint module becomes: type and attributes, and what of them is
assumed.

A module owning tensors takes its type and shape attributes from its guess; what the
tensors do not store (a convolution's stride and padding) comes from the input hypothesis
or, failing that, PyTorch's default stride with "same" padding -- both marked assumed.  A
parameter-less module is what the hypothesis plans, what its name says, or an Identity.

Pure: no torch.
"""

from __future__ import annotations

from pthforensics.infer import LayerFamily, layer_type

from .context import Context
from .tree import Node
from .values import ModuleSpec

__all__ = ["BUILDABLE_FAMILIES", "SIZE_FAMILIES", "buildable", "layer_spec", "paramless_spec"]

#: Families the rebuild makes from tensors (besides the Linear-likes named below).
BUILDABLE_FAMILIES = frozenset(
    {
        LayerFamily.CONV,
        LayerFamily.CONV_TRANSPOSE,
        LayerFamily.LINEAR,
        LayerFamily.EMBEDDING,
        LayerFamily.BATCH_NORM,
        LayerFamily.INSTANCE_NORM,
        LayerFamily.GROUP_NORM,
        LayerFamily.LAYER_NORM,
        LayerFamily.RMS_NORM,
        LayerFamily.PRELU,
        LayerFamily.RNN,
        LayerFamily.RNN_CELL,
        LayerFamily.ATTENTION,
    }
)
#: Parameter-less families that change sizes.
SIZE_FAMILIES = frozenset(
    {LayerFamily.POOL, LayerFamily.ADAPTIVE_POOL, LayerFamily.UPSAMPLE, LayerFamily.FLATTEN}
)
_POOL_DEFAULTS = {
    LayerFamily.POOL: {"kernel_size": 2},
    LayerFamily.ADAPTIVE_POOL: {"output_size": 1},
    LayerFamily.UPSAMPLE: {"scale_factor": 2},
}
_KEPT = (LayerFamily.ELEMENTWISE, LayerFamily.SOFTMAX, *SIZE_FAMILIES)


def buildable(type_: str) -> bool:
    """Whether the rebuild makes a torch.nn module of this guessed type."""
    lt = layer_type(type_)
    if lt.family in (LayerFamily.CONV, LayerFamily.CONV_TRANSPOSE) and not lt.conv_dims:
        return False  # a class named Conv... without a dimension (ConvNeXtBlock)
    return lt.family in BUILDABLE_FAMILIES and type_ != "Bilinear"


#: Attributes a full-model pickle stores that decide sizes, by what they belong to.
_CONV_STORED = ("stride", "padding", "dilation", "output_padding")
_POOL_STORED = ("kernel_size", "stride", "padding", "ceil_mode", "output_size", "scale_factor")


def stored(node: Node, names: tuple[str, ...]) -> dict[str, object]:
    """The attributes among ``names`` a full-model pickle stored on the module (the
    structure stage's ``LayerGroup.attributes``; none for a state_dict)."""
    found = dict(getattr(node.group, "attributes", ()) or ())
    return {k: found[k] for k in names if k in found}


def layer_spec(node: Node, ctx: Context) -> ModuleSpec:
    """The module of a tensor-owning node (its guess must be buildable)."""
    assert node.guess is not None
    spec = ModuleSpec(node.path, node.guess.type, dict(node.guess.attrs), node.group)
    lt = layer_type(spec.type)
    if not lt.conv_dims:
        return spec
    read = stored(node, _CONV_STORED)
    if "stride" in read and "padding" in read:
        spec.attrs.update(read)  # read from the file: nothing assumed
        return spec
    planned = ctx.plan.get(node.path)
    if planned is not None:
        spec.attrs.update(planned[1])
        if ctx.hypothesis:
            spec.assumed, spec.shapes = f"padding/stride from {ctx.hypothesis}", True
        return spec
    if "stride" in spec.attrs and "padding" in spec.attrs:
        return spec  # read from the file (a full-model pickle)
    k = spec.attrs.get("kernel_size", (1,))
    spec.attrs.setdefault("stride", 1)
    spec.attrs.setdefault("padding", 0 if lt.is_transposed else tuple((x - 1) // 2 for x in k))
    spec.assumed = "stride 1 and 'same' padding assumed (not stored)"
    if lt.is_transposed:
        spec.assumed = "stride 1, no padding assumed (not stored)"
    spec.shapes = True
    return spec


def paramless_spec(node: Node, ctx: Context) -> ModuleSpec:
    """The module of a parameter-less node."""
    planned = ctx.plan.get(node.path)
    read = stored(node, _POOL_STORED)
    if node.group is not None and node.group.class_name and (read or planned is None):
        type_ = node.group.class_name.rsplit(".", 1)[-1]
        if layer_type(type_).family in _KEPT:
            return ModuleSpec(node.path, type_, read, node.group)  # the file names it
        why = f"{type_} (no torch.nn class the rebuild makes) taken as Identity"
        return ModuleSpec(node.path, "Identity", {}, node.group, why)
    if planned is not None:
        type_, attrs = planned[0], dict(planned[1])
        why = f"from {ctx.hypothesis}" if ctx.hypothesis else ""
    elif node.guess is not None:
        type_, attrs = node.guess.type, {}
        why = "" if node.group and node.group.class_name else f"type from its name ({type_})"
    else:
        return ModuleSpec(node.path, "Identity", {}, node.group, "an unknown parameter-less module")
    family = layer_type(type_).family
    if family not in _KEPT:
        return ModuleSpec(node.path, "Identity", {}, node.group, f"{type_} taken as Identity")
    for key, value in _POOL_DEFAULTS.get(family, {}).items():
        if key not in attrs:
            attrs[key] = value
            why = why or f"{type_} with {key}={value} assumed"
    return ModuleSpec(
        node.path, type_, attrs, node.group, why, bool(why) and family in SIZE_FAMILIES
    )
