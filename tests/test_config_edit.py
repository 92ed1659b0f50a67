"""Configuration edits (tomlkit): comments and layout kept, every TOML shape of a site."""

from __future__ import annotations

import threading
import time
import tomllib
from pathlib import Path

import pytest
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.config import load_config
from domicile.config.edit import add_site, edit_config, remove_site, set_site_key
from domicile.engine import example_config, set_site_status
from domicile.engine.siteconfig import check_world
from domicile.errors import ConfigError

POLICY = '[policies.eu]\nallow = ["EU"]\ncopies = 1\n'

#: The same two sites, written in each shape TOML allows.
SHAPES = {
    "tables": (
        '# my sites\n[sites.gra]  # Gravelines\ntemplate = "ovhcloud:gra"\n'
        'backend = { type = "memory" }\n\n[sites.fsn]\ntemplate = "hetzner:fsn1"\n'
        'backend = { type = "memory" }\n\n' + POLICY
    ),
    "inline under [sites]": (
        "[sites]  # my sites\n"
        'gra = { template = "ovhcloud:gra", backend = { type = "memory" } }\n'
        'fsn = { template = "hetzner:fsn1", backend = { type = "memory" } }\n\n' + POLICY
    ),
    "inline at the root": (
        'sites = { gra = { template = "ovhcloud:gra", backend = { type = "memory" } }, '
        'fsn = { template = "hetzner:fsn1", backend = { type = "memory" } } }  # my sites\n'
        + POLICY
    ),
    "dotted keys at the root": (
        '# my sites\nsites.gra.template = "ovhcloud:gra"\nsites.gra.backend.type = "memory"\n'
        'sites.fsn.template = "hetzner:fsn1"\nsites.fsn.backend.type = "memory"\n' + POLICY
    ),
    "dotted keys under [sites]": (
        '[sites]  # my sites\ngra.template = "ovhcloud:gra"\ngra.backend.type = "memory"\n'
        'fsn.template = "hetzner:fsn1"\nfsn.backend.type = "memory"\n\n' + POLICY
    ),
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "domicile.toml"
    path.write_text(text)
    path.chmod(0o640)
    return path


@pytest.mark.parametrize("shape", list(SHAPES))
def test_set_status_in_every_shape(tmp_path: Path, shape: str) -> None:
    path = write(tmp_path, SHAPES[shape])
    assert set_site_status(path, "gra", "draining") == "active"
    assert set_site_status(path, "gra", "suspended") == "draining"
    text = path.read_text()
    assert "# my sites" in text
    sites = load_config(path).sites
    assert sites["gra"]["status"] == "suspended"
    assert "status" not in sites["fsn"]
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("shape", list(SHAPES))
def test_add_and_remove_in_every_shape(tmp_path: Path, shape: str) -> None:
    path = write(tmp_path, SHAPES[shape])
    body = {"template": "aws:eu-central-1", "backend": {"type": "memory"}}
    edit_config(path, lambda doc: add_site(doc, "fra", body))
    assert load_config(path).sites["fra"] == body
    edit_config(path, lambda doc: remove_site(doc, "gra"))
    sites = load_config(path).sites
    assert sorted(sites) == ["fra", "fsn"]
    assert "# my sites" in path.read_text()


def test_a_new_table_goes_after_the_last_site_before_the_next_sections_comment(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, example_config())
    body = {"template": "aws:eu-central-1", "backend": {"type": "local", "path": "sites/fra"}}
    edit_config(path, lambda doc: add_site(doc, "aws-fra", body))
    text = path.read_text()
    assert (
        '# status = "active"                           # active | draining | suspended | '
        "retired\n\n"
        "[sites.aws-fra]\n"
        'template = "aws:eu-central-1"\n'
        'backend = { type = "local", path = "sites/fra" }\n\n'
        "# A policy says where copies may rest and how many there must be.\n"
        "[policies.eu-only]\n"
    ) in text
    edit_config(path, lambda doc: remove_site(doc, "aws-fra"))
    assert path.read_text() == example_config()


def test_removing_the_last_site_keeps_the_next_sections_comment(tmp_path: Path) -> None:
    path = write(tmp_path, example_config())
    edit_config(path, lambda doc: remove_site(doc, "alibaba-sv"))
    text = path.read_text()
    assert (
        'backend = { type = "local", path = "sites/hetzner-fsn" }\n\n'
        "# A policy says where copies may rest and how many there must be.\n"
        "[policies.eu-only]\n"
    ) in text
    assert "alibaba" not in text.split("[policies")[0].split("# provider (the failure")[1]


def test_a_file_without_sites_gets_a_sites_table(tmp_path: Path) -> None:
    path = write(tmp_path, "[deployment]\nname = 'x'  # mine\n")
    edit_config(path, lambda doc: add_site(doc, "m", {"country": "FR", "operator": "ovh-sas"}))
    text = path.read_text()
    assert "name = 'x'  # mine\n" in text
    assert tomllib.loads(text)["sites"] == {"m": {"country": "FR", "operator": "ovh-sas"}}


def test_an_invalid_result_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = write(tmp_path, SHAPES["tables"])
    with pytest.raises(ConfigError) as err:
        set_site_status(path, "gra", "gone")
    assert "unknown site status" in err.value.message
    with pytest.raises(ConfigError) as err:
        edit_config(path, lambda doc: set_site_key(doc, "gra", "colour", "blue"), check=check_world)
    assert err.value.context["key"] == "sites.gra.colour"
    with pytest.raises(ConfigError) as err:
        edit_config(path, lambda doc: doc.add("deploymnt", {"name": "x"}))
    assert "unknown table [deploymnt]" in err.value.message
    assert path.read_text() == SHAPES["tables"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".domicile-")]


def test_an_unknown_site_names_the_file_and_the_sites(tmp_path: Path) -> None:
    path = write(tmp_path, SHAPES["dotted keys at the root"])
    with pytest.raises(ConfigError) as err:
        set_site_status(path, "grra", "draining")
    assert str(path) in err.value.message
    assert err.value.hint == "the sites are fsn, gra"
    with pytest.raises(ConfigError, match="already in the configuration"):
        edit_config(path, lambda doc: add_site(doc, "gra", {"template": "ovhcloud:gra"}))


def test_a_change_that_breaks_a_policy_is_refused(tmp_path: Path) -> None:
    text = SHAPES["tables"].replace("copies = 1", 'copies = 2\ndistinct = "provider"')
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="can never be met"):
        set_site_status(path, "gra", "retired")
    assert path.read_text() == text


@given(
    shape=st.sampled_from(list(SHAPES)),
    site=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True).filter(
        lambda s: s not in ("gra", "fsn")
    ),
    status=st.sampled_from(["active", "draining", "suspended", "retired"]),
)
@settings(max_examples=60, deadline=None)
def test_add_set_remove_round_trip_in_every_shape(shape: str, site: str, status: str) -> None:
    doc = tomlkit.parse(SHAPES[shape])
    body = {"template": "ovhcloud:sbg", "backend": {"type": "memory"}, "status": status}
    add_site(doc, site, body)
    assert tomllib.loads(tomlkit.dumps(doc))["sites"][site] == body
    set_site_key(doc, "gra", "status", status)
    remove_site(doc, site)
    text = tomlkit.dumps(doc)
    expected = tomllib.loads(SHAPES[shape])
    expected["sites"]["gra"]["status"] = status
    assert tomllib.loads(text) == expected
    assert "# my sites" in text


def test_edits_at_once_each_keep_their_change(tmp_path: Path) -> None:
    """Two commands editing the file together (``sites add`` twice, say): each reads the
    file under the edit lock, so neither writes over the other's change."""
    path = write(tmp_path, SHAPES["tables"])
    body = {"template": "scaleway:par", "backend": {"type": "memory"}}

    def add(n: int) -> None:
        def change(doc: tomlkit.TOMLDocument) -> None:
            time.sleep(0.05)  # a slow editor: without the lock, the others read meanwhile
            add_site(doc, f"par{n}", body)

        edit_config(path, change)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sites = tomllib.loads(path.read_text())["sites"]
    assert {f"par{n}" for n in range(6)} <= set(sites)


def test_an_editor_killed_mid_write_leaves_nothing_after_the_next_edit(tmp_path: Path) -> None:
    path = write(tmp_path, SHAPES["tables"])
    leftover = tmp_path / ".domicile-edit-k9x2.toml"  # a temp file of an editor killed with -9
    leftover.write_text("half a configuration")
    set_site_status(path, "gra", "draining")
    assert not leftover.exists()
    assert tomllib.loads(path.read_text())["sites"]["gra"]["status"] == "draining"
