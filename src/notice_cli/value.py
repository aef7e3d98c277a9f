"""Value: the base of the small immutable records on notice-spool's path (a notice, its
settings, the call file), with what namedtuple gives them: a constructor by position or by
name with defaults, equality, a hash, repr() and _replace().

namedtuple itself would do, but importing collections and building each class (namedtuple
compiles code for it) cost the dialplan's notice-spool 2 ms a call, a tenth of the PHP script
it is measured against (README, "Speed"). The records off that path remain namedtuples.
"""

from __future__ import annotations


_set = object.__setattr__  # a Value sets its fields once, in __init__


class Value:
    """A record whose fields are its __slots__; DEFAULTS gives the trailing ones' defaults."""

    __slots__ = ()
    DEFAULTS: dict = {}

    def __init__(self, *values, **named):
        fields = self.__slots__
        if len(values) > len(fields):
            raise TypeError(f"{type(self).__name__}() takes {len(fields)} values, not {len(values)}")
        for name, value in zip(fields, values):
            if name in named:
                raise TypeError(f"{type(self).__name__}() got the field {name!r} twice")
            named[name] = value
        for name in fields:
            _set(self, name, named.pop(name) if name in named else self._default(name))
        if named:
            raise TypeError(f"{type(self).__name__}() has no field {next(iter(named))!r}")

    def _default(self, name: str):
        try:
            return self.DEFAULTS[name]
        except KeyError:
            raise TypeError(f"{type(self).__name__}() is missing the field {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is a value: make a new one with _replace()")

    def _replace(self, **changes) -> Value:
        return type(self)(**{**self._asdict(), **changes})

    def _asdict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({shown})"
