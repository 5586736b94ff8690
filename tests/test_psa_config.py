"""Reading PSA's configuration file: where the configuration is found, and one-line refusals naming the file.

Its validation messages are proven against a live kube-apiserver in conformance/test_psa_config_cluster.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.manifests.psa_config import read_psa_config
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfigError, parse_configuration

PSC = {"apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration"}


def _write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_bare_configuration_and_one_named_by_path_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    _write(tmp_path / "conf" / "psa.yaml", {**PSC, "defaults": {"enforce": "restricted"}})
    admission = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
                 "plugins": [{"name": "PodSecurity", "path": "conf/psa.yaml"}]}  # fmt: skip
    via_path = read_psa_config(_write(tmp_path / "admission.yaml", admission))
    bare = read_psa_config(tmp_path / "conf" / "psa.yaml")
    assert via_path == bare
    assert str(bare.defaults.enforce) == "restricted:latest" and str(bare.defaults.warn) == "privileged:latest"


def test_an_admission_configuration_without_podsecurity_means_psa_defaults(tmp_path: Path) -> None:
    admission = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
                 "plugins": [{"name": "EventRateLimit", "path": "x.yaml"}]}  # fmt: skip
    assert read_psa_config(_write(tmp_path / "a.yaml", admission)) == PSA_DEFAULTS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [", "not YAML"),
        ("---\na: 1\n---\nb: 2\n", "must hold exactly one document (found 2)"),
        ("- a\n", "must hold exactly one mapping (found a list)"),
        ("apiVersion: v1\nkind: ConfigMap\n", "expected apiVersion pod-security.admission.config.k8s.io/v1"),
        (yaml.safe_dump({**PSC, "exemptions": {"usernames": "alice"}}), "exemptions.usernames must be a list"),
    ],
)
def test_bad_files_are_one_line_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "psa.yaml"
    path.write_text(text)
    with pytest.raises(PsaConfigError) as refused:
        read_psa_config(path)
    assert str(refused.value).startswith(f"{path}: ") and message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_exemptions_as_psa_applies_them() -> None:
    config = parse_configuration({**PSC, "exemptions": {"usernames": ["bot"], "namespaces": ["legacy"],
                                                        "runtimeClasses": ["kata"]}})  # fmt: skip
    assert config.exempt(namespace="legacy", username=None, runtime_class=None) == "namespace"
    assert config.exempt(namespace="team", username="bot", runtime_class=None) == "user"  # PSA's `exempt: user`
    assert config.exempt(namespace="team", username="alice", runtime_class="kata") == "runtimeClass"
    assert config.exempt(namespace="team", username="alice", runtime_class="kata-2") is None
