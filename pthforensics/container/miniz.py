"""Which member torch's zip reader opens for a name: miniz's lookup, reproduced.

torch reads zip checkpoints with miniz behind ``caffe2/serialize/inline_container.cc``
(``PyTorchStreamReader``).  Its archive root is the text before the first ``/`` of the
*first* central-directory name (no ``/``: torch refuses the archive), and
``getRecord(name)`` looks up ``root/name`` with ``mz_zip_reader_locate_file(..., flags=0)``:
a binary search, ASCII case-insensitive, over the entries heap-sorted by lower-cased name
(``mz_zip_reader_sort_central_dir_offsets_by_filename``).  Of several names equal but for
case (or equal), the one this search meets is the one torch unpickles; the others are
members no loader opens.  ``getAllRecords`` (which ``torch.load`` calls first, to spot
TorchScript) refuses an archive with a name outside the root.

Source: miniz 3.0.2 ``miniz_zip.c`` (``mz_zip_reader_filename_less``,
``mz_zip_reader_sort_central_dir_offsets_by_filename``, ``mz_zip_locate_file_binary_search``,
``mz_zip_filename_compare``); ``caffe2/serialize/inline_container.cc`` (``init``,
``getRecordID``, ``getAllRecords``).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MinizIndex", "archive_root"]

_LOWER = bytes.maketrans(bytes(range(ord("A"), ord("Z") + 1)), bytes(range(ord("a"), ord("z") + 1)))


def archive_root(first_name: bytes) -> bytes | None:
    """The archive root torch takes from the first name (``None``: no ``/``, refused)."""
    slash = first_name.find(b"/")
    return None if slash < 0 else first_name[:slash]


class MinizIndex:
    """The sorted index miniz builds over an archive's names, and its lookup."""

    def __init__(self, names: Sequence[bytes]) -> None:
        self.keys = [name.translate(_LOWER) for name in names]
        self._order: list[int] | None = None

    @property
    def order(self) -> list[int]:
        """Entry indices in miniz's sorted order (built when a lookup needs it)."""
        if self._order is None:
            self._order = _heap_sort(self.keys)
        return self._order

    def locate(self, name: bytes) -> int | None:
        """The index of the entry ``getRecord`` opens for ``name`` (``None``: not found)."""
        key = name.translate(_LOWER)
        matches = self.keys.count(key)
        if matches < 2:  # the search finds a unique key whatever the order of the others
            return self.keys.index(key) if matches else None
        low, high = 0, len(self.order) - 1
        while low <= high:
            mid = low + ((high - low) >> 1)
            index = self.order[mid]
            candidate = self.keys[index]
            if candidate == key:
                return index
            if candidate < key:
                low = mid + 1
            else:
                high = mid - 1
        return None


def _heap_sort(keys: Sequence[bytes]) -> list[int]:
    """``mz_zip_reader_sort_central_dir_offsets_by_filename``: miniz's (unstable) heap
    sort of entry indices by lower-cased name, step for step."""
    size = len(keys)
    order = list(range(size))
    if size <= 1:
        return order

    def sift(root: int, end: int) -> None:
        while True:
            child = 2 * root + 1
            if child >= end:
                return
            if child + 1 < end and keys[order[child]] < keys[order[child + 1]]:
                child += 1
            if not keys[order[root]] < keys[order[child]]:
                return
            order[root], order[child] = order[child], order[root]
            root = child

    for start in range((size - 2) >> 1, -1, -1):
        sift(start, size)
    for end in range(size - 1, 0, -1):
        order[end], order[0] = order[0], order[end]
        sift(0, end)
    return order
