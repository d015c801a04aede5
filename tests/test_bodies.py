"""The body directory: the name people read for each body id (PROCEDURES.md, « Body names »)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stechnique import Bodies, Engine, InvalidArgument
from stechnique.bodies import body_name
from stechnique.workflows.known_funders import KNOWN_FUNDERS


def test_the_directory_names_first_then_the_known_funders_then_the_id() -> None:
    bodies = Bodies({"ca-belle-de-mai": "Association Belle de Mai", "caf-13": "Caf 13"})
    assert bodies.name("ca-belle-de-mai") == "Association Belle de Mai"
    assert bodies.name("caf-13") == "Caf 13"  # the deployment's name wins
    assert bodies.name("ville-marseille") == "Ville de Marseille"
    assert bodies.name("singuliers-et-co") == "singuliers-et-co"
    assert bodies.named(["etat", "x"]) == ("État", "x")
    assert body_name("region") == KNOWN_FUNDERS["region"]


def test_the_directory_is_read_from_toml(tmp_path: Path) -> None:
    file = tmp_path / "bodies.toml"
    file.write_text(
        '[bodies]\nca-belle-de-mai = "Association Belle de Mai"\n"region-sud" = "Région Sud"\n',
        encoding="utf-8",
    )
    bodies = Bodies.load(file)
    assert bodies == Bodies(
        {"ca-belle-de-mai": "Association Belle de Mai", "region-sud": "Région Sud"}
    )
    assert Engine(bodies=bodies).bodies.name("region-sud") == "Région Sud"
    assert Engine().bodies == Bodies()


@pytest.mark.parametrize(
    "text",
    ['[bodies]\nx = ""\n', "[bodies]\nx = 3\n", '[names]\nx = "X"\n', "bodies = 3\n", "[bodies\n"],
)
def test_a_malformed_directory_is_refused_in_both_languages(tmp_path: Path, text: str) -> None:
    file = tmp_path / "bodies.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidArgument) as caught:
        Bodies.load(file)
    (problem,) = caught.value.arguments
    assert problem.argument == "bodies"
    assert problem.fr
    assert problem.en
