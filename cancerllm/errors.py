"""The three user-facing error types. Each carries one line naming the file, row or key; the CLI prints it
and exits 2. Kept free of heavy imports so `validate` answers fast."""


class ParamsError(ValueError):
    """A params problem, reported as one line that names the key and the file."""


class DataError(ValueError):
    """An input-data problem, reported as one line naming the file and row or column."""


class ModelError(ValueError):
    """A model path that is not a usable causal LM, or an adapter that does not fit its base."""
