"""Built SQL statements kept by key: building one costs far more than running it."""

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class StatementCache:
    """Statements by key; beyond ``size``, the least recently used is dropped."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._statements: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        statement = self._statements.get(key)
        if statement is not None:
            self._statements.move_to_end(key)
            return statement
        statement = self._statements[key] = build()
        if len(self._statements) > self._size:
            self._statements.popitem(last=False)
        return statement
