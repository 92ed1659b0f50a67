"""The registry from the CLI: warnings when it is old or a fact expired, ``registry show``,
``registry diff`` before adopting a newer file, ``registry adopt``, then plan and apply."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from tests.cli.conftest import Run

SHIPPED = resources.files("domicile.policy").joinpath("data/registry.toml").read_text("utf-8")


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def set_max_age(deployment: Path, days: int) -> None:
    deployment.write_text(deployment.read_text() + f"\n[registry]\nmax_age_days = {days}\n")


def newer_registry(folder: Path, *, ovh_subject_to_cn: bool = True) -> Path:
    """The shipped registry, reviewed again, in which OVHcloud's parent is now reachable
    by Chinese law (a made-up fact, for the test)."""
    text = SHIPPED.replace('version = "2026.12.1"', 'version = "2027.01.1"', 1)
    text = text.replace('reviewed = "2025-07-01"', 'reviewed = "2027-01-01"', 1)
    if ovh_subject_to_cn:
        text = text.replace(
            "[entities.ovh-groupe]\n", '[entities.ovh-groupe]\nalso_subject_to = ["CN"]\n', 1
        )
    path = folder / "registry-2027.toml"
    path.write_text(text)
    return path


def test_an_old_registry_warns_in_sites_explain_and_the_report(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    set_max_age(deployment, 1)
    sites = run(*cfg, "sites")
    assert sites.code == 0, sites.err
    warning = "warning: the residency registry 2026.12.1 was last reviewed on 2025-07-01"
    assert warning in flat(sites.err) and "max_age_days = 1)" in flat(sites.err)
    assert "warning" not in sites.out
    as_json = run(*cfg, "--json", "sites")
    assert as_json.json() and warning in flat(as_json.err)  # stdout stays parseable
    explain = run(*cfg, "policy", "explain", "reports")
    assert explain.code == 0 and warning in flat(explain.err)
    report = run(*cfg, "report", "--format", "json")
    assert report.code == 0, report.err
    (stale,) = report.json()["registry"]["warnings"]
    assert stale.startswith("the residency registry 2026.12.1 was last reviewed on 2025-07-01")
    assert "registry warning: the residency registry 2026.12.1" in flat(run(*cfg, "report").out)
    # Young enough: no warning anywhere.
    text = deployment.read_text().replace("max_age_days = 1\n", "max_age_days = 100000\n")
    deployment.write_text(text)
    assert "warning" not in run(*cfg, "sites").err
    assert run(*cfg, "report", "--format", "json").json()["registry"]["warnings"] == []


def test_an_expired_fact_warns(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    lapsed = tmp_path / "lapsed.toml"
    lapsed.write_text(SHIPPED.replace('GB = "2031-12-27"', 'GB = "2025-12-27"'))
    set_max_age(deployment, 100000)
    deployment.write_text(deployment.read_text() + f'file = "{lapsed}"\n')
    said = flat(run(*cfg, "sites").err)
    assert "warning: registry fact expired on 2025-12-27: GB in bloc ADEQUACY" in said
    assert "still applied as written" in said
    shown = run(*cfg, "registry", "show")
    assert "ADEQUACY: GB valid until 2025-12-27" in shown.out
    assert "registry fact expired on 2025-12-27" in flat(shown.out)
    assert str(lapsed) in flat(shown.out)


def test_show_a_file(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    newer = newer_registry(tmp_path)
    shown = run(*cfg, "--json", "registry", "show", str(newer))
    assert shown.code == 0, shown.err
    data = shown.json()
    assert data["version"] == "2027.01.1" and data["reviewed"] == "2027-01-01"
    assert data["source"] == str(newer) and len(data["sha256"]) == 64
    assert data["expiring"] == [{"bloc": "ADEQUACY", "member": "GB", "valid_until": "2031-12-27"}]
    assert run(*cfg, "--json", "registry", "show").json()["version"] == "2026.12.1"
    broken = tmp_path / "broken.toml"
    broken.write_text(SHIPPED.replace('date = "2026-12-02"', 'date = "soon"', 1))
    bad = run(*cfg, "registry", "show", str(broken))
    assert bad.code == 3 and "registry.date" in bad.err


def test_diff_adopt_plan_apply(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    for i in range(2):  # on OVHcloud and Hetzner, the two EU providers
        assert run(*cfg, "put", str(deployment), f"reports/k{i}").code == 0
    add = run(
        *cfg, "sites", "add", "scw-par", "--template", "scaleway:fr-par",
        "--backend", "local:sites/scw-par",
    )  # fmt: skip
    assert add.code == 0, add.err
    newer = newer_registry(tmp_path)
    before = deployment.read_text()

    diff = run(*cfg, "registry", "diff", str(newer))
    assert diff.code == 0, diff.err
    said = flat(diff.out)
    assert "registry 2026.12.1 of 2026-12-02 (in use) -> 2027.01.1 of 2026-12-02" in said
    assert "version: 2026.12.1 -> 2027.01.1" in said
    assert "reviewed: 2025-07-01 -> 2027-01-01" in said
    assert "entity ovh-groupe: also_subject_to - -> CN" in said
    assert "ovh-gra subject to: FR -> FR, CN" in said
    assert "eu-only ovh-gra compliant refused: operator ovh-sas is subject to CN" in said
    assert "domicile registry adopt" in said
    data = run(*cfg, "--json", "registry", "diff", str(newer)).json()
    assert data["verdicts"] == [
        {
            "policy": "eu-only",
            "site": "ovh-gra",
            "compliant_before": True,
            "compliant_after": False,
            "reasons_before": [],
            "reasons_after": data["verdicts"][0]["reasons_after"],
        }
    ]
    assert data["error"] is None and data["warnings"] == []
    assert deployment.read_text() == before  # diff changes nothing

    adopted = run(*cfg, "registry", "adopt", str(newer))
    assert adopted.code == 0, adopted.err
    assert "registry 2027.01.1 of 2026-12-02 in use" in flat(adopted.out)
    assert "  + 2 copies to add (" in adopted.out
    assert "  - 2 copies to remove (2 residency violations)" in adopted.out
    routes = [line.split()[:4] for line in adopted.out.splitlines()]
    assert ["add", "hetzner-fsn", "->", "scw-par"] in routes
    text = deployment.read_text()
    assert text.startswith(before.split("[tenants.default]")[0])  # comments and layout kept
    assert tomllib.loads(text)["registry"]["file"] == str(newer)  # outside the folder
    steps = [line for line in run(*cfg, "--json", "plan").lines() if line["type"] == "step"]
    evacuate = [s for s in steps if s["violation"]]
    assert {s["site_id"] for s in evacuate} == {"ovh-gra"} and len(evacuate) == 2
    assert {s["site_id"] for s in steps if s["action"] == "add"} == {"scw-par"}
    tail = run(*cfg, "--json", "audit", "tail", "-n", "40").json()
    (adoption,) = [r for r in tail if r["action"] == "registry_adopted"]
    assert adoption["detail"]["from_version"] == "2026.12.1"
    assert adoption["detail"]["to_version"] == "2027.01.1"
    changed = [r for r in tail if r["action"] == "site_change"]
    assert [r["sites"] for r in changed] == [["ovh-gra"]]
    assert run(*cfg, "apply", "--yes").code == 0
    assert run(*cfg, "--json", "plan").lines()[-1]["empty"] is True
    for i in range(2):
        holders = {c["site_id"] for c in run(*cfg, "--json", "where", f"reports/k{i}").json()}
        assert holders == {"hetzner-fsn", "scw-par"}
    assert run(*cfg, "--json", "registry", "show").json()["version"] == "2027.01.1"
    report = run(*cfg, "report", "--format", "json").json()
    assert report["registry"]["version"] == "2027.01.1"
    assert report["registry"]["sha256"] == run(*cfg, "--json", "registry", "show").json()["sha256"]


def test_a_registry_that_breaks_the_configuration(
    deployment: Path, run: Run, tmp_path: Path
) -> None:
    cfg = ("--config", str(deployment))
    gone = tmp_path / "no-hetzner.toml"
    gone.write_text(SHIPPED.replace('[templates."hetzner:fsn1"]', '[templates."hetzner:fsn9"]'))
    before = deployment.read_text()
    diff = run(*cfg, "registry", "diff", str(gone))
    assert diff.code == 3
    said = flat(diff.out)
    assert "template hetzner:fsn1: removed" in said
    assert "this registry does not fit the configuration:" in said
    assert "unknown template 'hetzner:fsn1'" in said
    adopt = run(*cfg, "registry", "adopt", str(gone))
    assert adopt.code == 3 and "unknown template 'hetzner:fsn1'" in adopt.err
    assert deployment.read_text() == before
