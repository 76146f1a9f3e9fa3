"""Commands: verify, package."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("output", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--trust-anchor", "anchors", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A PEM root certificate to trust (repeatable); the local CA and configured anchors are trusted too.")
@click.option("--no-decode", is_flag=True, help="Skip decoding the frames to compare framemd5 (faster, weaker).")
def verify(output: Path, as_json: bool, anchors: tuple[Path, ...], no_decode: bool) -> None:
    """Check OUTPUT's C2PA signature, trust chain and provenance record against the file.

    OUTPUT may also be a package folder made by `restore package`: the bag is validated
    and every film in it verified. Exit 0 valid, 1 invalid or tampered, 2 missing or unreadable.
    """
    from restore.provenance.verify import render_package_text, render_text, verify_output, verify_package

    if output.is_dir() and (output / "bagit.txt").is_file():
        report = verify_package(output, anchors, decode=not no_decode)
        text = render_package_text(report)
    else:
        report = verify_output(output, anchors, decode=not no_decode)
        text = render_text(report)
    click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) if as_json else text)
    click.get_current_context().exit(report.exit_code)


@click.command()
@click.argument("master", type=click.Path(path_type=Path))
@click.option("--access", type=click.Path(path_type=Path), help="The MP4/MOV access copy to pack beside the master.")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="The bag folder to create (must not exist or be empty).")
@click.option("--no-access", is_flag=True, help="Pack the master alone (by default an access copy is made from it).")
@click.option("--no-sign", is_flag=True, help="Do not sign the access copy made from the master.")
@click.option("--no-policy", is_flag=True, help="Do not check the master with MediaConch even when it is installed.")
def package(master: Path, access: Path | None, out_dir: Path, no_access: bool, no_sign: bool, no_policy: bool) -> None:
    """Write a BagIt bag (sha256 + sha512) with MASTER, its access copy and all provenance files.

    Without --access, an H.264/MP4 access copy is made from MASTER and signed with MASTER as its parent.
    """
    from restore.provenance.bagit_package import build_package

    bag = build_package(master, access, out_dir, check_policy=not no_policy, make_access=not no_access,
                        sign=not no_sign)
    checked = (bag / "data" / "master" / f"{master.name}.mediaconch.txt").exists()
    policy = "passed the MediaConch FFV1 policy" if checked else "MediaConch not run"
    click.echo(f"wrote {bag} (BagIt, sha256 + sha512, validated; master {policy})")


def register(main: click.Group) -> None:
    main.add_command(verify)
    main.add_command(package)
