"""Plain fixed-width tables for benchmark output."""


def table(headers, rows):
    """Return lines of a left-aligned table with a rule under the header."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row]
                                           for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        return '  '.join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    out = [line(cells[0]), '  '.join('-' * w for w in widths)]
    out.extend(line(row) for row in cells[1:])
    return out


def ms(seconds):
    return '%.0f' % (seconds * 1000.0)
