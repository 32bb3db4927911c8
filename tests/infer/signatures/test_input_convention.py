"""``input_convention``: the documented input of a named family, from its info record and
the arguments recovered from the file (no data file needed, except in the last tests)."""

from __future__ import annotations

from typing import Any

from pthforensics.infer.signatures import load_store
from pthforensics.infer.signatures._config import Recovered, input_convention
from pthforensics.infer.signatures._store import Entry

_AST_INFO: dict[str, Any] = {
    "config_class": "ASTConfig",
    "main_input": "input_values",
    "inputs": ["input_values", "attention_mask"],
    "input_config": {"num_mel_bins": 128, "max_length": 1024, "patch_size": 16},
    "extractor": {
        "class": "ASTFeatureExtractor",
        "sampling_rate": 16000,
        "shape": [1, 1024, 128],
        "shape_2s": [1, 1024, 128],
    },
    "fixed_input_size": True,
    "fixed_input_size_source": "measured: forward runs on [1, 1024, 128] and raises...",
}


def _entry(library: str) -> Entry:
    return Entry(library, "SomeModel", 0, (), (), 0, "module")


def _convention(library: str, info: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return input_convention(_entry(library), info, Recovered({}, kwargs, ()))


def test_an_audio_input_is_the_extractor_output_with_the_recovered_sizes() -> None:
    doc = _convention("transformers", _AST_INFO, num_mel_bins=80, hidden_size=768)
    assert doc["shape"] == [1, 1024, 80]  # 128 is num_mel_bins' default: the file's 80
    assert (doc["kind"], doc["signal"], doc["sampling_rate"]) == ("sequence", "features", 16000)
    assert doc["fixed_input_size"] is True
    assert doc["fixed_input_size_source"].startswith("measured")
    assert "ASTFeatureExtractor" in doc["source"]


def test_a_size_two_config_values_share_is_left_as_the_extractor_gives_it() -> None:
    info = {**_AST_INFO, "input_config": {"num_mel_bins": 128, "other": 128}}
    doc = _convention("transformers", info, num_mel_bins=80, other=64)
    assert doc["shape"] == [1, 1024, 128]


def test_a_waveform_grows_by_the_sampling_rate() -> None:
    info = {
        "config_class": "Wav2Vec2Config",
        "main_input": "input_values",
        "input_config": {},
        "extractor": {"sampling_rate": 16000, "shape": [1, 16000], "shape_2s": [1, 32000]},
        "fixed_input_size": False,
    }
    doc = _convention("transformers", info)
    assert (doc["shape"], doc["signal"], doc["fixed_input_size"]) == ([1, 16000], "waveform", False)


def test_without_an_extractor_the_config_gives_frames_by_mel_bins_or_one_second() -> None:
    info = {k: v for k, v in _AST_INFO.items() if k not in ("extractor", "fixed_input_size")}
    doc = _convention("transformers", info, max_length=512)
    assert doc["shape"] == [1, 512, 128] and "fixed_input_size" not in doc
    waveform = {"main_input": "input_values", "input_config": {"sampling_rate": 24000}}
    assert _convention("transformers", waveform)["shape"] == [1, 24000]
    bare = {"main_input": "input_features", "input_config": {}}
    assert "shape" not in _convention("transformers", bare)


def test_a_torchvision_measurement_flows_into_the_convention() -> None:
    info = {
        "input": {
            "source": "torchvision MaxVit_T_Weights.IMAGENET1K_V1 transforms",
            "transform": "ImageClassification",
            "crop_size": [224],
            "fixed_input_size": True,
            "fixed_input_size_source": "measured: forward runs at the documented 224 and raises",
        }
    }
    doc = _convention("torchvision", info)
    assert doc["shape"] == [1, 3, 224, 224] and doc["fixed_input_size"] is True


def _info_of(library: str, name: str) -> dict[str, Any]:
    store = load_store()
    assert store is not None
    infos = [store.info[e.info] for e in store.entries if (e.library, e.name) == (library, name)]
    assert infos, f"{library}:{name} is not in the data"
    return infos[0]


def test_the_data_says_maxvit_is_fixed_and_resnet_is_not() -> None:
    maxvit = _info_of("torchvision", "maxvit_t")["input"]
    assert maxvit["fixed_input_size"] is True
    assert maxvit["fixed_input_size_source"].startswith("measured")
    assert _info_of("torchvision", "resnet50")["input"]["fixed_input_size"] is False


def test_the_data_holds_the_feature_extractor_shapes() -> None:
    ast = _info_of("transformers", "ASTForAudioClassification")
    assert ast["extractor"]["shape"] == [1, 1024, 128] and ast["fixed_input_size"] is True
    assert ast["input_config"]["num_mel_bins"] == 128
    wav2vec2 = _info_of("transformers", "Wav2Vec2ForCTC")
    assert wav2vec2["extractor"]["shape"] == [1, 16000] and wav2vec2["fixed_input_size"] is False


def test_an_ast_file_gets_the_measured_fixed_spectrogram_input() -> None:
    from pthforensics.pipeline import inspect_file

    from ._support import LIBRARY

    report = inspect_file(str(LIBRARY / "hf_ast_audio.bin"), trace=False)
    assert report.architecture is not None
    assert report.architecture.name == "ASTForAudioClassification"
    guess = report.input
    assert guess is not None
    assert (guess.status.value, guess.shape, guess.kind.value) == (
        "fixed",
        (1, 1024, 128),
        "sequence",
    )
    assert any("ASTFeatureExtractor" in e and "measured" in e for e in guess.evidence)
