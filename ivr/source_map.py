"""Where each value of a script sits in its YAML text, by JSON path: what the loader records
while composing and what the schema check and the validator use to place a problem on a line."""

from __future__ import annotations

from ivr.model import Mark

# A value's address in the parsed document: mapping keys and list indexes from the root.
JsonPath = tuple[str | int, ...]


class SourceMap:
    """Where each value (and each mapping key) sits in the YAML text."""

    def __init__(self) -> None:
        self.values: dict[JsonPath, Mark] = {}
        self.keys: dict[JsonPath, Mark] = {}

    def at(self, path: JsonPath, *, key: bool = False) -> Mark:
        """The mark of `path`, or of its nearest written ancestor."""
        table = self.keys if key else self.values
        probe = path
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Mark())
