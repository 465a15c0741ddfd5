"""The buses the controller drives into the PE array, as ``lib.data`` layouts.

Every PE sees the same buses; a PE acts on a beat when the beat's tag names
it (its row for the configuration and filter buses, its PE set and ifmap row
for the ifmap bus, its column for a reduction token). :class:`ArrayBuses`
holds the widths that depend on the configuration.
"""

from amaranth.lib import data

from quidam.config import AcceleratorConfig
from quidam.mapping.commands import CommandFormat, field_bits

__all__ = ["ArrayBuses"]

#: Width of a PE row or column index, a PE set index, a row inside a set: the command's ``cols``.
INDEX_BITS = field_bits("cols")
#: Width of the per-pass loop bounds p, q, slots, q*S, S and the ifmap ring: the command's ``q``.
COUNT_BITS = field_bits("q")
#: Width of the stride.
STRIDE_BITS = field_bits("U")
#: Width of an ifmap stream row index.
STREAM_ROW_BITS = field_bits("y_span")


def _bits(depth: int) -> int:
    return max(1, (depth - 1).bit_length())


class ArrayBuses:
    """Layouts of the controller-to-array buses for one configuration.

    Parameters
    ----------
    config : AcceleratorConfig

    Members
    -------
    rows_config : StructLayout
        One PE row's pass configuration: ``valid``, ``row``, ``active``,
        ``group`` (the ifmap word group of the row's PE set), ``lane`` (the
        set's lane in its group's beats), ``r`` (filter row inside the set),
        ``channels`` (valid channel slots of the set).
    filters : StructLayout
        A filter word for the PE rows of ``group``: ``valid``, ``group``,
        ``addr`` (filter scratchpad entry), ``data`` (one value per row of the
        group: PE row ``i`` takes lane ``i mod filter_lanes`` of group ``i //
        filter_lanes``, :attr:`~quidam.mapping.commands.CommandFormat.filter_lanes`).
    ifmap : StructLayout
        One ifmap value for each PE set of word group ``group``, multicast
        to its PEs whose stream row is ``y``: ``valid``, ``group``, ``y``,
        ``channel`` (the channel slot in each set: a set with fewer channels
        takes no value), ``slot`` (ifmap scratchpad entry), ``data`` (one value per lane, lane
        ``l`` for the group's set ``l``; see
        :class:`~quidam.mapping.schedule.IfmapBlock`).
    compute : StructLayout
        The pass's loop bounds and the step's start: ``start``, ``p``, ``q``,
        ``S``, ``slots``, ``qs``, ``U``, ``cols``, ``ring`` (ifmap
        scratchpad entries per channel), ``window_base``.
    token : StructLayout
        A reduction token: ``valid``, ``wide``, ``col``, ``m`` (psum entry);
        ``col`` is the column (``wide`` = 0) or the group of
        ``psum_lanes`` columns (``wide`` = 1) the token reduces.
    """

    def __init__(self, config: AcceleratorConfig):
        act, wt = config.act_bits, config.wt_bits
        ifmap_addr = _bits(config.ifmap_spad_depth)
        filter_addr = _bits(config.filter_spad_depth)
        psum_addr = _bits(config.psum_spad_depth)
        lanes_per_word = config.glb_word_bits // act
        self.rows_config = data.StructLayout({
            "valid": 1, "row": INDEX_BITS, "active": 1, "group": INDEX_BITS, "lane": _bits(lanes_per_word),
            "r": INDEX_BITS, "channels": COUNT_BITS,
        })
        lanes = CommandFormat(config).filter_lanes
        self.filters = data.StructLayout({"valid": 1, "group": INDEX_BITS, "addr": filter_addr,
                                          "data": data.ArrayLayout(wt, lanes)})
        self.ifmap = data.StructLayout({
            "valid": 1, "group": INDEX_BITS, "y": STREAM_ROW_BITS, "channel": COUNT_BITS, "slot": ifmap_addr,
            "data": data.ArrayLayout(act, lanes_per_word),
        })
        self.compute = data.StructLayout({
            "start": 1, "p": COUNT_BITS, "q": COUNT_BITS, "S": COUNT_BITS, "slots": COUNT_BITS,
            "qs": COUNT_BITS, "U": STRIDE_BITS, "cols": INDEX_BITS, "ring": COUNT_BITS, "window_base": COUNT_BITS,
        })
        self.token = data.StructLayout({"valid": 1, "wide": 1, "col": INDEX_BITS, "m": psum_addr})
