"""Named registries: the one way latent_core lists interchangeable parts (projections, translators, metrics...).

A :class:`Registry` maps a name to an object, a function or a class stored unchanged, together with a dict of
metadata. Entries are added with a decorator, listed in registration order, and looked up by name with an error
that names the choices. Code that lists the choices (a method grammar, a default list, a table's columns) reads
the registry when it runs, so an entry registered at runtime shows up everywhere.

Example:
    >>> SHAPES = Registry("shape")
    >>> @SHAPES.register("square", sides=4)
    ... def square(size): ...
    >>> SHAPES.get("square") is square, SHAPES.meta("square"), SHAPES.names()
    (True, {'sides': 4}, ('square',))
    >>> SHAPES.get("circle")   # UnknownNameError: Unknown shape 'circle'; choose from square.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from latent_core._scalars import describe
from latent_core.errors import InvalidParameterError, UnknownNameError

T = TypeVar("T")


class Registry(Mapping):
    """Name -> object (kept unchanged) plus a metadata dict, in registration order.

    Args:
        kind: what an entry is, in words ("translator", "relative projection"), for error messages.

    As a read-only mapping: ``name in registry``, ``registry[name]``, ``len``, iteration over names in
    registration order. A registry also compares equal to a tuple or list of its names in order, so code
    written when these lists were tuples (``MAP_KINDS == ("pca", "umap", "tsne")``) still reads true.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, tuple[Any, dict[str, Any]]] = {}

    def register(self, name: str, *, replace: bool = False, **meta: Any) -> Callable[[T], T]:
        """Decorator storing its object under ``name`` with ``meta``; returns the object unchanged.

        Raises:
            InvalidParameterError: ``name`` is not a non-empty string, or is taken (unless ``replace``; a
                replaced entry keeps its place in the order).
        """
        if not isinstance(name, str) or not name:
            raise InvalidParameterError(f"A {self.kind} name must be a non-empty string, got {describe(name)}.")

        def decorator(obj: T) -> T:
            if name in self._entries and not replace:
                raise InvalidParameterError(
                    f"A {self.kind} named {name!r} is already registered; pass replace=True to replace it."
                )
            self._entries[name] = (obj, dict(meta))
            return obj

        return decorator

    def unregister(self, name: str) -> None:
        """Remove an entry (tests, notebooks); an unknown name is an :class:`UnknownNameError`."""
        self.get(name)
        del self._entries[name]

    def get(self, name: str) -> Any:
        """The object registered under ``name``.

        Raises:
            UnknownNameError (an InvalidParameterError): ``Unknown <kind> <name>; choose from <names>.``
        """
        if name not in self:
            raise UnknownNameError(f"Unknown {self.kind} {describe(name)}; choose from {', '.join(self._entries)}.")
        return self._entries[name][0]

    def meta(self, name: str) -> dict[str, Any]:
        """A copy of the metadata registered with ``name`` (same errors as :meth:`get`)."""
        self.get(name)
        return dict(self._entries[name][1])

    def names(self, **meta: Any) -> tuple[str, ...]:
        """The names in registration order; with keywords, only those whose metadata has these values."""
        return tuple(name for name, (_, data) in self._entries.items()
                     if all(data.get(key) == value for key, value in meta.items()))

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._entries))  # a snapshot: registering while iterating is safe

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __eq__(self, other: object) -> bool:
        if isinstance(other, tuple | list):
            return self.names() == tuple(other)
        return super().__eq__(other)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
