"""Error types that decide the exit code.

``UserError`` is the user's to fix (bad input, bad pipeline, existing output):
the CLI prints its one-line message and exits 2. Anything else is our bug: the
CLI writes the traceback to a log file and exits 1.
"""


class UserError(Exception):
    """A problem with what the user gave us; the message is one line, shown as is."""

    exit_code = 2


class InputError(UserError):
    """The input media cannot be processed (missing, empty, truncated, unsupported)."""


class PipelineError(UserError):
    """A pipeline file is invalid (unknown key, wrong type, missing weights)."""


class OutputError(UserError):
    """The output cannot be written (exists, unwritable folder, would overwrite input)."""


class StageError(RuntimeError):
    """A stage failed on a frame: the job stops with the stage name and frame number."""

    def __init__(self, stage: str, frame_index: int, cause: BaseException | str):
        self.stage = stage
        self.frame_index = frame_index
        self.cause = cause
        super().__init__(f"stage '{stage}' failed on frame {frame_index}: {cause}")
