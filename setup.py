"""Ships the top-level pipelines/, weights/ and samples/ folders inside the wheel.

The source tree keeps them beside the package (the design card's layout); a wheel carries
them as package data under restore/_data/, where restore.resources finds them with
importlib.resources. Which files go in is restore.resources.SHIPPED (read here as text, so
building needs no import of the package). An editable install copies nothing: restore.resources
then reads the folders in place. Everything else about the build is in pyproject.toml.
"""

import ast
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def shipped() -> dict[str, list[str]]:
    tree = ast.parse((HERE / "restore" / "resources.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SHIPPED" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("restore/resources.py defines no SHIPPED table")


class BuildWithData(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for folder, patterns in shipped().items():
            files = sorted({path for pattern in patterns for path in (HERE / folder).glob(pattern) if path.is_file()})
            if not files:
                raise RuntimeError(f"nothing to ship from {folder}/ (patterns {patterns})")
            for path in files:
                target = Path(self.build_lib, "restore", "_data", folder, path.relative_to(HERE / folder))
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)


setup(cmdclass={"build_py": BuildWithData})
