"""Which licence a Debian package's copyright file gives one of its installed files.

Debian's machine-readable copyright format (DEP-5) lists ``Files:`` paragraphs whose glob
patterns are relative to the *source* tree, each with ``Copyright:`` and ``License:``; the last
paragraph that matches a file wins. A binary package installs files elsewhere
(``wallpapers/Aqua.jpg`` in the source becomes ``usr/share/backgrounds/mate/Aqua.jpg``), so a
pattern is matched against every trailing part of the installed path: ``nature/Aqua.jpg``
matches ``usr/share/backgrounds/mate/nature/Aqua.jpg``, ``*`` matches everything.

Licence short names are Debian's (``GPL-2+``, ``Expat``, ``CC0``); they are mapped to SPDX ids
that :func:`restore.training.corpus.normalise_license` accepts, or to None, which the corpus
builder treats as "leave the file out": a licence we cannot name exactly is not a licence we can
honour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from restore.training.corpus import normalise_license

# Debian short names (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/#license-short-name)
# that differ from the SPDX id. Keys are lower-case.
_DEBIAN_TO_SPDX = {
    "expat": "MIT",
    "cc0": "CC0-1.0",
    "public-domain": "public-domain",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "apache-2": "Apache-2.0",
    "mpl-2": "MPL-2.0",
    "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-2.1+": "LGPL-2.1-or-later",
    "lgpl-2+": "LGPL-2.0-or-later",
    "lgpl-3": "LGPL-3.0-only",
    "lgpl-3+": "LGPL-3.0-or-later",
    "gpl-2": "GPL-2.0-only",
    "gpl-2+": "GPL-2.0-or-later",
    "gpl-3": "GPL-3.0-only",
    "gpl-3+": "GPL-3.0-or-later",
}
# Creative Commons terms that make a licence non-free for our purpose (no commercial use, no
# derivatives): named so that the exclusion report says why rather than "unknown".
_NON_FREE = re.compile(r"(^|[-_ ])(nc|nd|noncommercial|noderivs|non-commercial)([-_ ]|$)", re.I)


def spdx_from_debian(short_name: str) -> str | None:
    """The SPDX id for one Debian licence short name, or None when it is not one we accept."""
    name = short_name.strip()
    if not name or _NON_FREE.search(name):
        return None
    mapped = _DEBIAN_TO_SPDX.get(name.lower())
    if mapped:
        return normalise_license(mapped) or mapped
    # CC-BY-SA-3.0, CC0-1.0, MIT, ... are already SPDX; GPL-2.0+ style spellings are aliases.
    return normalise_license(name)


@dataclass(frozen=True)
class LicenceStatement:
    """What the copyright file says about one file."""

    spdx: str | None        # the licence we record, None when it is unknown or not free
    expression: str         # the License: first line as written (e.g. "LGPL-3+ or CC-BY-SA-3.0")
    copyright: str          # the Copyright: field, continuation lines joined with "; "
    pattern: str            # the Files: pattern that matched
    catch_all: bool         # True when that pattern is "*": nothing more specific was said

    @property
    def why_refused(self) -> str | None:
        if self.spdx:
            return None
        if _NON_FREE.search(self.expression):
            return f"licence {self.expression!r} forbids commercial use or derivatives"
        return f"licence {self.expression!r} is not on the accepted list"


def _choose(expression: str) -> str | None:
    """One licence from a DEP-5 expression: ``A or B`` lets us pick, ``A and B`` does not."""
    if re.search(r"\band\b", expression, re.I) or "," in expression:
        return None  # both apply at once: no single SPDX id says that
    for alternative in re.split(r"\s+or\s+", expression.strip(), flags=re.I):
        alternative = re.sub(r"\s+with\s+.*$", "", alternative, flags=re.I)  # "with X exception"
        spdx = spdx_from_debian(alternative)
        if spdx:
            return spdx
    return None


def _glob_regex(pattern: str) -> re.Pattern:
    # DEP-5 globs know only * (any characters, "/" included) and ?; everything else is literal.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.S)


@dataclass
class _FilesParagraph:
    patterns: list[str]
    regexes: list[re.Pattern]
    copyright: str
    expression: str


@dataclass
class CopyrightFile:
    """A parsed ``/usr/share/doc/PKG/copyright``; ``machine_readable`` is False for free-form ones."""

    text: str
    machine_readable: bool
    paragraphs: list[_FilesParagraph] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "CopyrightFile":
        machine_readable = bool(re.match(r"\s*Format:\s*\S*copyright-format", text, re.I))
        parsed = cls(text=text, machine_readable=machine_readable)
        if not machine_readable:
            return parsed
        for block in re.split(r"\n\s*\n", text):
            fields = _fields(block)
            if "files" not in fields or "license" not in fields:
                continue  # the header, or a stand-alone License: text
            patterns = fields["files"].split()
            parsed.paragraphs.append(_FilesParagraph(
                patterns=patterns, regexes=[_glob_regex(p) for p in patterns],
                copyright="; ".join(line.strip() for line in fields.get("copyright", "").splitlines() if line.strip()),
                expression=fields["license"].splitlines()[0].strip()))
        return parsed

    def statement_for(self, installed_path: str, source_path: str | None = None) -> LicenceStatement | None:
        """The last ``Files:`` paragraph matching the path (any trailing part of it), or None.

        ``source_path`` is the file's place in the source tree when the package moved it under a
        directory name that the patterns use but the installed path lacks (``16.04/x.jpg``
        installed as ``usr/share/backgrounds/x.jpg``); both are tried.
        """
        suffixes = []
        for path in filter(None, (installed_path, source_path)):
            parts = PurePosixPath(path.lstrip("/")).parts
            suffixes += ["/".join(parts[i:]) for i in range(len(parts))]
        found = None
        for paragraph in self.paragraphs:
            for pattern, regex in zip(paragraph.patterns, paragraph.regexes):
                if any(regex.match(s) for s in suffixes):
                    found = (paragraph, pattern)
                    break
        if found is None:
            return None
        paragraph, pattern = found
        return LicenceStatement(spdx=_choose(paragraph.expression), expression=paragraph.expression,
                                copyright=paragraph.copyright, pattern=pattern, catch_all=pattern == "*")


def _fields(block: str) -> dict[str, str]:
    """RFC 822-style fields of one paragraph, lower-case names, continuation lines kept."""
    fields: dict[str, str] = {}
    name = None
    for line in block.splitlines():
        if line.startswith("#"):
            continue
        if line[:1] in (" ", "\t") and name:
            fields[name] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", key):
            name = key.lower()
            fields[name] = value.strip()
    return fields


def quoted_in(quote: str, text: str) -> bool:
    """Whether ``quote`` appears in ``text``, ignoring differences in whitespace."""
    squash = lambda s: re.sub(r"\s+", " ", s).strip().lower()  # noqa: E731
    return squash(quote) in squash(text)
