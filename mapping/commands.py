"""The commands the accelerator's controller executes, and their bit encoding.

A schedule is a sequence of two kinds of command, streamed into the
controller one word at a time:

* :class:`DramRead`: copy ``words`` GLB words from off-chip memory into the
  global buffer, on the transfer engine, beside the array: a read starts when
  the one before it has finished and, if its ``sync`` bit is set, when the
  array is idle too;
* :class:`Pass`: one processing pass of the row-stationary array: configure
  the PE rows, load the filter scratchpads from the GLB, then for each output
  column stream the new ifmap values, compute, and reduce the psums down the
  columns into the GLB or, on the last pass of a psum tile (``drain``),
  straight to off-chip memory. A pass starts when the array and the transfer
  engine are both idle.

:class:`CommandFormat` fixes the width of every field for one configuration;
the RTL controller builds its command layout from the same table, so the
Python encoder and the hardware decoder cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from quidam.config import AcceleratorConfig

__all__ = ["MAX_SIDE", "MAX_STRIDE", "OPCODES", "CommandFormat", "DramRead", "Pass", "field_bits"]


@dataclass(frozen=True)
class DramRead:
    """Copy ``words`` words from off-chip address ``dram_addr`` to GLB address ``glb_addr``; with ``sync``, only
    once the array is idle (the pass before it may still read those words)."""

    dram_addr: int
    glb_addr: int
    words: int
    sync: int = 1


@dataclass(frozen=True)
class Pass:
    """One processing pass of the PE array (see ``docs/architecture.md``).

    Members
    -------
    first : int
        1 when the psums start from the additive identity, 0 when they are
        read back from the GLB (a later channel block or filter-row fold).
    drain, out_addr, out_words : int
        ``drain`` = 1 on the psum tile's last pass: its final sums go to
        off-chip memory, ``out_words`` words from ``out_addr`` in the order
        the reducer makes them (:class:`~quidam.mapping.schedule.OfmapBlock`),
        not to the GLB.
    prefetch : int
        1: each column's initial psums are read ahead of its reduction, into the drain FIFO
        (:func:`~quidam.mapping.model.prefetches`).
    ii : int
        Cycles between the reducer's tokens (:func:`~quidam.mapping.model.token_interval`).
    p, q : int
        Filters and channels interleaved in each PE's scratchpads.
    slots : int
        Accumulation slots per (channel, filter column): ``max(p, accumulate
        interval)``; slots beyond ``p`` are bubbles.
    qs : int
        ``q * S``, the filter-scratchpad stride of one filter.
    sets, set_stride, set_rows : int
        Active PE sets (channel blocks stacked down the array), PE rows
        between set starts (``min(R, rows)``), and filter rows active in each
        set this pass (the filter-row fold).
    channels : int
        Channels in this pass's block, spread ``q`` per set.
    cols : int
        Active PE columns (output rows of the block).
    wide, groups : int
        ``wide`` = 1: the reduction runs on the psum lanes
        (:attr:`CommandFormat.psum_lanes`): a token reduces every column of
        one group of ``psum_lanes`` columns at once, column ``j`` reading and
        writing bank ``j mod psum_lanes``; ``groups`` =
        ``ceil(cols / psum_lanes)``. ``wide`` = 0: a token reduces one
        column, through the word port (``groups`` = ``cols``).
    S, U, pad, H, W : int
        Filter width, stride, padding, ifmap height and width.
    F, x0, x_first : int
        Output columns of the pass (its width tile of the output row), the padded ifmap column where the
        window of its first output column starts (``f0 * U`` for the tile from output column ``f0``), and
        the first unpadded ifmap column the GLB holds of each row (one word per column).
    lookahead, ring : int
        ``lookahead`` = 1: the next output column's new ifmap values stream
        in while the PEs compute the current one, into a ring of ``ring`` =
        ``S + min(U, S)`` ifmap-scratchpad entries per channel; 0: they
        stream in between columns, ``ring`` = ``S``.
    n_first, inc_first, inc_first_mod : int
        New ifmap values per stream in the first output column (``S``), the
        step of the first new value's column after it (``max(U, S)``) and
        of its ring slot (``S mod ring``).
    n_next, inc_next, inc_next_mod : int
        The same for every later column: ``min(U, S)``, ``U``,
        ``min(U, S) mod ring``.
    u_mod : int
        ``min(U, S) mod ring``, the step of the window base in the ring.
    y_start, y_first, y_span, y_dense : int
        Padded ifmap row of stream row 0, first unpadded row held in the GLB,
        stream rows of the block (``(cols-1)*U + set_rows``), and the stream
        row from which every row is needed (``(cols-1)*U``).
    w_base, filter_groups : int
        GLB word address of the pass's filter words and the groups of
        :attr:`CommandFormat.filter_lanes` PE rows they load: group ``g``'s
        word for filter scratchpad entry ``a`` at ``w_base + g*p*qs + a``,
        one value per PE row of the group.
    if_base, chan_stride, if_row_words : int
        GLB word address of the ifmap block, words per word row (its rows), words per row (the row's
        window from ``x_first``, one word per column).
    set_lanes, slot_words, if_groups, group_channels, group_stride : int
        The channel packing (:class:`~quidam.mapping.schedule.IfmapBlock`): PE sets per word group (a
        lane each), slots of each set per word, word groups, channels per full group (``set_lanes * q``),
        and GLB words between the groups' first word rows.
    gap : int
        Cycles from a column's first reduction token to the next column's compute start
        (:func:`~quidam.mapping.model.reduction_gap`): less than the reduction where the next column
        computes beside it, the whole reduction where it cannot.
    ps_base, ps_row_words : int
        The psum tile's GLB word address (``wide`` = 0: row ``(m, j)`` at
        ``ps_base + (m*cols + j) * ps_row_words``) or entry in each lane's
        bank (``wide`` = 1: row ``(m, j)`` in bank ``j mod psum_lanes`` at
        entry ``ps_base + (m*groups + j // psum_lanes) * ps_row_words``),
        and words per psum row.
    """

    first: int
    drain: int
    out_addr: int
    out_words: int
    prefetch: int
    ii: int
    p: int
    q: int
    slots: int
    qs: int
    sets: int
    set_stride: int
    set_rows: int
    channels: int
    cols: int
    wide: int
    groups: int
    S: int
    U: int
    lookahead: int
    ring: int
    pad: int
    H: int
    W: int
    F: int
    x0: int
    x_first: int
    n_first: int
    inc_first: int
    inc_first_mod: int
    n_next: int
    inc_next: int
    inc_next_mod: int
    u_mod: int
    y_start: int
    y_first: int
    y_span: int
    y_dense: int
    w_base: int
    filter_groups: int
    if_base: int
    chan_stride: int
    if_row_words: int
    set_lanes: int
    slot_words: int
    if_groups: int
    group_channels: int
    group_stride: int
    gap: int
    ps_base: int
    ps_row_words: int


#: Opcode of each command class (the low bits of a command word).
OPCODES: dict[type, int] = {DramRead: 1, Pass: 2}

OPCODE_BITS = 2

# Width class of each field: "glb" (a GLB word address or count), "dram", or a fixed bit count.
_WIDTHS: dict[str, object] = {
    "dram_addr": "dram", "glb_addr": "glb", "words": "glb", "sync": 1,
    "first": 1, "drain": 1, "out_addr": "dram", "out_words": "glb", "prefetch": 1, "ii": 8,
    "p": 11, "q": 11, "slots": 11, "qs": 11, "sets": 6, "set_stride": 6, "set_rows": 6,
    "channels": 12, "cols": 6, "wide": 1, "groups": 6, "S": 11, "U": 4, "lookahead": 1, "ring": 11, "pad": 6,
    "H": 12, "W": 12, "F": 12, "x0": 13, "x_first": 12,
    "n_first": 11, "inc_first": 12, "inc_first_mod": 11, "n_next": 11, "inc_next": 4, "inc_next_mod": 11,
    "u_mod": 11, "y_start": 16, "y_first": 12, "y_span": 16, "y_dense": 16,
    "w_base": "glb", "filter_groups": 6, "gap": 16, "if_base": "glb", "chan_stride": "glb", "if_row_words": 12,
    "set_lanes": 6, "slot_words": 6, "if_groups": 6, "group_channels": 12, "group_stride": "glb",
    "ps_base": "glb", "ps_row_words": 12,
}

#: Off-chip word addresses are this wide.
DRAM_ADDR_BITS = 32



def field_bits(name: str) -> int:
    """Width of the fixed-width command field ``name``: the array buses and counters that carry it are as wide."""
    width = _WIDTHS[name]
    if not isinstance(width, int):
        raise ValueError(f"command field {name} is as wide as a {width} address, not fixed")
    return width


#: The largest stride and ifmap / ofmap side the command fields hold.
MAX_STRIDE = (1 << field_bits("U")) - 1
MAX_SIDE = (1 << field_bits("W")) - 1


class CommandFormat:
    """Field widths and encoding of the command words for one configuration.

    Parameters
    ----------
    config : AcceleratorConfig

    Members
    -------
    glb_words : int
        Words in the global buffer.
    glb_addr_bits : int
        Width of a GLB word address (and of a GLB word count, one bit more).
    bank_depth : int
        Words per GLB bank.
    psum_lanes : int
        GLB banks with a psum lane port of their own, ``min(cols, glb_banks)``:
        a wide reduction writes one psum into each in the same cycle.
    filter_lanes : int
        PE rows one filter word loads at once, one weight each: ``min(rows,
        glb_word_bits // wt_bits)``.
    width : int
        Width of a command word: opcode plus the widest command's fields.
    """

    def __init__(self, config: AcceleratorConfig):
        self._glb_words = config.glb_banks * config.glb_bank_depth
        self._glb_addr_bits = max(1, (self._glb_words - 1).bit_length())
        self._bank_depth = config.glb_bank_depth
        self._psum_lanes = min(config.cols, config.glb_banks)
        self._filter_lanes = min(config.rows, config.glb_word_bits // config.wt_bits)

    @property
    def glb_words(self) -> int:
        return self._glb_words

    @property
    def glb_addr_bits(self) -> int:
        return self._glb_addr_bits

    @property
    def bank_depth(self) -> int:
        return self._bank_depth

    @property
    def psum_lanes(self) -> int:
        return self._psum_lanes

    @property
    def filter_lanes(self) -> int:
        return self._filter_lanes

    def fields(self, kind: type) -> dict[str, int]:
        """Field name -> width in bits of command class ``kind``, in encoding order."""
        widths = {}
        for field in fields(kind):
            width = _WIDTHS[field.name]
            if width == "glb":
                width = self._glb_addr_bits + 1
            elif width == "dram":
                width = DRAM_ADDR_BITS
            widths[field.name] = width
        return widths

    @property
    def width(self) -> int:
        return OPCODE_BITS + max(sum(self.fields(kind).values()) for kind in OPCODES)

    def encode(self, command) -> int:
        """The command word of ``command``; a field that does not fit raises ``ValueError``."""
        word, shift = OPCODES[type(command)], OPCODE_BITS
        for name, width in self.fields(type(command)).items():
            value = getattr(command, name)
            if not 0 <= value < (1 << width):
                raise ValueError(f"{type(command).__name__}.{name} = {value} does not fit in {width} bits")
            word |= value << shift
            shift += width
        return word
