"""Tensors against the storage index (records built here, nothing read from a file)."""

from __future__ import annotations

from pthforensics.core import (
    Checkpoint,
    Container,
    Format,
    Limits,
    StateDict,
    StorageEntry,
    TensorRecord,
)
from pthforensics.structure import check_integrity, unreferenced_storages


def _check(
    tensors: list[TensorRecord], storages: list[StorageEntry], **kwargs: object
) -> list[str]:
    checkpoint = Checkpoint((StateDict("", tuple(tensors)),), tuple(tensors))
    container = Container("f", Format.TORCH_ZIP, 0, storages=tuple(storages), **kwargs)  # type: ignore[arg-type]
    return [
        f.rule_id
        for f in check_integrity(checkpoint, container, limits=Limits(max_tensor_elements=1 << 20))
    ]


def _t(key: str, shape: tuple[int, ...], storage: str = "0", **kwargs: object) -> TensorRecord:
    return TensorRecord(key, shape, "float32", storage_key=storage, itemsize=4, **kwargs)  # type: ignore[arg-type]


def _s(key: str, nbytes: int) -> StorageEntry:
    return StorageEntry(key, f"a/data/{key}", None, nbytes)


def test_exact_fit_is_clean() -> None:
    assert _check([_t("w", (2, 3))], [_s("0", 24)]) == []


def test_views_with_offsets_and_strides() -> None:
    # A transposed view: shape (3, 2), stride (1, 3) ends at element 1 + 2*1 + 1*3 = 6.
    view = _t("t", (3, 2), stride=(1, 3), storage_offset=0)
    assert _check([view], [_s("0", 24)]) == []
    shifted = _t("s", (2, 3), storage_offset=1)
    assert _check([shifted], [_s("0", 24)]) == ["storage-truncated"]
    assert _check([shifted], [_s("0", 28)]) == []


def test_largest_view_decides_per_storage() -> None:
    tensors = [_t("a", (2,)), _t("b", (10,), storage_offset=0), _t("c", (1,), storage="1")]
    assert _check(tensors, [_s("0", 40), _s("1", 4)]) == []
    assert _check(tensors, [_s("0", 39), _s("1", 4)]) == ["storage-truncated"]


def test_missing_and_unused_storages() -> None:
    assert _check([_t("w", (2,), storage="9")], [_s("0", 8)]) == [
        "storage-missing",
        "storage-unreferenced",
    ]


def test_implausible_shapes_are_one_finding_and_no_allocation() -> None:
    huge = [_t("a", (1 << 30, 1 << 30)), _t("b", (-1, 4)), _t("c", (2,))]
    assert _check(huge, [_s("0", 8)]) == ["tensor-shape-implausible"]


def test_empty_tensors_need_nothing() -> None:
    assert _check([_t("e", (0, 5), storage="gone")], []) == []


def test_incomplete_index_without_storages_is_not_judged() -> None:
    assert _check([_t("w", (2,))], [], storages_complete=False) == []
    assert _check([_t("w", (2,))], []) == ["storage-missing"]


def test_header_formats_are_validated_elsewhere() -> None:
    tensors = (_t("w", (2,)),)
    checkpoint = Checkpoint((StateDict("", tensors),), tensors)
    container = Container("f", Format.SAFETENSORS, 0, header_tensors=tensors)
    assert check_integrity(checkpoint, container) == ()


def test_unreferenced_storages() -> None:
    tensors = (_t("w", (2,), storage="1"),)
    checkpoint = Checkpoint((StateDict("", tensors),), tensors)
    container = Container("f", Format.TORCH_ZIP, 0, storages=(_s("0", 8), _s("1", 8), _s("2", 8)))
    assert unreferenced_storages(checkpoint, container) == ("0", "2")
