"""The scratchpad, the global buffer, a PE, the PE array's psum chain and the controller's phases (row
configuration, filter load, ifmap feed, reduction, off-chip transfers) on their own, in Amaranth's simulator,
against Python models of their contracts (written from the docstrings, not from the RTL), and their parameter
checks with the exact messages."""

import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from quidam.config import AcceleratorConfig, parse_config
from quidam.mapping.commands import CommandFormat, DramRead, Pass
from quidam.mapping.mapper import accelerator_timing, map_layer
from quidam.mapping.schedule import OfmapBlock
from quidam.rtl_gen.controller import Controller
from quidam.rtl_gen.glb import GlobalBuffer
from quidam.rtl_gen.pe import PE
from quidam.rtl_gen.scratchpad import Scratchpad
from quidam.workloads.layer import ConvLayer

# A constructor that refuses its parameters leaves an object Amaranth reports as never elaborated.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def _simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("transparent", [False, True], ids=["plain", "transparent"])
def test_a_scratchpad_reads_what_was_written_after_its_read_latency(transparent):
    rng = np.random.default_rng(7)
    dut = Scratchpad(depth=12, width=9, transparent=transparent)
    model, held, checked = [0] * 12, [0], []
    ops = [(bool(rng.random() < 0.5), int(rng.integers(12)), int(rng.integers(1 << 9)), bool(rng.random() < 0.7),
            int(rng.integers(12))) for _ in range(400)]

    async def bench(ctx):
        pending = []   # expected rd_data, read_latency cycles after the read
        for wr_en, wr_addr, wr_data, rd_en, rd_addr in ops:
            ctx.set(dut.wr_en, wr_en)
            ctx.set(dut.wr_addr, wr_addr)
            ctx.set(dut.wr_data, wr_data)
            ctx.set(dut.rd_en, rd_en)
            ctx.set(dut.rd_addr, rd_addr)
            if rd_en:   # a same-cycle write of the entry is seen only through a transparent port
                held[0] = wr_data if (transparent and wr_en and wr_addr == rd_addr) else model[rd_addr]
            if wr_en:
                model[wr_addr] = wr_data
            pending.append(held[0])
            await ctx.tick()
            if len(pending) >= dut.read_latency:
                expected = pending[-dut.read_latency]
                checked.append((ctx.get(dut.rd_data), expected))

    _simulate(dut, bench)
    assert len(checked) == len(ops)
    assert all(got == expected for got, expected in checked)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"depth": 0, "width": 8}, TypeError, "scratchpad depth must be a positive integer, not 0"),
    ({"depth": 12, "width": True}, TypeError, "scratchpad width must be a positive integer, not True"),
    ({"depth": 12, "width": 4.0}, TypeError, "scratchpad width must be a positive integer, not 4.0"),
    ({"depth": 128, "width": 4, "macro": (64, 7)}, ValueError, "a 64x7 macro cannot hold a 128x4 scratchpad"),
    ({"depth": 64, "width": 4, "transparent": True, "macro": (64, 7)}, ValueError,
     "a 64x7 macro cannot hold a 64x4 transparent scratchpad"),
])
def test_a_scratchpad_names_a_bad_parameter(kwargs, error, message):
    with pytest.raises(error) as raised:
        Scratchpad(**kwargs)
    assert str(raised.value) == message


def test_the_global_buffer_serves_its_word_transfer_and_lane_ports_like_its_contract():
    # 4 banks of 64 words, 32-bit psums in 64-bit words (two lanes a word); 2 psum lanes (cols).
    config = AcceleratorConfig(pe_type="int16", rows=2, cols=2, glb_kib=2, glb_banks=4)
    dut = GlobalBuffer(config)
    depth, words, lanes = config.glb_bank_depth, dut.words, dut.psum_lanes
    lane_bits, mask_bits = dut.granularity, config.glb_word_bits // dut.granularity
    assert (depth, words, lanes, mask_bits) == (64, 256, 2, 2)
    rng = np.random.default_rng(11)
    memory = [0] * words
    checked = {"rd": 0, "dma": 0, "lane": 0, "conflict": 0}

    def masked(old, new, mask):
        for k in range(mask_bits):
            if mask >> k & 1:
                field = ((1 << lane_bits) - 1) << (k * lane_bits)
                old = (old & ~field) | (new & field)
        return old

    async def bench(ctx):
        bank_out = [None] * config.glb_banks   # the word each bank read last (None: not yet)
        read_bank = dma_read_bank = None
        for _ in range(600):
            kind = rng.choice(["word", "lane", "idle"], p=[0.5, 0.3, 0.2])
            signals = {name: 0 for name in ("rd_en", "wr_en", "lane_en", "lane_rd_en", "lane_wr_en", "dma_rd_en",
                                            "dma_wr_en")}
            addr, dma_addr = int(rng.integers(words)), int(rng.integers(words))
            word, dma_word = int(rng.integers(1 << 63)), int(rng.integers(1 << 63))
            mask, entry = int(rng.integers(1, 1 << mask_bits)), int(rng.integers(depth))
            lane_data = [int(rng.integers(1 << 63)) for _ in range(lanes)]
            lane_rd = int(rng.integers(1 << lanes))
            if kind == "word":
                signals["rd_en" if rng.random() < 0.5 else "wr_en"] = 1
            elif kind == "lane":
                signals.update(lane_en=1, lane_rd_en=lane_rd, lane_wr_en=int(rng.integers(1 << lanes)) & ~lane_rd)
            if rng.random() < 0.4:
                signals["dma_rd_en" if rng.random() < 0.5 else "dma_wr_en"] = 1
            for name, value in signals.items():
                ctx.set(getattr(dut, name), value)
            ctx.set(dut.addr, addr)
            ctx.set(dut.wr_data, word)
            ctx.set(dut.wr_mask, mask)
            ctx.set(dut.dma_addr, dma_addr)
            ctx.set(dut.dma_wr_data, dma_word)
            ctx.set(dut.lane_entry, entry)
            for b in range(lanes):
                ctx.set(dut.lane_wr_data[b], lane_data[b])
            # The model: each bank takes the transfer port when it addresses the bank, else its lane while
            # lane_en, else the word port; a bank's last read stays on its output.
            dma = signals["dma_rd_en"] or signals["dma_wr_en"]
            accesses = {}   # bank -> (read?, word address, data, mask)
            if dma:
                accesses[dma_addr // depth] = (signals["dma_rd_en"], dma_addr, dma_word, (1 << mask_bits) - 1)
            lane_banks = set()
            for b in range(lanes):
                if signals["lane_en"] and (signals["lane_rd_en"] | signals["lane_wr_en"]) >> b & 1:
                    lane_banks.add(b)
                    accesses.setdefault(b, (signals["lane_rd_en"] >> b & 1, b * depth + entry, lane_data[b], mask))
            if kind == "word":
                accesses.setdefault(addr // depth, (signals["rd_en"], addr, word, mask))
            conflict = bool(dma) and (dma_addr // depth in lane_banks or (kind == "word" and addr // depth ==
                                                                           dma_addr // depth))
            await ctx.delay(1e-9)
            assert ctx.get(dut.monitors["conflict"]) == conflict
            checked["conflict"] += conflict
            for bank, (read, address, data, bits) in accesses.items():
                if read:
                    bank_out[bank] = memory[address]
                else:
                    memory[address] = masked(memory[address], data, bits)
            if signals["rd_en"]:
                read_bank = addr // depth
            if signals["dma_rd_en"]:
                dma_read_bank = dma_addr // depth
            await ctx.tick()
            if read_bank is not None and bank_out[read_bank] is not None:
                assert ctx.get(dut.rd_data) == bank_out[read_bank]
                checked["rd"] += 1
            if dma_read_bank is not None and bank_out[dma_read_bank] is not None:
                assert ctx.get(dut.dma_rd_data) == bank_out[dma_read_bank]
                checked["dma"] += 1
            for b in range(lanes):
                if bank_out[b] is not None:
                    assert ctx.get(dut.lane_rd_data[b]) == bank_out[b]
                    checked["lane"] += 1

    _simulate(dut, bench)
    assert min(checked.values()) > 10, checked


def test_the_global_buffer_names_a_bad_memory_kind():
    config = AcceleratorConfig(pe_type="int16", rows=2, cols=2, glb_kib=2, glb_banks=4)
    messages = []
    with warnings.catch_warnings():   # the refused objects are reported when collected
        warnings.simplefilter("ignore", UnusedElaboratable)
        for memory in ("flops", "macro"):
            with pytest.raises(ValueError) as raised:
                GlobalBuffer(config, memory=memory)
            messages.append(str(raised.value))
            del raised
        gc.collect()
    assert messages == ["GLB memory must be one of behavioural, macro, not 'flops'",
                        "GLB memory 'macro' needs the available macro shapes"]


def test_a_pe_takes_its_lane_of_its_group_and_reduces_the_one_dimensional_convolution():
    # PE (0, 0) of a 2 x 2 int16 array, its set in lane 2 of word group 1: p = 3 filters x q = 2 channels of a
    # 3-wide filter row; beats for other groups, other stream rows and a channel slot it does not have carry
    # other values, which it must not take.
    config = AcceleratorConfig(pe_type="int16", rows=2, cols=2, glb_kib=16, glb_banks=4)
    dut = PE(config, row=0, col=0)
    rng = np.random.default_rng(5)
    p, q, S, lane, group = 3, 2, 3, 2, 1
    channels = q
    vi = config.glb_word_bits // config.act_bits
    weights = rng.integers(-300, 300, (p, q, S))
    ifmap = rng.integers(-300, 300, (q, S))
    above = rng.integers(-10**6, 10**6, p)
    slots = max(p, dut.accumulate_interval)
    bits = config.psum_bits
    expected = [int(((weights[m] * ifmap).sum() + above[m]) % (1 << bits)) for m in range(p)]
    got = []

    def word(value):   # the value in this PE's lane, noise in the others
        return [int(value) if l == lane else int(rng.integers(-300, 300)) for l in range(vi)]

    async def bench(ctx):
        for name, value in (("p", p), ("q", q), ("S", S), ("slots", slots), ("qs", q * S), ("U", 1), ("cols", 2),
                            ("ring", S), ("window_base", 0)):
            ctx.set(getattr(dut.compute, name), value)
        ctx.set(dut.rows_config, {"valid": 1, "row": 0, "active": 1, "group": group, "lane": lane, "r": 0,
                                  "channels": channels})
        await ctx.tick()
        ctx.set(dut.rows_config.valid, 0)
        filter_lanes = CommandFormat(config).filter_lanes
        for m in range(p):
            for c in range(q):
                for s in range(S):
                    data = [int(weights[m, c, s]) if l == 0 else 0 for l in range(filter_lanes)]
                    ctx.set(dut.filters, {"valid": 1, "group": 0, "addr": (m * q + c) * S + s, "data": data})
                    await ctx.tick()
        ctx.set(dut.filters.valid, 0)
        for c in range(q):
            for s in range(S):
                ctx.set(dut.ifmap, {"valid": 1, "group": group, "y": 0, "channel": c, "slot": c * S + s,
                                    "data": word(ifmap[c, s])})
                await ctx.tick()
                for decoy in ({"group": group + 1, "y": 0, "channel": c}, {"group": group, "y": 1, "channel": c},
                              {"group": group, "y": 0, "channel": channels}):
                    ctx.set(dut.ifmap, {"valid": 1, "slot": c * S + s, "data": word(7), **decoy})
                    await ctx.tick()
        ctx.set(dut.ifmap.valid, 0)
        ctx.set(dut.compute.start, 1)
        await ctx.tick()
        ctx.set(dut.compute.start, 0)
        await ctx.tick().repeat(q * S * slots + dut.mac_latency + 1)
        for m in range(p):
            ctx.set(dut.token, {"valid": 1, "wide": 0, "col": 0, "m": m})
            ctx.set(dut.psum_above, int(above[m]) % (1 << bits))
            await ctx.tick()
            ctx.set(dut.token.valid, 0)
            await ctx.tick().repeat(dut.reduce_latency)   # the psum read returns, then the sum goes down
            got.append(ctx.get(dut.psum_down))

    _simulate(dut, bench)
    assert got == expected


def _controller(config):
    """The controller alone, with the PE array's latencies and the GLB's port widths of ``config``."""
    timing = accelerator_timing(config)
    glb = GlobalBuffer(config)   # built for its address width and mask granularity only
    glb._MustUse__silence = True
    return Controller(config, result_delay=timing["result_delay"], mac_latency=timing["mac_latency"],
                      glb_addr_bits=glb.addr_bits, glb_granularity=glb.granularity)


def _glb_word(address: int, bits: int) -> int:
    """A distinct word at every GLB address: what the stand-in GLB holds."""
    return (address * 0x9E3779B97F4A7C15 + 0x7F4A7C15) % (1 << bits)


def _run_command(dut, config, command, each_cycle, *, cycles: int) -> None:
    """Simulate the controller given ``command`` once: ``each_cycle(ctx, cycle)`` observes (and drives) the
    ports before each edge, and ends the run by returning true; the word port's reads of :func:`_glb_word`
    return one cycle later."""
    async def bench(ctx):
        ctx.set(dut.cmd.payload, CommandFormat(config).encode(command))
        ctx.set(dut.cmd.valid, 1)
        for now in range(cycles):
            accepted = ctx.get(dut.cmd.ready)
            if each_cycle(ctx, now):
                return
            read, address = ctx.get(dut.glb_rd_en), ctx.get(dut.glb_addr)
            await ctx.tick()
            if accepted:
                ctx.set(dut.cmd.valid, 0)
            ctx.set(dut.glb_rd_data, _glb_word(address, config.glb_word_bits) if read else 0)

    _simulate(dut, bench)


@pytest.mark.parametrize("fields,layer", [
    ({"rows": 6, "cols": 4, "glb_kib": 8, "glb_banks": 4},
     ConvLayer(name="groups", C=23, M=8, H=10, W=10, R=1, S=1, stride=1, padding=0)),
    ({"pe_type": "lightpe1", "rows": 2, "cols": 5, "glb_kib": 8, "glb_banks": 4},
     ConvLayer(name="slots", C=11, M=6, H=9, W=9, R=1, S=1, stride=1, padding=0)),
    ({"rows": 6, "cols": 3, "glb_kib": 8, "glb_banks": 4},
     ConvLayer(name="3x3", C=7, M=4, H=8, W=8, R=3, S=3, stride=1, padding=1)),
], ids=["two-word-groups", "four-slots-per-word", "3x3-padded"])
def test_the_controller_feeds_the_first_column_group_by_group_and_slot_by_slot(fields, layer):
    # The controller alone on a GLB model whose every word is distinct: the first output column's beats, in the
    # order and with the words, lanes and tags the IfmapBlock layout puts them at (docs/architecture.md).
    config = parse_config(fields)
    ps = map_layer(layer, config).passes[0]
    dut = _controller(config)
    act, word_bits = config.act_bits, config.glb_word_bits
    vi = word_bits // act

    expected = []
    rows = [y for y in range(ps.y_span) if y >= ps.y_dense or y % ps.U < ps.set_rows]
    for g in range(ps.if_groups):
        for i in range(min(ps.q, ps.channels - g * ps.group_channels)):
            row_base = ps.if_base + g * ps.group_stride + (i // ps.slot_words) * ps.chan_stride
            shift = (i % ps.slot_words) * ps.set_lanes * act
            for y in rows:
                for n in range(ps.n_first):
                    yu, xu = ps.y_start + y - ps.pad, ps.x0 + n - ps.pad
                    inside = 0 <= yu < ps.H and 0 <= xu < ps.W
                    address = row_base + (yu - ps.y_first) * ps.if_row_words + xu - ps.x_first
                    data = (_glb_word(address, word_bits) >> shift) % (1 << (vi * act)) if inside else 0
                    expected.append((g, i, y, i * ps.ring + n % ps.ring, data))
    beats = []

    def each_cycle(ctx, now):
        beat = dut.ifmap
        if ctx.get(beat.valid):
            beats.append((ctx.get(beat.group), ctx.get(beat.channel), ctx.get(beat.y), ctx.get(beat.slot),
                          ctx.get(beat.data.as_value())))
        return ctx.get(dut.compute.start)

    _run_command(dut, config, ps, each_cycle, cycles=20_000)
    assert len(expected) >= 30 and beats == expected


def test_the_pe_array_chains_a_tokens_psum_down_its_column_and_out_after_its_result_delay():
    # No PE row is configured, so every PE adds the additive identity: a token's sum is the psum it starts
    # from, and it must leave on psum_out (narrow) or on its column's lane (wide) exactly result_delay cycles
    # after it entered row 0, from the column or group it names. Columns not named keep their last sums.
    from quidam.rtl_gen.pe_array import PEArray

    config = AcceleratorConfig(pe_type="int16", rows=3, cols=5, glb_kib=16, glb_banks=4)
    dut = PEArray(config)
    lanes = CommandFormat(config).psum_lanes
    groups = -(-config.cols // lanes)
    rng = np.random.default_rng(11)
    bits = config.psum_bits
    tokens = [(0, col, int(rng.integers(1, 1 << 20))) for col in (3, 0, 4, 1, 2)]
    tokens += [(1, group, [int(v) for v in rng.integers(1, 1 << 20, lanes)]) for group in range(groups)]
    expected, got = {}, {}

    async def bench(ctx):
        ctx.set(dut.compute.cols, config.cols)
        for now in range(2 * len(tokens) + dut.result_delay + 4):   # a token every other cycle
            if ctx.get(dut.psum_out_valid):
                got[now] = (ctx.get(dut.psum_out), [ctx.get(dut.psum_lanes_out[lane]) for lane in range(lanes)])
            k, second = divmod(now, 2)
            if k < len(tokens):
                wide, col, init = tokens[k]
                ctx.set(dut.token, {"valid": int(not second), "wide": wide, "col": col,
                                    "m": k % config.psum_spad_depth})
                if second:   # the initial psum, one cycle after its token
                    ctx.set(dut.psum_lanes_init if wide else dut.psum_init, init)
                else:
                    expected[now + dut.result_delay] = tokens[k]
            else:
                ctx.set(dut.token.valid, 0)
            await ctx.tick()

    _simulate(dut, bench)
    assert set(got) == set(expected)
    for cycle, (wide, col, init) in expected.items():
        single, lane_sums = got[cycle]
        if wide:
            columns = range(col * lanes, min((col + 1) * lanes, config.cols))
            assert lane_sums == [init[j % lanes] if j in columns else 0 for j in range(col * lanes, (col + 1) * lanes)]
        else:
            assert single == init % (1 << bits)



@pytest.mark.parametrize("stall", [0.0, 0.5], ids=["no-stalls", "half-stalled"])
def test_the_transfer_engine_moves_offchip_words_into_the_glb_under_backpressure(stall):
    # The transfer engine alone: a read request, then each granted beat written to the next GLB word through the
    # transfer port, for two reads one after the other. The off-chip side grants requests and beats late at
    # random (`stall` of the cycles).
    config = AcceleratorConfig(pe_type="int16", rows=2, cols=2, glb_kib=16, glb_banks=4)
    dut = _controller(config)
    rng = np.random.default_rng(5)
    reads = [DramRead(dram_addr=12_345, glb_addr=37, words=9, sync=0), DramRead(dram_addr=777, glb_addr=200, words=7)]
    incoming = [int(v) for v in rng.integers(0, 1 << 62, sum(read.words for read in reads))]

    requests, stored = [], []

    async def bench(ctx):
        commands = [CommandFormat(config).encode(read) for read in reads]
        beat = 0
        for _ in range(400):
            grant = rng.random() >= stall
            ctx.set(dut.cmd.valid, bool(commands))
            if commands:
                ctx.set(dut.cmd.payload, commands[0])
            ctx.set(dut.rd_cmd.ready, grant)
            ctx.set(dut.rd_data.valid, grant and beat < len(incoming))
            ctx.set(dut.rd_data.payload, incoming[beat] if beat < len(incoming) else 0)
            accepted = commands and ctx.get(dut.cmd.ready)
            if ctx.get(dut.rd_cmd.valid) and grant:
                requests.append((ctx.get(dut.rd_cmd.payload.addr), ctx.get(dut.rd_cmd.payload.words)))
            if ctx.get(dut.rd_data.valid) and ctx.get(dut.rd_data.ready):
                beat += 1
            if ctx.get(dut.dma_wr_en):
                stored.append((ctx.get(dut.dma_addr), ctx.get(dut.dma_wr_data)))
            assert not ctx.get(dut.wr_cmd.valid) and not ctx.get(dut.wr_data.valid)   # no pass drains
            if not commands and not ctx.get(dut.busy):
                return
            await ctx.tick()
            if accepted:
                commands.pop(0)

    _simulate(dut, bench)
    assert requests == [(read.dram_addr, read.words) for read in reads]
    assert stored == [(read.glb_addr + i, incoming[sum(r.words for r in reads[:k]) + i])
                      for k, read in enumerate(reads) for i in range(read.words)]


@pytest.mark.parametrize("fields,layer", [
    ({"rows": 7, "cols": 4, "glb_kib": 8, "glb_banks": 4},
     ConvLayer(name="3x3", C=7, M=4, H=8, W=8, R=3, S=3, stride=1, padding=1)),
    ({"pe_type": "lightpe1", "rows": 4, "cols": 3, "glb_kib": 8, "glb_banks": 4},
     ConvLayer(name="1x1", C=11, M=6, H=9, W=9, R=1, S=1, stride=1, padding=0)),
], ids=["3x3-an-idle-row", "1x1-lightpe1"])
def test_the_controller_configures_each_pe_row_then_loads_the_filters_word_by_word(fields, layer):
    # Before the first column: one configuration beat per PE row (row i belongs to set i // set_stride, as its
    # row r = i % set_stride; the set's channels are the q after the sets before it, its place in the ifmap word
    # groups set // set_lanes, lane set % set_lanes), then one filter beat per GLB word from w_base on, loop
    # (filter group, m, c*S + s), each carrying the word read the cycle before.
    config = parse_config(fields)
    ps = map_layer(layer, config).passes[0]
    dut = _controller(config)
    width = len(dut.filters.data.as_value())

    expected_rows = []
    for i in range(config.rows):
        s, r = divmod(i, ps.set_stride)
        expected_rows.append((i, s // ps.set_lanes, s % ps.set_lanes, r, int(s < ps.sets and r < ps.set_rows),
                              min(max(ps.channels - s * ps.q, 0), ps.q)))
    order = [(g, m, cs) for g in range(ps.filter_groups) for m in range(ps.p) for cs in range(ps.qs)]
    expected_filters = [(g, m * ps.qs + cs, _glb_word(ps.w_base + n, config.glb_word_bits) % (1 << width))
                        for n, (g, m, cs) in enumerate(order)]
    rows, filters = [], []

    def each_cycle(ctx, now):
        cfg, beat = dut.rows_config, dut.filters
        if ctx.get(cfg.valid):
            rows.append((ctx.get(cfg.row), ctx.get(cfg.group), ctx.get(cfg.lane), ctx.get(cfg.r),
                         ctx.get(cfg.active), ctx.get(cfg.channels)))
        if ctx.get(beat.valid):
            filters.append((ctx.get(beat.group), ctx.get(beat.addr), ctx.get(beat.data.as_value())))
        return ctx.get(dut.ifmap.valid) or ctx.get(dut.compute.start)

    _run_command(dut, config, ps, each_cycle, cycles=5_000)
    assert rows == expected_rows
    assert len(expected_filters) >= 12 and filters == expected_filters


@pytest.mark.parametrize("kind,stall", [("first", 0.0), ("accumulating", 0.0), ("draining", 0.0), ("draining", 0.6)],
                         ids=["first-pass", "accumulating-pass", "draining-pass", "draining-pass-backpressure"])
def test_the_reducer_sends_a_token_per_psum_row_and_writes_each_column_sum_to_its_lane(kind, stall):
    # The controller with a stand-in PE array that returns each token's sum result_delay cycles after it: for
    # every output column s, one token per psum row (m, j), loop (m, j), every cycle on a first pass and every
    # other cycle otherwise; an accumulating pass reads the row's word ps_base + (m*cols + j)*ps_row_words + s//vp
    # and starts the token from its lane s % vp; each sum is written to that word, masked to that lane. A
    # draining pass writes nothing to the GLB: one write request of out_words words at out_addr, then the sums
    # vp to a word in the order they came (OfmapBlock), whenever the memory takes a beat; with backpressure it
    # takes none for 700 cycles and then refuses `stall` of them, so that the drain FIFO fills and tokens wait.
    config = AcceleratorConfig(pe_type="int16", rows=2, cols=3, glb_kib=16, glb_banks=1, psum_spad_depth=8)
    layer = ConvLayer(name="channels", C=16, M=3, H=20, W=20, R=3, S=3, stride=1, padding=0)
    first, drain = kind == "first", kind == "draining"
    ps = next(command for command in map_layer(layer, config).commands
              if isinstance(command, Pass) and command.first == first and command.drain == drain)
    assert not ps.wide   # the word port's reduction, one token per column
    dut = _controller(config)
    pb, word = config.psum_bits, config.glb_word_bits
    vp, granule = word // pb, pb // dut._granularity
    identity = 0
    rng = np.random.default_rng(3)

    def row_word(m, j, s):
        return ps.ps_base + (m * ps.cols + j) * ps.ps_row_words + s // vp

    def returned(n):
        return (n * 7919 + 13) % (1 << pb)

    expected_tokens = [(s, j, m) for s in range(ps.F) for m in range(ps.p) for j in range(ps.cols)]
    expected_inits = [identity if first else (_glb_word(row_word(m, j, s), word) >> (s % vp * pb)) % (1 << pb)
                      for s, j, m in expected_tokens]
    lane_mask = [((1 << granule) - 1) << (lane * granule) for lane in range(vp)]
    tokens, token_cycles, inits, writes, returns, requests, sent = [], [], [], [], {}, [], []
    pending_init = started = False

    def each_cycle(ctx, now):
        nonlocal pending_init, started
        started |= bool(ctx.get(dut.busy))
        if started and not ctx.get(dut.busy) and not returns:
            return True
        if pending_init:
            inits.append(ctx.get(dut.psum_init))
        pending_init = bool(ctx.get(dut.token.valid))
        if pending_init:
            n = len(tokens)
            tokens.append((n // (ps.p * ps.cols), ctx.get(dut.token.col), ctx.get(dut.token.m)))
            token_cycles.append(now)
            returns[now + dut._result_delay] = returned(n)
        value = returns.pop(now, None)
        ctx.set(dut.psum_out_valid, value is not None)
        ctx.set(dut.psum_out, value or 0)
        grant = rng.random() >= stall and (not stall or now > 700)
        ctx.set(dut.wr_cmd.ready, 1)
        ctx.set(dut.wr_data.ready, grant and bool(requests))
        if ctx.get(dut.wr_cmd.valid):
            requests.append((ctx.get(dut.wr_cmd.payload.addr), ctx.get(dut.wr_cmd.payload.words)))
        if ctx.get(dut.wr_data.valid) and ctx.get(dut.wr_data.ready):
            sent.append(ctx.get(dut.wr_data.payload))
        if ctx.get(dut.glb_wr_en):
            writes.append((ctx.get(dut.glb_addr), ctx.get(dut.glb_wr_mask), ctx.get(dut.glb_wr_data)))
        return False

    _run_command(dut, config, ps, each_cycle, cycles=40_000)
    assert len(expected_tokens) >= 24 and tokens == expected_tokens
    assert inits == expected_inits
    per_column = ps.p * ps.cols
    gaps = {b - a for n, (a, b) in enumerate(zip(token_cycles, token_cycles[1:])) if (n + 1) % per_column}
    if stall:
        assert min(gaps) == ps.ii and max(gaps) > ps.ii   # some tokens waited for room
    else:
        assert gaps == {1 if first or drain else 2} and gaps == {ps.ii}
    if not drain:
        assert len(writes) == len(tokens) and not requests and not sent
        for n, ((s, j, m), (address, mask, data)) in enumerate(zip(tokens, writes)):
            assert (address, mask) == (row_word(m, j, s), lane_mask[s % vp])
            assert (data >> (s % vp * pb)) % (1 << pb) == returned(n)
        return
    block = OfmapBlock(base=ps.out_addr, m0=0, p=ps.p, e0=0, cols=ps.cols, f0=0, F=ps.F, wide=0,
                       lanes=CommandFormat(config).psum_lanes, vp=vp)
    assert not writes and requests == [(ps.out_addr, ps.out_words)] and ps.out_words == block.words
    assert len(sent) == block.words
    places, lanes = block.places()
    for n, (s, j, m) in enumerate(tokens):
        assert (sent[places[m, j, s]] >> (lanes[m, j, s] * pb)) % (1 << pb) == returned(n)
