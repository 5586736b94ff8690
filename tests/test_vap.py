"""The VAP bundle's structure, rendered from the check data: what the live and offline suites cannot see at a glance.

The verdicts and messages themselves are proven against upstream PSA in a live API server
(conformance/test_vap_cluster.py, test_psa_modes_cluster.py); here: every version's allowed values and PSA's plans
come from the registry, the parameters are the configuration's, and bad configurations are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.policy.namespaces import LevelVersion, NamespacePolicy
from generator.policy.psa_config import PSA_DEFAULTS, PsaConfiguration
from generator.policy.registry import CHECKS, active_checks
from generator.policy.versions import NEWEST_MINOR, parse_version
from generator.render import gatekeeper as gk
from generator.render import vap


def _policy() -> dict[str, Any]:
    files = vap.vap_bundle()
    policy: dict[str, Any] = yaml.safe_load(files[vap.POLICY_PATH])
    return policy


def _variables() -> dict[str, str]:
    return {v["name"]: v["expression"] for v in _policy()["spec"]["variables"]}


def test_each_check_version_runs_with_its_own_allowed_values() -> None:
    variables = _variables()
    env = vap.vap_environment()
    _, refs = vap.check_variables(env)
    for check in CHECKS:
        for version in check.versions:
            ref = refs[(check.id, version.name)]
            expression = variables[re.findall(r"variables\.(\w+)", ref)[-1]]  # behind the relaxations' tests
            for values in version.allowed.values():
                assert vap.cel_list(values) in expression, (check.id, version.name)
            if version.relaxations:
                assert all(r.cel in ref for r in version.relaxations), (check.id, version.name)


def test_versions_with_other_allowed_values_are_other_variables() -> None:
    _, refs = vap.check_variables(vap.vap_environment())
    sysctls = [refs[("sysctls", v.name)] for c in CHECKS if c.id == "sysctls" for v in c.versions]
    assert len(set(sysctls)) == len(sysctls) == 5


def test_the_plan_tables_are_the_registrys_plans() -> None:
    _, refs = vap.check_variables(vap.vap_environment())
    view = vap.plans_view(refs)
    for level in ("baseline", "restricted"):
        index = [int(n) for n in view.index[level].strip("[]").split(", ")]
        assert len(index) == NEWEST_MINOR + 1
        for minor, plan in enumerate(index):
            wanted = [refs[(c.id, v.name)] for c, v in active_checks(level, minor)]
            assert view.plans[plan].split(" +\n") == wanted, (level, minor)


def test_the_policy_reads_every_mode_and_binds_each_to_its_action() -> None:
    files = vap.vap_bundle()
    bindings = list(yaml.safe_load_all(files[vap.BINDINGS_PATH]))
    actions = {b["metadata"]["name"]: b["spec"]["validationActions"] for b in bindings}
    assert actions == {vap.binding_name(m): [a] for m, a in vap.MODE_ACTIONS.items()}
    for b in bindings:
        ref = b["spec"]["paramRef"]
        assert ref["parameterNotFoundAction"] == "Deny" and ref["namespace"] == vap.PARAMS_NAMESPACE
    policy = _policy()
    assert policy["spec"]["failurePolicy"] == "Fail"
    kustomization = yaml.safe_load(files[vap.KUSTOMIZATION_PATH])
    assert sorted(kustomization["resources"]) == sorted(set(files) - {vap.KUSTOMIZATION_PATH})


def test_the_parameters_are_the_configurations() -> None:
    config = gk.configured_sample()
    for mode in vap.MODE_ACTIONS:
        data = vap.params(config, mode, deny_workloads=True)["data"]
        assert data["mode"] == mode
        for name, lv in (("enforce", config.defaults.enforce), ("audit", config.defaults.audit),
                         ("warn", config.defaults.warn)):  # fmt: skip
            assert (data[name], data[f"{name}-version"]) == (lv.level, str(lv.version))
        assert data["exemptUsernames"].split("\n") == list(config.usernames)
        assert data["exemptNamespaces"].split("\n") == list(config.namespaces)
        assert data["exemptRuntimeClasses"].split("\n") == list(config.runtime_classes)
        assert data["denyWorkloads"] == "true"
    assert vap.params(PSA_DEFAULTS, "enforce")["data"]["exemptUsernames"] == ""


def test_a_name_the_parameters_cannot_list_is_refused() -> None:
    privileged = LevelVersion("privileged", parse_version("latest"))
    config = PsaConfiguration(NamespacePolicy(privileged, privileged, privileged), usernames=("a\nb",))
    with pytest.raises(vap.VapRenderError, match="newline"):
        vap.vap_bundle(config)


def test_cel_strings_escape_what_cel_would_read_otherwise() -> None:
    assert vap.cel_string("it's") == r"'it\'s'"
    assert vap.cel_string("a\\b") == r"'a\\b'"
    assert vap.cel_string("\n\x00é\u2028") == r"'\x0a\x00\xe9\u2028'"


def test_go_quote_fixes_cover_every_character_go_escapes_up_to_latin_1() -> None:
    fixes = vap.go_quote_fixes()
    assert ".replace('\\x00', '\\\\x00')" in fixes
    assert ".replace('\\x7f', '\\\\x7f')" in fixes
    assert ".replace('\\xa0', '\\\\u00a0')" in fixes
    assert "'\\x0a'" not in fixes  # strings.quote already writes \n, as Go does
    assert fixes.count(".replace(") == 25 + 1 + 34  # C0 but the named seven, DEL, C1 + NBSP + soft hyphen


def test_the_readme_lists_each_message_difference_as_the_policy_makes_it() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### ValidatingAdmissionPolicy (CEL)") :]
    section = section[: section.index("\n### ")]
    assert vap.CUT_MARK.strip() in section
    assert f"more than {vap.SORT_LIMIT} values" in section and f'then `"{vap.CUT_ITEM}"`' in section
    assert "`\\n`" in section and "U+2028" in section
    table = section[section.index("| difference | why |") :].split("\n\n")[0].splitlines()
    assert len(table) - 2 == len(vap.MESSAGE_DIFFERENCES)  # header and rule, then one row per difference
