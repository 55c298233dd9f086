"""Cells that read well in a table and stay data in JSON and YAML.

cliff shows a ``FormattableColumn``'s ``human_readable()`` in table and
value output and its ``machine_readable()`` in json, yaml and shell.
"""

from cliff import columns


class LoadColumn(columns.FormattableColumn):
    """A load bucket: ``30%`` in a table, ``30`` in JSON; unknown: empty."""

    def human_readable(self):
        return '' if self._value is None else '%d%%' % self._value

    def machine_readable(self):
        return self._value


class InstancesColumn(columns.FormattableColumn):
    """Slot holders: one ``name (uuid)`` a line; a list of dicts in JSON."""

    def human_readable(self):
        return '\n'.join(
            '%s (%s)' % (item['name'] or '-', item['uuid'])
            + (' x%d' % item['slots'] if item['slots'] != 1 else '')
            for item in self._value)

    def machine_readable(self):
        return [dict(item) for item in self._value]


class CellsColumn(columns.FormattableColumn):
    """NUMA cells: ``0, 1`` in a table, ``[0, 1]`` in JSON."""

    def human_readable(self):
        return ', '.join(str(cell) for cell in self._value or ())

    def machine_readable(self):
        return list(self._value or ())
