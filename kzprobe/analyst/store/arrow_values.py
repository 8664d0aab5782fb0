"""Arrow arrays of Python values made from their bytes, for the store's writer.

`pa.array` (and `pa.scalar`) first asks whether the value is a pandas object, and to ask, imports
pandas when it is installed: 50 MB in the writing process, for values it never has. The reading
workers build their arrays with pa.array and never import pandas (kzprobe.analyst.store.reader);
the writer makes the few arrays of its own (the keys and days it drops or rewrites) here, from
the values' bytes (Arrow's layout: offsets and UTF-8 data; days since 1970 as int32).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from datetime import date
from itertools import accumulate

import pyarrow as pa

_EPOCH = date(1970, 1, 1)


def strings(values: Sequence[str]) -> pa.Array:
    """`values` as an Arrow string array."""
    encoded = [value.encode() for value in values]
    offsets = array("i", accumulate((len(data) for data in encoded), initial=0))
    return pa.Array.from_buffers(pa.string(), len(encoded),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def days(values: Sequence[date]) -> pa.Array:
    """`values` as an Arrow date32 array."""
    return pa.Array.from_buffers(pa.date32(), len(values),
                                 [None, pa.py_buffer(array("i", ((day - _EPOCH).days for day in values)))])
