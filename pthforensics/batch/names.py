"""What a file's name says: an extension some loader reads (always reported, whatever its
first bytes) and the folders of tools that are never walked.  Shared by local and remote
discovery."""

from __future__ import annotations

__all__ = ["CHECKPOINT_EXTENSIONS", "TOOL_FOLDERS", "has_checkpoint_name"]

#: Folders of tools, never of models: not walked (counted as ``tool-folder``).
TOOL_FOLDERS = frozenset({".git", "__pycache__", ".hg", ".svn", "node_modules", ".tox", ".venv"})

#: Names a loader reads: torch.save's own (.pt .pth .bin .ckpt .tar, ``.pth.tar``),
#: pickle and joblib dumps, safetensors, TorchScript/Lite exports (.ptl, .torchscript),
#: torch.export (.pt2), NumPy (.npy .npz: ``np.load`` unpickles object arrays), and
#: the generic ``.model``.  A file with one of these names is always reported, whatever
#: its first bytes: a damaged checkpoint is an error, not a non-checkpoint.
CHECKPOINT_EXTENSIONS = (
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".pkl",
    ".pickle",
    ".safetensors",
    ".tar",
    ".joblib",
    ".model",
    ".pt2",
    ".ptl",
    ".torchscript",
    ".npy",
    ".npz",
)

#: Suffixes of compressed copies (``model.pt.gz``): the reader unwraps them, so the name
#: before them decides.
_COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".7z", ".zip")


def has_checkpoint_name(path: str) -> bool:
    """Whether the file name ends in an extension some loader reads, possibly followed by
    a compression suffix (``model.pth.gz``)."""
    name = path.lower()
    stem, dot, suffix = name.rpartition(".")
    if dot and "." + suffix in _COMPRESSED_SUFFIXES:
        name = stem
    return name.endswith(CHECKPOINT_EXTENSIONS)
