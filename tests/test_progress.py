"""Stage events on stderr: warnings are lines of their own, with or without --log-json."""

from __future__ import annotations

import io
import json

from restore.cli.progress import Progress


def test_stage_warning_is_one_plain_line_and_facts_stay_quiet():
    stream = io.StringIO()
    progress = Progress("reel.mkv", stream=stream)
    progress.event({"stage": "faces", "event": "identity_drift", "message": "frame 3, face track 0: left unrestored"})
    progress.event({"stage": "faces", "event": "summary", "faces": 4})
    assert stream.getvalue() == "reel.mkv: faces: frame 3, face track 0: left unrestored\n"


def test_log_json_carries_every_event_and_quiet_none():
    stream = io.StringIO()
    Progress("reel.mkv", stream=stream, json_lines=True).event({"stage": "faces", "event": "summary", "faces": 4})
    line = json.loads(stream.getvalue())
    assert line["job"] == "reel.mkv" and line["stage"] == "faces" and line["faces"] == 4
    quiet = io.StringIO()
    Progress("reel.mkv", stream=quiet, quiet=True).event({"stage": "faces", "message": "x"})
    assert quiet.getvalue() == ""
