"""What one sample adds to an SLI's good and total events, as SQL expressions.

The expressions name their values (signal names, matcher values, threshold)
as bound parameters instead of embedding them, so one statement serves every
policy whose SLI has the same structure (``sli_structure``): building a
measurement statement costs more Python time than running it, and cached
per policy they would weigh ~200 KB each.
"""

import operator
from typing import Any

from sqlalchemy import ColumnElement, Float, String, and_, bindparam, case, func

from server.core.matchers import Matcher, MatchOp
from server.slo.sli import Comparator, RatioSli, Selector, Sli, ThresholdSli

_COMPARE = {
    Comparator.LT: operator.lt,
    Comparator.LTE: operator.le,
    Comparator.GT: operator.gt,
    Comparator.GTE: operator.ge,
}


def _selector_structure(selector: Selector) -> tuple[tuple[str, str], ...]:
    return tuple((matcher.label, matcher.op.value) for matcher in selector.matchers)


def sli_structure(sli: Sli) -> tuple[Any, ...]:
    """What the SQL of ``sli`` depends on, besides its parameters."""
    if isinstance(sli, RatioSli):
        return (
            sli.kind,
            len(sli.signal_names),
            _selector_structure(sli.good),
            _selector_structure(sli.total),
        )
    return (sli.kind, _selector_structure(sli.selector), sli.comparator)


def _selector_parameters(selector: Selector, prefix: str) -> dict[str, Any]:
    values: dict[str, Any] = {f"sli_{prefix}_signal": selector.signal}
    for index, matcher in enumerate(selector.matchers):
        values[f"sli_{prefix}_{index}"] = (
            matcher.anchored_pattern if matcher.is_regex else matcher.value
        )
    return values


def sli_parameters(sli: Sli) -> dict[str, Any]:
    """The values of the parameters ``good_and_total`` and ``signal_name`` refer to
    (named ``sli_*``, clear of the names SQLAlchemy gives anonymous parameters)."""
    names = {f"sli_name_{index}": name for index, name in enumerate(sli.signal_names)}
    if isinstance(sli, RatioSli):
        return {
            **names,
            **_selector_parameters(sli.good, "good"),
            **_selector_parameters(sli.total, "total"),
        }
    return {**names, **_selector_parameters(sli.selector, "only"), "sli_threshold": sli.threshold}


def signal_name(index: int) -> ColumnElement[str]:
    """The SLI's ``index``-th signal name (of ``sli.signal_names``)."""
    return bindparam(f"sli_name_{index}", type_=String())


def _matches(matcher: Matcher, labels: Any, key: str) -> ColumnElement[bool]:
    """``Matcher.to_sql`` with the value (or anchored pattern) as a named parameter."""
    actual: ColumnElement[str] = func.coalesce(labels[matcher.label].as_string(), "")
    value = bindparam(key, type_=String())
    if matcher.op is MatchOp.EQ:
        return actual == value
    if matcher.op is MatchOp.NEQ:
        return actual != value
    found = actual.regexp_match(value)
    return found if matcher.op is MatchOp.RE else ~found


def _selects(selector: Selector, rows: Any, prefix: str) -> ColumnElement[bool]:
    conditions = [rows.c.name == bindparam(f"sli_{prefix}_signal", type_=String())]
    conditions += [
        _matches(matcher, rows.c.labels, f"sli_{prefix}_{index}")
        for index, matcher in enumerate(selector.matchers)
    ]
    return and_(*conditions)


def good_and_total(sli: Sli, rows: Any) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """Per sample of ``rows`` (with name, value and labels columns): what it adds to
    good and to total. RATIO: the value, where the good (total) selector matches;
    THRESHOLD: 1 for a selected sample, to good only if it meets the bound."""
    if isinstance(sli, RatioSli):
        return (
            case((_selects(sli.good, rows, "good"), rows.c.value), else_=0.0),
            case((_selects(sli.total, rows, "total"), rows.c.value), else_=0.0),
        )
    assert isinstance(sli, ThresholdSli)
    selected = _selects(sli.selector, rows, "only")
    meets = _COMPARE[sli.comparator](rows.c.value, bindparam("sli_threshold", type_=Float()))
    return (
        case((and_(selected, meets), 1.0), else_=0.0),
        case((selected, 1.0), else_=0.0),
    )
