"""The user-facing error types. Each carries one line naming the file, row or key (LeakError: one line per
finding); the CLI prints it and exits 2. Kept free of heavy imports so `validate` answers fast."""


class ParamsError(ValueError):
    """A params problem, reported as one line that names the key and the file."""


class DataError(ValueError):
    """An input-data problem, reported as one line naming the file and row or column."""


class ModelError(ValueError):
    """A model path that is not a usable causal LM, or an adapter that does not fit its base."""


class LeakError(ValueError):
    """The publishing gate found note text or an identifier in a real-data book: one located line per finding
    (file, cell or line, kind, length), never the matched text. See cancerllm/gate/."""


class DiskSpaceError(OSError):
    """Not enough free disk space for a checkpoint: names the directory, the bytes needed and the bytes free."""


class RunDirError(ValueError):
    """A run directory that cannot be used: not a run directory, a damaged manifest, or in use by a live run."""
