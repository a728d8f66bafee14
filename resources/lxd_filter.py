"""LXD's ``filter=`` language (``lxd/filter`` in LXD 5.0.2): one parser and one evaluator.

Grammar (``filter.Parse``): the filter is split at white space into ``[not] FIELD OP VALUE``
clauses joined by ``and`` or ``or`` and read strictly left to right, so ``a or b and c`` is
``(a or b) and c``. A VALUE that starts with ``"`` runs to the next word that ends with ``"``.

FIELD is a path into the API object the client sees (``name``, ``config.limits.cpu``,
``devices.root.path``), walked as ``filter.ValueOf`` walks LXD's Go struct: each resource
declares its top-level fields and their Go kinds, and a path that names no field compares
unequal. A key is never an ORM lookup: the evaluator reads the columns the filter names and
evaluates the clauses in Python, and the answer is the queryset narrowed to the matching keys.
So no ``__regex``-style suffix and no client pattern ever runs in the database, and the cost is
linear in the rows and the filter's length.

Where LXD 5.0.2 is weak, lxdsite differs (docs/compatibility.md): a value is text, never a
regular expression; booleans and numbers compare as values; only ``eq`` and ``ne`` are operators.
"""

import dataclasses
import enum
import functools
import operator
import re
from collections.abc import Callable

from rest_framework.exceptions import ParseError

from .go import go_quote

# Go's unicode.IsSpace, where strings.Fields splits (Python's str.split also splits at \x1c-\x1f).
_GO_SPACE = re.compile("[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
# strconv.ParseBool, and strconv.ParseInt(value, 10, 64) (int64: at most 19 digits and a sign).
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_GO_INT = re.compile(r"[+-]?[0-9]{1,19}")


class InvalidFilter(ParseError):
    """400: a filter LXD cannot parse, with LXD's text (LXD answers it with 500)."""

    default_code = "invalid_filter"

    def __init__(self, reason):
        super().__init__(f"Invalid filter: {reason}")


class Kind(enum.Enum):
    """A field's Go type, which decides how it compares with a clause's value."""

    TEXT = "string"
    FLAG = "bool"
    NUMBER = "int"
    # map[string]string: the rest of the path is one key (``config.limits.cpu``); missing is "".
    TEXT_MAP = "map[string]string"
    # map[string]map[string]string: a device name, then one of its keys.
    DEVICE_MAP = "map[string]map[string]string"


@dataclasses.dataclass(frozen=True)
class Field:
    """A top-level field of a resource's API object that a filter may name.

    Lists, times and objects (``profiles``, ``created_at``) are left out: LXD never finds them
    equal to a value, just as for a field that does not exist.
    """

    kind: Kind
    # The field's value, from a model row.
    read: Callable
    # What ``read`` needs: model columns, and relations to prefetch.
    columns: tuple = ()
    prefetch: tuple = ()


def column(kind, name):
    """A field stored in the model column of the same name."""
    return Field(kind, operator.attrgetter(name), (name,))


@dataclasses.dataclass(frozen=True)
class Clause:
    """``[not] field operator value``, and the word (``and``/``or``) joining it to the clauses before."""

    joined_by: str
    negated: bool
    field: str
    operator: str
    value: str

    @functools.cached_property
    def folded(self):
        """The value folded once, for every row it is compared with."""
        return fold(self.value)


def _fold_char(char):
    """One character under Unicode's simple case folding, which Go's EqualFold and (?i) use."""
    folded = char.casefold()
    if len(folded) == 1:
        return folded
    # Python folds some characters to several (ß → ss, İ → i̇); simple folding keeps one.
    lower = char.lower()
    return lower if len(lower) == 1 else char


def fold(text):
    """``text`` folded: two strings are equal ignoring case (Go's strings.EqualFold) when their folds are."""
    return text.lower() if text.isascii() else "".join(map(_fold_char, text))


def parse(expression):
    """The clauses of ``expression`` (none for an empty one), or InvalidFilter with LXD's text."""
    words = [word for word in _GO_SPACE.split(expression) if word]
    clauses = []
    joined_by = "and"
    index = 0

    def next_word(missing):
        nonlocal index
        index += 1
        if index == len(words):
            raise InvalidFilter(missing)
        return words[index]

    while index < len(words):
        negated = fold(words[index]) == "not"
        field = next_word("incomplete not clause") if negated else words[index]
        operator_word = next_word("clause has no operator")
        value = next_word("clause has no value")
        if value.startswith('"'):
            # LXD looks for the closing quote from the next word on: '"x"' alone never ends.
            value = value[1:]
            while not (word := next_word("unterminated quote")).endswith('"'):
                value += " " + word
            value += " " + word[:-1]
        clauses.append(Clause(joined_by, negated, field, operator_word, value))
        index += 1
        if index < len(words):
            joined_by = words[index]
            if joined_by not in ("and", "or"):
                raise InvalidFilter("invalid clause composition")
            next_word("unterminated compound clause")
    # After parsing, so that LXD's own errors come first.
    for clause in clauses:
        if clause.operator not in ("eq", "ne"):
            raise InvalidFilter(f"unsupported operator {go_quote(clause.operator)}")
    return clauses


def _value_at(fields, row, path):
    """``(kind, value)`` at ``path`` in the row's API object (filter.ValueOf), or None if no field is there."""
    head, dotted, rest = path.partition(".")
    field = fields.get(head)
    if field is None:
        return None
    value = field.read(row)
    if not dotted:
        return field.kind, value
    if field.kind is Kind.TEXT_MAP:
        return Kind.TEXT, value.get(rest, "")
    if field.kind is Kind.DEVICE_MAP:
        name, _, key = rest.partition(".")
        device = value.get(name)
        return None if device is None else (Kind.TEXT, device.get(key, ""))
    # Nothing is below a string, number or bool (LXD's handler panics and drops the connection).
    return None


def _equals(kind, value, clause):
    """Whether a field's value equals the clause's value; a map is never equal to a value."""
    if kind is Kind.TEXT:
        return isinstance(value, str) and fold(value) == clause.folded
    if kind is Kind.FLAG:
        return clause.value in (_GO_TRUE if value else _GO_FALSE)
    if kind is Kind.NUMBER:
        return _GO_INT.fullmatch(clause.value) is not None and int(clause.value) == value
    return False


def matches(fields, row, clauses):
    """Whether the row's API object passes the clauses, read left to right (filter.Match)."""
    match = True
    for clause in clauses:
        if (clause.joined_by == "and" and not match) or (clause.joined_by == "or" and match):
            # The clause cannot change the answer.
            continue
        found = _value_at(fields, row, clause.field)
        equal = found is not None and _equals(*found, clause)
        match = equal ^ (clause.operator == "ne") ^ clause.negated
    return match


def filter_queryset(queryset, expression, fields):
    """``queryset`` narrowed to the rows whose API object passes ``expression``; empty is no filter.

    ``fields`` is the resource's ``{name: Field}``. One query reads the columns the filter
    names (and their relations); the answer is the queryset narrowed to the matching keys.
    """
    clauses = parse(expression)
    if not clauses:
        return queryset
    named = [fields[head] for head in {clause.field.partition(".")[0] for clause in clauses} if head in fields]
    key = queryset.model._meta.pk.name
    columns = sorted({name for field in named for name in field.columns})
    relations = sorted({name for field in named for name in field.prefetch})
    # Only the named columns: what the list joins for its answer (``select_related``) is not read.
    rows = queryset.select_related(None).prefetch_related(None).order_by().only(key, *columns)
    rows = rows.prefetch_related(*relations)
    matching = [row.pk for row in rows if matches(fields, row, clauses)]
    return queryset.filter(pk__in=matching)
