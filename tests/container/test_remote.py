"""URLs and storage options: which paths are remote, how ``--storage-option`` pairs reach
a protocol's file system, what a store's answers become."""

from __future__ import annotations

import pytest

from pthforensics.container import is_url, parse_storage_option, stat_object, storage_options
from pthforensics.container.remote import _etag, _options_for
from pthforensics.core import ContainerError


@pytest.mark.parametrize(
    ("path", "remote"),
    [
        ("s3://bucket/model.pt", True),
        ("https://host/m.pt", True),
        ("hf://org/name/model.safetensors", True),
        ("gcs+x://b/k", True),
        ("models/model.pt", False),
        ("/abs/s3://odd", False),
        ("C:\\models\\m.pt", False),
        ("3s://x", False),
    ],
)
def test_is_url(path: str, remote: bool) -> None:
    assert is_url(path) is remote


def test_options_are_json_when_they_parse_and_scoped_by_protocol() -> None:
    given = storage_options(
        [
            "endpoint_url=http://127.0.0.1:9000",
            "anon=true",
            'client_kwargs={"region_name": "eu-west-1"}',
            "s3.anon=false",
            "https.headers={}",
            "max_concurrency=4",
            'key="1234"',
            "secret=007",
        ]
    )
    s3 = _options_for("s3", given)
    assert s3 == {
        "endpoint_url": "http://127.0.0.1:9000",
        "anon": False,  # the scoped one wins
        "client_kwargs": {"region_name": "eu-west-1"},
        "max_concurrency": 4,  # JSON when it parses (quoted: a string)
        "key": "1234",
        "secret": "007",  # not JSON: the string as given
    }
    assert "headers" not in s3
    assert _options_for("https", given)["headers"] == {}
    assert _options_for("https", given)["anon"] is True


def test_a_mapping_keeps_its_values_as_they_are() -> None:
    given = storage_options({"key": "007", "anon": True, "client_kwargs": {"a": 1}})
    assert _options_for("s3", given) == {"key": "007", "anon": True, "client_kwargs": {"a": 1}}


@pytest.mark.parametrize("text", ["novalue", "=x", "bad key=1", "s3.=x", ".k=v", "a.b.c=1"])
def test_malformed_options_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_storage_option(text)


def test_store_answers() -> None:
    assert _etag({"ETag": '"abc"'}) == "abc"
    assert _etag({"etag": "x"}) == "x"
    assert _etag({"size": 3}) is None
    folder = stat_object("https://127.0.0.1:1/models/")  # no request: web folders end in /
    assert folder.is_dir and folder.size is None
    with pytest.raises(ContainerError, match="file system"):
        stat_object("nosuchprotocol://x/y")
