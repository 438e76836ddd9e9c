"""Rewrite a standing query's SQL so that its distinct counts run in Structured Streaming.

Structured Streaming refuses ``count(DISTINCT x)``: an exact distinct count needs every value
seen so far in the state store. When a pipeline's query says ``approx = true``, sparkkit rewrites
the SQL text before Spark sees it, and puts a *bound column* beside every approximate aggregate,
so that whoever reads the output also reads how far the estimate may be from the exact answer:

``count(DISTINCT x) AS n``
    becomes ``hll_sketch_estimate(hll_sketch_agg(x, K)) AS n, CAST(<rse> AS DOUBLE) AS n_rse``.
    ``n_rse`` is the relative standard error (one sigma) of a DataSketches HLL sketch with
    ``lgConfigK = K``: ``1.04 / sqrt(2**K)`` (1.6% for the default K = 12). About 68% of
    estimates are within ``n_rse * true count`` of the true count, 95% within twice that.
    1.04 is DataSketches' factor for sketches that were merged (its HIP estimator, 0.83, holds only
    for a sketch that was never merged; Spark merges partial aggregates). ``hll_sketch_agg``
    takes INT, BIGINT, STRING or BINARY values only: cast others, e.g. ``CAST(x AS STRING)``.
``percentile_approx(x, p [, accuracy]) AS q`` (or ``approx_percentile``)
    stays and gains ``CAST(<1/accuracy> AS DOUBLE) AS q_rank_error``. Spark documents
    ``1.0/accuracy`` as the relative error of the approximation: the rank of the value returned
    is within ``n * q_rank_error`` of the requested rank ``p * n``, n being the number of values.
``approx_top_k(x [, k [, maxItemsTracked]]) AS t``
    stays and gains ``CAST(floor(<eps> * count(x)) AS BIGINT) AS t_max_error``. Spark
    (``ApproxTopK.calMaxMapSize``) sizes the DataSketches ``ItemsSketch`` with ``maxMapSize``, the
    smallest power of two not below ``ceil(maxItemsTracked / 0.75)`` (16384 for the default 10000),
    and DataSketches guarantees for every item ``upper bound - lower bound <= eps * W``, with
    ``eps = 3.5 / maxMapSize`` and ``W`` the number of values counted (non-null ones; Spark counts
    nulls exactly beside the sketch). The count Spark reports is the upper bound and is an integer
    offset away from the lower bound, hence ``floor``: each count in ``t`` exceeds the item's
    true count by at most ``t_max_error``, and never falls below it.

Everything else in the SQL is kept byte for byte, so that the rewritten text users read in error
messages is still theirs. The rewriter only scans the text: it skips string literals, backquoted
identifiers and comments, and needs no Spark.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from sparkkit.errors import ConfigError

__all__ = ["DEFAULT_LG_CONFIG_K", "Approximated", "BoundColumn", "approximate", "hll_rse"]

DEFAULT_LG_CONFIG_K = 12
MIN_LG_CONFIG_K = 4
MAX_LG_CONFIG_K = 21

DEFAULT_PERCENTILE_ACCURACY = 10000  # Spark's ApproximatePercentile.DEFAULT_PERCENTILE_ACCURACY
DEFAULT_MAX_ITEMS_TRACKED = 10000  # Spark's ApproxTopK.DEFAULT_MAX_ITEMS_TRACKED
MAX_ITEMS_TRACKED_LIMIT = 1_000_000  # Spark's ApproxTopK.MAX_ITEMS_TRACKED_LIMIT
_LG_MIN_MAP_SIZE = 3  # DataSketches frequencies.Util.LG_MIN_MAP_SIZE: no map is smaller than 8
_INT_MAX = 2**31 - 1

# Kinds of characters in the scanned SQL.
_CODE, _STRING, _IDENT, _LINE_COMMENT, _BLOCK_COMMENT = "c", "s", "b", "l", "k"

_FUNCTION = re.compile(
    r"(?<![\w.$`])(count|percentile_approx|approx_percentile|approx_top_k)\s*\(", re.IGNORECASE
)
_DISTINCT = re.compile(r"\s*distinct\b", re.IGNORECASE)
_FILTER = re.compile(r"\s*filter\s*\(", re.IGNORECASE)
_OVER = re.compile(r"\s*over\b", re.IGNORECASE)
_AS = re.compile(r"\s*as\b", re.IGNORECASE)
_NAME = re.compile(r"\s*(`_*`|\w+)")
_INTEGER = re.compile(r"[0-9]+")

# Words that may follow an expression in a SELECT: taken for no alias (backquote such an alias).
# fmt: off
_NOT_ALIASES = frozenset((
    "and", "asc", "between", "by", "case", "cluster", "collate", "cross", "desc", "distribute", "div",
    "else", "end", "escape", "except", "filter", "from", "full", "group", "having", "ilike", "in", "inner",
    "intersect", "into", "is", "join", "lateral", "left", "like", "limit", "minus", "natural", "not",
    "nulls", "offset", "on", "or", "order", "over", "qualify", "regexp", "right", "rlike", "sort", "then",
    "union", "using", "when", "where", "window", "with", "within",
))
# fmt: on


@dataclass(frozen=True)
class BoundColumn:
    """A column the rewrite adds beside an approximate aggregate, giving its error bound.

    Attributes
    ----------
    name : str
        The column's name as Spark reports it, e.g. ``users_rse``.
    estimate : str
        The alias of the approximate column it qualifies, e.g. ``users``.
    kind : str
        ``"rse"``, ``"rank_error"`` or ``"max_error"``.
    meaning : str
        One sentence, for docs and ``describe`` output.
    """

    name: str
    estimate: str
    kind: str
    meaning: str


@dataclass(frozen=True)
class Approximated:
    """The SQL to give Spark, and the bound columns it has beside its approximate aggregates."""

    sql: str
    bounds: tuple[BoundColumn, ...]


def hll_rse(lg_config_k: int) -> float:
    """Relative standard error (one sigma) of an HLL distinct count with ``lgConfigK`` buckets.

    Parameters
    ----------
    lg_config_k : int
        Log2 of the number of HLL buckets, as given to ``hll_sketch_agg``.

    Returns
    -------
    float
        ``1.04 / sqrt(2**lg_config_k)``, DataSketches' documented error for a merged HLL sketch;
        ``hll_rse(12) == 0.01625``.
    """
    return 1.04 / math.sqrt(2**lg_config_k)


def top_k_max_map_size(max_items_tracked: int) -> int:
    """The ``maxMapSize`` of the DataSketches ``ItemsSketch`` Spark builds for ``approx_top_k``.

    Parameters
    ----------
    max_items_tracked : int
        ``approx_top_k``'s third argument (Spark's default is 10000).

    Returns
    -------
    int
        The smallest power of two not below ``ceil(max_items_tracked / 0.75)``, at least 8, as in
        Spark's ``ApproxTopK.calMaxMapSize`` and DataSketches' ``ItemsSketch`` constructor.
        Computed exactly; where Spark's floating-point logarithm rounds up it picks a larger map,
        whose error is smaller, so a bound computed from this size still holds.
    """
    needed = (4 * max_items_tracked + 2) // 3  # ceil(max_items_tracked / 0.75)
    return max(1 << _LG_MIN_MAP_SIZE, 1 << (needed - 1).bit_length())


def top_k_epsilon(max_items_tracked: int) -> Decimal:
    """DataSketches' a-priori relative error ``3.5 / maxMapSize`` of Spark's ``approx_top_k``, exact.

    Parameters
    ----------
    max_items_tracked : int
        ``approx_top_k``'s third argument.

    Returns
    -------
    Decimal
        ``3.5 / top_k_max_map_size(max_items_tracked)``; a power-of-two divisor leaves finitely many
        decimal digits, so the value is exact.
    """
    return Decimal(7) / Decimal(2 * top_k_max_map_size(max_items_tracked))


def approximate(sql: str, lg_config_k: int = DEFAULT_LG_CONFIG_K, option: str = "sql") -> Approximated:
    """Rewrite the approximate aggregates of a SQL query and add a bound column beside each.

    ``count(DISTINCT x) [AS] a`` becomes an HLL sketch estimate with bound column ``a_rse``;
    ``percentile_approx``/``approx_percentile`` gain ``a_rank_error`` and ``approx_top_k`` gains
    ``a_max_error`` (see the module docstring for what each bound means). Text inside string
    literals, backquoted identifiers and comments is never rewritten, and all other text is kept
    as it was.

    Parameters
    ----------
    sql : str
        The query as the user wrote it.
    lg_config_k : int, optional
        ``lgConfigK`` of the HLL sketches, an integer from 4 to 21 (default 12).
    option : str, optional
        How the user names the option that holds ``sql``, for error messages.

    Returns
    -------
    Approximated
        The SQL to give Spark, unchanged if it has no approximate aggregate, and its bound columns
        in the order they appear.

    Raises
    ------
    ConfigError
        If ``lg_config_k`` is not an integer from 4 to 21, or an approximate aggregate cannot be
        rewritten: it has no alias, several columns in ``count(DISTINCT ...)``, a non-literal
        accuracy or ``maxItemsTracked``, an ``OVER`` clause, or it nests in another.
    """
    if (
        isinstance(lg_config_k, bool)
        or not isinstance(lg_config_k, int)
        or not MIN_LG_CONFIG_K <= lg_config_k <= MAX_LG_CONFIG_K
    ):
        raise ConfigError(
            "lg_config_k",
            lg_config_k,
            f"an integer from {MIN_LG_CONFIG_K} to {MAX_LG_CONFIG_K} (lgConfigK of hll_sketch_agg; "
            f"default {DEFAULT_LG_CONFIG_K}, relative standard error {hll_rse(DEFAULT_LG_CONFIG_K):.2%})",
        )
    masked, kinds = _scan(sql)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), on the original text
    bounds: list[BoundColumn] = []
    covered_until = 0
    for match in _FUNCTION.finditer(masked):
        call = _call(sql, masked, kinds, match, option)
        if call is None:
            continue
        if call.start < covered_until:
            raise ConfigError(
                option, call.fragment, "approximate aggregates side by side, not one inside another"
            )
        covered_until = call.end
        alias_span = _alias(masked, call.end)
        if alias_span is None:
            raise ConfigError(
                option,
                call.fragment,
                f"{call.example} AS name: with approx = true each approximate aggregate needs an alias, "
                f"which names its bound column name{call.suffix}",
            )
        alias_sql = sql[alias_span[0] : alias_span[1]]
        quoted = alias_sql.startswith("`")
        alias = alias_sql[1:-1].replace("``", "`") if quoted else alias_sql
        bound_name = alias + call.suffix
        if call.function == "count":
            replacement, value, meaning = _count_distinct(call, alias, bound_name, lg_config_k, option)
            edits.append((call.start, call.end, replacement))
        elif call.function == "approx_top_k":
            value, meaning = _top_k(call, alias, option)
        else:
            value, meaning = _percentile(call, alias, bound_name, option)
        bound_sql = "`" + bound_name.replace("`", "``") + "`" if quoted else bound_name
        edits.append((alias_span[1], alias_span[1], f", {value} AS {bound_sql}"))
        bounds.append(BoundColumn(name=bound_name, estimate=alias, kind=call.suffix[1:], meaning=meaning))
    seen: set[str] = set()
    for bound in bounds:
        if bound.name.lower() in seen:
            raise ConfigError(
                option,
                bound.estimate,
                f"distinct aliases for approximate aggregates: two would have bound column {bound.name}",
            )
        seen.add(bound.name.lower())
    return Approximated(sql=_apply(sql, edits), bounds=tuple(bounds))


@dataclass(frozen=True)
class _Call:
    """An approximate aggregate call found in the SQL; offsets are into the original text."""

    function: str  # lower case: count (with DISTINCT), percentile_approx, approx_percentile, approx_top_k
    start: int
    end: int  # after the closing parenthesis, or after the FILTER clause if there is one
    arguments: tuple[str, ...]  # original text of each argument, without surrounding blanks
    literals: tuple[str, ...]  # the same with comments blanked, to read literals from
    filter_text: str  # `` FILTER (WHERE ...)`` as written, or ""
    fragment: str  # the call as written, for error messages

    @property
    def suffix(self) -> str:
        return {"count": "_rse", "approx_top_k": "_max_error"}.get(self.function, "_rank_error")

    @property
    def example(self) -> str:
        return _example(self.function)


def _example(function: str) -> str:
    """How an approximate aggregate is called, for error messages."""
    return {"count": "count(DISTINCT x)", "approx_top_k": "approx_top_k(x, k)"}.get(
        function, f"{function}(x, p)"
    )


def _call(sql: str, masked: str, kinds: str, match: re.Match[str], option: str) -> _Call | None:
    """The approximate aggregate whose name ``match`` found, or None for a count without DISTINCT."""
    function = match.group(1).lower()
    open_paren = match.end() - 1
    distinct = _DISTINCT.match(masked, open_paren + 1)
    if function == "count" and not distinct:
        return None
    close_paren = _closing(masked, open_paren)
    end = close_paren + 1
    filter_match = _FILTER.match(masked, end) if close_paren >= 0 else None
    if filter_match:
        end = _closing(masked, filter_match.end() - 1) + 1
    if close_paren < 0 or end == 0:
        raise ConfigError(option, sql[match.start() :], "SQL whose parentheses are balanced")
    fragment = sql[match.start() : end]
    if function != "count" and distinct:
        raise ConfigError(
            option,
            fragment,
            f"{match.group(1)}(x, ...) without DISTINCT: Structured Streaming runs no DISTINCT aggregate",
        )
    if _OVER.match(masked, end):
        raise ConfigError(
            option,
            fragment,
            f"{_example(function)} AS name without OVER: with approx = true no approximate aggregate "
            "may be a window function",
        )
    spans = _split_arguments(masked, distinct.end() if distinct else open_paren + 1, close_paren)
    return _Call(
        function=function,
        start=match.start(),
        end=end,
        arguments=tuple(_argument_text(sql, kinds, first, last) for first, last in spans),
        literals=tuple(masked[first:last].strip() for first, last in spans),
        filter_text=sql[close_paren + 1 : end],
        fragment=fragment,
    )


def _count_distinct(
    call: _Call, alias: str, bound_name: str, lg_config_k: int, option: str
) -> tuple[str, str, str]:
    """The HLL estimate replacing ``count(DISTINCT x)``, its bound's SQL value, and its meaning."""
    if len(call.arguments) != 1 or not call.literals[0]:
        raise ConfigError(
            option,
            call.fragment,
            "count(DISTINCT x) of one column or expression: hll_sketch_agg takes one column; make one "
            "of several, e.g. count(DISTINCT to_json(struct(a, b))) or count(DISTINCT concat_ws('|', a, b)) "
            "(concat_ws skips nulls)",
        )
    rse = hll_rse(lg_config_k)
    replacement = f"hll_sketch_estimate(hll_sketch_agg({call.arguments[0]}, {lg_config_k}){call.filter_text})"
    meaning = (
        f"Relative standard error (1 sigma) of {alias}, a HyperLogLog distinct count with lgConfigK "
        f"{lg_config_k}: 1.04/sqrt(2^{lg_config_k}) = {rse:.3%}; about 68% of estimates are within "
        f"{bound_name} * the true count of it, 95% within twice that."
    )
    return replacement, f"CAST({rse!r} AS DOUBLE)", meaning


def _top_k(call: _Call, alias: str, option: str) -> tuple[str, str]:
    """The SQL value of ``approx_top_k``'s bound column and its meaning."""
    if not 1 <= len(call.arguments) <= 3:
        raise ConfigError(option, call.fragment, "approx_top_k(x [, k [, maxItemsTracked]]) AS name")
    max_items = DEFAULT_MAX_ITEMS_TRACKED
    if len(call.arguments) == 3:
        literal = call.literals[2]
        if not _INTEGER.fullmatch(literal) or not 1 <= int(literal) <= MAX_ITEMS_TRACKED_LIMIT:
            raise ConfigError(
                option,
                call.fragment,
                "approx_top_k(x, k, maxItemsTracked) with maxItemsTracked an integer literal from 1 to "
                f"{MAX_ITEMS_TRACKED_LIMIT} (default {DEFAULT_MAX_ITEMS_TRACKED}): the bound column "
                f"name{call.suffix} is computed from it",
            )
        max_items = int(literal)
    map_size = top_k_max_map_size(max_items)
    value = (
        f"CAST(floor({top_k_epsilon(max_items):f} * count({call.arguments[0]}){call.filter_text}) AS BIGINT)"
    )
    meaning = (
        f"Most by which a count in {alias} exceeds the item's true count (never below it; the count of "
        f"null is exact): floor(3.5/{map_size} * non-null values counted), the a-priori error of the "
        f"DataSketches ItemsSketch Spark sizes for maxItemsTracked {max_items}."
    )
    return value, meaning


def _percentile(call: _Call, alias: str, bound_name: str, option: str) -> tuple[str, str]:
    """The SQL value of ``percentile_approx``'s bound column and its meaning."""
    if len(call.arguments) not in (2, 3):
        raise ConfigError(option, call.fragment, f"{call.function}(x, p [, accuracy]) AS name")
    accuracy = DEFAULT_PERCENTILE_ACCURACY
    if len(call.arguments) == 3:
        literal = call.literals[2]
        if not _INTEGER.fullmatch(literal) or not 1 <= int(literal) <= _INT_MAX:
            raise ConfigError(
                option,
                call.fragment,
                f"{call.function}(x, p, accuracy) with accuracy a positive integer literal (default "
                f"{DEFAULT_PERCENTILE_ACCURACY}): the bound column name{call.suffix} is 1/accuracy",
            )
        accuracy = int(literal)
    meaning = (
        f"Relative rank error of {alias} (1/accuracy, accuracy {accuracy}): among n values, the rank "
        f"of the value returned is within n * {bound_name} of the rank requested."
    )
    return f"CAST({1 / accuracy!r} AS DOUBLE)", meaning


def _scan(sql: str) -> tuple[str, str]:
    """Mask what is not SQL code, keeping every offset.

    Returns the masked text, in which the inside of string literals and comments are spaces and
    the inside of backquoted identifiers is ``_`` (newlines stay), and one kind letter per
    character of ``sql``.
    """
    masked = list(sql)
    kinds = [_CODE] * len(sql)
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        start = i
        if char in "'\"":
            raw = i > 0 and sql[i - 1] in "rR" and (i < 2 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
            i += 1
            while i < n and sql[i] != char:
                i += 2 if sql[i] == "\\" and not raw else 1
            end = min(i + 1, n)
            _mask(masked, kinds, start + 1, min(i, n), " ", _STRING)
            kinds[start] = kinds[end - 1] = _STRING
            i = end
        elif char == "`":
            i += 1
            while i < n and (sql[i] != "`" or sql[i : i + 2] == "``"):
                i += 2 if sql[i] == "`" else 1
            end = min(i + 1, n)
            _mask(masked, kinds, start + 1, min(i, n), "_", _IDENT)
            kinds[start] = kinds[end - 1] = _IDENT
            i = end
        elif sql.startswith("--", i):
            while i < n and sql[i] != "\n":
                i += 1
            _mask(masked, kinds, start, i, " ", _LINE_COMMENT)
        elif sql.startswith("/*", i):
            depth = 0
            while i < n:  # Spark's bracketed comments nest
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                    if depth == 0:
                        break
                else:
                    i += 1
            _mask(masked, kinds, start, min(i, n), " ", _BLOCK_COMMENT)
        else:
            i += 1
    return "".join(masked), "".join(kinds)


def _mask(masked: list[str], kinds: list[str], start: int, end: int, fill: str, kind: str) -> None:
    for j in range(start, end):
        kinds[j] = kind
        if masked[j] != "\n":
            masked[j] = fill


def _closing(masked: str, open_paren: int) -> int:
    """Offset of the parenthesis closing the one at ``open_paren``, or -1."""
    depth = 0
    for j in range(open_paren, len(masked)):
        if masked[j] == "(":
            depth += 1
        elif masked[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _split_arguments(masked: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the comma-separated arguments between ``start`` and ``end``; none if all blank."""
    if not masked[start:end].strip():
        return []
    spans: list[tuple[int, int]] = []
    depth, begin = 0, start
    for j in range(start, end):
        if masked[j] in "([":
            depth += 1
        elif masked[j] in ")]":
            depth -= 1
        elif masked[j] == "," and depth == 0:
            spans.append((begin, j))
            begin = j + 1
    spans.append((begin, end))
    return spans


def _argument_text(sql: str, kinds: str, start: int, end: int) -> str:
    """An argument's original text without surrounding blanks, ending a trailing ``--`` comment."""
    text = sql[start:end]
    stripped = text.strip()
    if not stripped:
        return stripped
    last = start + len(text.rstrip()) - 1
    return stripped + "\n" if kinds[last] == _LINE_COMMENT else stripped


def _alias(masked: str, position: int) -> tuple[int, int] | None:
    """Span of the alias right after ``position`` (``[AS] name``), or None if there is none."""
    as_match = _AS.match(masked, position)
    name_match = _NAME.match(masked, as_match.end() if as_match else position)
    if name_match is None:
        return None
    word = name_match.group(1)
    if word.isdigit() or word.lower() in _NOT_ALIASES:
        return None
    return name_match.start(1), name_match.end(1)


def _apply(sql: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply non-overlapping edits, given in order of their start, to ``sql``."""
    pieces: list[str] = []
    position = 0
    for start, end, replacement in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        pieces.append(sql[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(sql[position:])
    return "".join(pieces)
