"""Testbench stimulus and reference selection (no simulator needed)."""

import numpy as np
import pytest

from quidam.config import AcceleratorConfig
from quidam.formats.integer import int_mac_bits
from quidam.formats.lightpe import lightpe1_mac_bits, lightpe2_mac_bits
from quidam.testbenches.mac_model import directed_operations, golden_mac, random_operations


def sidecar(**fields):
    config = AcceleratorConfig(**fields)
    return {"pe_type": config.pe_type, "act_bits": config.act_bits, "wt_bits": config.wt_bits,
            "psum_bits": config.psum_bits, "latency": 1}


@pytest.mark.parametrize("fields", [dict(pe_type="int16"), dict(pe_type="int", act_bits=4, wt_bits=3),
                                    dict(pe_type="lightpe1"), dict(pe_type="lightpe2", psum_bits=32)])
def test_operations_fit_the_ports_and_cover_the_extremes(fields):
    facts = sidecar(**fields)
    widths = (facts["act_bits"], facts["wt_bits"], facts["psum_bits"])
    random = random_operations(facts, np.random.default_rng(0), 5000)
    directed = directed_operations(facts)
    assert len(random) == 5000
    for operations in (random, directed):
        assert all(0 <= x < 1 << bits for op in operations for x, bits in zip(op, widths))
    top_psum = (1 << (facts["psum_bits"] - 1)) - 1
    assert any(op[2] == top_psum for op in random) and any(op[2] == top_psum for op in directed)
    if facts["pe_type"].startswith("lightpe"):
        assert {op[1] for op in directed} == set(range(1 << facts["wt_bits"]))      # every weight code
    assert {op[0] for op in directed} >= {0, 1 << (facts["act_bits"] - 1), (1 << facts["act_bits"]) - 1}


def test_fp32_units_use_the_fp32_model():
    fp32 = pytest.importorskip("quidam.formats.fp32", reason="the fp32 golden model is not in this checkout yet")
    assert golden_mac(sidecar(pe_type="fp32")) is fp32.fp32_mac_bits
    assert directed_operations(sidecar(pe_type="fp32")) == fp32.fp32_corner_cases()


def test_golden_model_follows_the_sidecar():
    assert golden_mac(sidecar(pe_type="int", act_bits=8, wt_bits=4))(0x80, 0x8, 0) \
        == int_mac_bits(0x80, 0x8, 0, act_bits=8, wt_bits=4, psum_bits=20) == 1024
    assert golden_mac(sidecar(pe_type="lightpe1", psum_bits=16))(0x80, 0x7, 0) \
        == lightpe1_mac_bits(0x80, 0x7, 0, psum_bits=16) == 0xC000
    assert golden_mac(sidecar(pe_type="lightpe2"))(1, 0x77, 5) == lightpe2_mac_bits(1, 0x77, 5) == 261
