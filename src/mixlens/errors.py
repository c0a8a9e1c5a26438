"""Exception hierarchy shared by every stage of mixlens."""

from __future__ import annotations


class MixlensError(Exception):
    """Base class of every error mixlens raises on purpose."""


class DataError(MixlensError, ValueError):
    """Bad input data, located as precisely as possible.

    Parameters
    ----------
    message
        What is wrong and, where it helps, how to fix it.
    file
        Path (or table name) of the offending input.
    column
        Offending column, if one can be named.
    row
        1-based data row (the first row after the header is row 1), if one can be named.

    Examples
    --------
    >>> str(DataError("negative spend -3.0", file="w.csv", column="tv_spend", row=4))
    "w.csv: column 'tv_spend', row 4: negative spend -3.0"
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.column = column
        self.row = row
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        prefix = f"{self.file}: " if self.file else ""
        location = f"{', '.join(where)}: " if where else ""
        return f"{prefix}{location}{self.message}"

    def with_file(self, file: str) -> DataError:
        """Return a copy of this error located in ``file``."""
        return DataError(self.message, file=file, column=self.column, row=self.row)


class NotFittedError(MixlensError, AttributeError):
    """An estimator was used before ``fit`` was called."""
