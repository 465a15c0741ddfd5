"""MAC unit construction: validation, latency, factory, sidecar facts, no multiplier in LightPE."""

import gc
import warnings

import pytest
from amaranth.back import rtlil
from amaranth.hdl import UnusedElaboratable

from quidam.config import AcceleratorConfig
from quidam.errors import ConfigError
from quidam.pe_types import PE_TYPES
from quidam.rtl_gen.mac import describe, mac_for, make_mac
from quidam.rtl_gen.mac_int import IntMAC
from quidam.rtl_gen.mac_lightpe1 import LightPE1MAC
from quidam.rtl_gen.mac_lightpe2 import LightPE2MAC
from quidam.rtl_gen.mac_signature import MACSignature

# Most units here are built to be inspected, not elaborated: Amaranth would warn
# when they are garbage collected, so collect them while that warning is off.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


@pytest.fixture(autouse=True)
def _collect_inspected_units():
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        gc.collect()


@pytest.mark.parametrize("kwargs, message", [
    (dict(act_bits=0, wt_bits=8, psum_bits=24), "act_bits: must be an integer in 2..16, not 0"),
    (dict(act_bits=8, wt_bits=17, psum_bits=32), "wt_bits: must be an integer in 2..16, not 17"),
    (dict(act_bits=8, wt_bits=8, psum_bits=65), "psum_bits: must be an integer in 8..64, not 65"),
    (dict(act_bits=8, wt_bits=8, psum_bits=12), "psum_bits: must be at least the 16-bit product width"),
    (dict(act_bits=8.0, wt_bits=8, psum_bits=24), "act_bits: must be an integer in 2..16, not 8.0"),
])
def test_int_mac_validates_its_widths(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        IntMAC(**kwargs)


def test_int_mac_takes_keyword_arguments_only():
    with pytest.raises(TypeError):
        IntMAC(8, 8, 24)


@pytest.mark.parametrize("cls, low", [(LightPE1MAC, 16), (LightPE2MAC, 17)])
def test_lightpe_psum_must_hold_the_product(cls, low):
    assert cls(psum_bits=low).signature.psum_bits == low
    with pytest.raises(ConfigError, match=f"at least the {low}-bit product width"):
        cls(psum_bits=low - 1)


@pytest.mark.parametrize("pe_type, widths, cls, signature", [
    ("int16", {}, IntMAC, MACSignature(act_bits=16, wt_bits=16, psum_bits=32)),
    ("int", dict(act_bits=8, wt_bits=4), IntMAC, MACSignature(act_bits=8, wt_bits=4, psum_bits=20)),
    ("int", dict(act_bits=4, wt_bits=4, psum_bits=10), IntMAC, MACSignature(act_bits=4, wt_bits=4, psum_bits=10)),
    ("lightpe1", {}, LightPE1MAC, MACSignature(act_bits=8, wt_bits=4, psum_bits=24)),
    ("lightpe2", dict(psum_bits=32), LightPE2MAC, MACSignature(act_bits=8, wt_bits=8, psum_bits=32)),
])
def test_factory_picks_the_unit_and_widths(pe_type, widths, cls, signature):
    mac = make_mac(pe_type, **widths)
    assert type(mac) is cls and mac.signature == signature
    assert mac.latency == 1
    assert type(mac_for(AcceleratorConfig(pe_type=pe_type, **widths))) is cls


def test_factory_rejects_what_the_configuration_rejects():
    with pytest.raises(ConfigError, match="pe_type: must be one of"):
        make_mac("int32")
    with pytest.raises(ConfigError, match="only pe_type int takes act_bits"):
        make_mac("lightpe1", act_bits=4)


def test_latency_is_read_only():
    with pytest.raises(AttributeError):
        IntMAC(act_bits=8, wt_bits=8, psum_bits=24).latency = 2


@pytest.mark.parametrize("cls", [LightPE1MAC, LightPE2MAC])
def test_lightpe_has_shifters_and_no_multiplier(cls):
    text = rtlil.convert(cls(), name="mac")
    assert "$mul" not in text
    assert "$shl" in text or "$sshl" in text


def test_int_mac_does_multiply():
    assert "$mul" in rtlil.convert(IntMAC(act_bits=8, wt_bits=8, psum_bits=24), name="mac")


def test_describe_reports_widths_latency_ports_and_encodings():
    facts = describe(make_mac("int16"), pe_type="int16")
    assert facts["pe_type"] == "int16" and facts["class"] == "IntMAC"
    assert (facts["act_bits"], facts["wt_bits"], facts["psum_bits"], facts["psum_bits_default"]) == (16, 16, 32, 32)
    assert facts["latency"] == 1
    assert facts["ports"]["psum_out"] == {"direction": "out", "width": 32}
    assert facts["ports"]["clk"] == {"direction": "in", "width": 1}
    assert facts["encodings"] == PE_TYPES["int16"].encodings
    # IntMAC serves int too: the PE type given decides the default psum width and the encodings.
    assert describe(make_mac("int16"), pe_type="int")["psum_bits_default"] == 40
    assert describe(make_mac("lightpe2"), pe_type="lightpe2")["encodings"]["w"].startswith("LightPE-2 code")
