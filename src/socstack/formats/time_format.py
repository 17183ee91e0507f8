"""strptime-style time formats, parsed a whole column at a time.

Text tables give their times in a format of their own (``%Y-%m-%d %H:%M:%S.%f``,
``%Y %j %H %M``, ...). ``datetime.strptime`` costs about 7 us a value, most of a second
for a day of 1 s records, so a column whose values all have one length is read with
integer arithmetic on its characters instead (tens of nanoseconds a value); a ragged
column (numbers not zero-padded) falls back to a regular expression per value, with the
same rules.

Only the directives a data file needs are supported, so that both paths agree exactly:

====  =====================================================
%Y    year, 4 digits
%y    year, 2 digits: 69..99 are 1969..1999, 00..68 are 2000..2068 (as strptime)
%m    month 1..12;  %d  day of the month
%j    day of the year 1..366 (instead of %m and %d)
%H    hour 0..23;  %M  minute 0..59;  %S  second 0..59
%f    fraction of a second, 1 to 9 digits (to the nanosecond)
%%    a literal %
====  =====================================================

Times are UTC; years outside 1678..2261 (the range of ``datetime64[ns]``) are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["TimeFormat"]

_WIDTHS = {"Y": 4, "y": 2, "m": 2, "d": 2, "j": 3, "H": 2, "M": 2, "S": 2, "f": 9}
_CLOCK = (("H", 24, 3600), ("M", 60, 60), ("S", 60, 1))
_NS = 1_000_000_000


@dataclass(frozen=True)
class TimeFormat:
    """A compiled strptime-style format: literal text and directive letters, in order."""

    text: str
    parts: tuple[tuple[bool, str], ...]  # (is a directive, letter or literal text)

    @staticmethod
    @lru_cache(maxsize=64)
    def compile(text: str) -> TimeFormat:
        """Compile ``text``; ``ValueError`` names what the format cannot express.

        Raises
        ------
        ValueError
            For an unsupported or repeated directive, a format without a year, or ``%j``
            together with ``%m`` or ``%d``.
        """
        parts: list[tuple[bool, str]] = []
        i = 0
        while i < len(text):
            if text[i] != "%":
                literal, i = text[i], i + 1
            elif text[i + 1 : i + 2] == "%":
                literal, i = "%", i + 2
            else:
                letter = text[i + 1 : i + 2]
                if letter not in _WIDTHS:
                    what = f"directive %{letter}" if letter else "a lone % at the end"
                    raise ValueError(
                        f"{what} is not supported; use %Y %y %m %d %j %H %M %S %f or %%"
                    )
                parts.append((True, letter))
                i += 2
                continue
            if parts and not parts[-1][0]:
                parts[-1] = (False, parts[-1][1] + literal)
            else:
                parts.append((False, literal))
        letters = [value for is_directive, value in parts if is_directive]
        repeated = sorted({x for x in letters if letters.count(x) > 1})
        if repeated:
            raise ValueError(f"directive %{repeated[0]} appears more than once")
        if ("Y" in letters) == ("y" in letters):
            raise ValueError("a time format needs one year directive, %Y or %y")
        if "j" in letters and {"m", "d"} & set(letters):
            raise ValueError("%j (day of the year) cannot be combined with %m or %d")
        return TimeFormat(text, tuple(parts))

    @property
    def letters(self) -> list[str]:
        """The directive letters, in order."""
        return [value for is_directive, value in self.parts if is_directive]

    def parse(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nanoseconds since 1970 of each value, and which values parsed (a bool mask).

        Values that do not parse get 0; the caller reports the first of them, with its
        line, as it knows where each value came from.
        """
        column = np.asarray(values, dtype=str)
        if len(column) == 0:
            return np.empty(0, dtype=np.int64), np.ones(0, dtype=bool)
        fixed = self._parse_fixed(column)
        return fixed if fixed is not None else self._parse_each(column)

    def _parse_fixed(self, column: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The fast path: every value has one length, so each field has one place."""
        lengths = np.char.str_len(column)
        width = int(lengths[0])
        if width == 0 or (lengths != width).any():
            return None
        has_fraction = "f" in self.letters
        fixed = sum(
            _WIDTHS[v] if is_directive else len(v)
            for is_directive, v in self.parts
            if (is_directive, v) != (True, "f")
        )
        fraction = width - fixed
        if (has_fraction and not 1 <= fraction <= 9) or (not has_fraction and fraction != 0):
            return None  # not this layout: the slow path says which value is wrong
        # One row of UCS-4 code points per value.
        grid = np.ascontiguousarray(column.astype(f"U{width}")).view(np.uint32)
        grid = grid.reshape(len(column), width).astype(np.int64)
        ok = np.ones(len(column), dtype=bool)
        fields: dict[str, np.ndarray] = {}
        pos = 0
        for is_directive, value in self.parts:
            size = (fraction if value == "f" else _WIDTHS[value]) if is_directive else len(value)
            block = grid[:, pos : pos + size]
            if is_directive:
                digits = block - ord("0")
                ok &= ((digits >= 0) & (digits <= 9)).all(axis=1)
                fields[value] = digits @ (10 ** np.arange(size - 1, -1, -1, dtype=np.int64))
            else:
                ok &= (block == np.array([ord(c) for c in value], dtype=np.int64)).all(axis=1)
            pos += size
        return self._compose(fields, np.full(len(column), fraction), ok)

    def _parse_each(self, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The slow path: one regular-expression match per value, for ragged columns."""
        regex = _regex(self)
        letters = self.letters
        n = len(column)
        fields = {letter: np.zeros(n, dtype=np.int64) for letter in letters}
        fraction = np.zeros(n, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        for i, value in enumerate(column.tolist()):
            match = regex.fullmatch(value)
            if match is None:
                ok[i] = False
                continue
            for letter, digits in zip(letters, match.groups(), strict=True):
                fields[letter][i] = int(digits)
                if letter == "f":
                    fraction[i] = len(digits)
        return self._compose(fields, fraction, ok)

    @staticmethod
    def _compose(
        fields: dict[str, np.ndarray], fraction: np.ndarray, ok: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nanoseconds from the fields; ``ok`` loses values out of range (month 13, ...)."""
        if "Y" in fields:
            year = fields["Y"]
        else:
            year = np.where(fields["y"] < 69, 2000, 1900) + fields["y"]
        ok = ok & (year >= 1678) & (year <= 2261)
        years = (np.where(ok, year, 1970) - 1970).astype("datetime64[Y]")
        if "j" in fields:
            doy = fields["j"]
            ok &= (doy >= 1) & (doy <= 366)
            days = years.astype("datetime64[D]") + np.where(ok, doy - 1, 0)
            ok &= days.astype("datetime64[Y]") == years
        else:
            month, day = fields.get("m", 1), fields.get("d", 1)
            ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
            months = years.astype("datetime64[M]") + np.where(ok, month - 1, 0)
            days = months.astype("datetime64[D]") + np.where(ok, day - 1, 0)
            ok &= days.astype("datetime64[M]") == months  # 30 February rolls into March
        seconds = np.zeros(len(ok), dtype=np.int64)
        for letter, limit, scale in _CLOCK:
            if letter in fields:
                ok &= fields[letter] < limit
                seconds += np.where(ok, fields[letter], 0) * scale
        ns = days.astype("datetime64[ns]").astype(np.int64) + seconds * _NS
        if "f" in fields:
            ns += np.where(ok, fields["f"], 0) * 10 ** (9 - np.clip(fraction, 0, 9))
        return np.where(ok, ns, 0), ok


@lru_cache(maxsize=64)
def _regex(time_format: TimeFormat) -> re.Pattern[str]:
    """The format as a regular expression: each directive takes 1 to its width digits."""
    return re.compile(
        "".join(
            rf"(\d{{1,{_WIDTHS[v]}}})" if is_directive else re.escape(v)
            for is_directive, v in time_format.parts
        )
    )
