"""Off-chip memory images: operands packed the way a schedule reads them, results unpacked."""

from __future__ import annotations

import numpy as np

from .schedule import Schedule

__all__ = ["operand_bits", "pack_operands", "unpack_ofmap"]


def operand_bits(codes: np.ndarray, bits: int) -> np.ndarray:
    """The ``bits``-wide storage pattern of each code: two's complement integers, binary32 floats."""
    if codes.dtype == np.float32:
        return codes.view(np.uint32).astype(np.int64)
    return codes.astype(np.int64) & ((1 << bits) - 1)


def pack_operands(schedule: Schedule, ifmap_codes: np.ndarray, weight_codes: np.ndarray) -> list[int]:
    """The off-chip memory image (one int per word) holding one image's ifmap and the weights.

    ``ifmap_codes`` is ``(C, H, W)``, ``weight_codes`` ``(M, C, R, S)``; the
    output region is zero.
    """
    config, dram = schedule.config, schedule.dram
    image = [0] * dram.words
    ifmap = operand_bits(ifmap_codes, config.act_bits)
    for block in dram.ifmap_blocks:
        channels = block.channels_of()   # (word rows, lanes)
        values = np.where(channels[..., None, None] >= 0, ifmap[np.maximum(channels, 0)], 0).astype(object)
        shifts = (np.arange(block.vi, dtype=object) * config.act_bits)[:, None, None]
        image[block.base:block.base + block.words] = list((values << shifts).sum(axis=1).reshape(-1))
    weights = operand_bits(weight_codes, config.wt_bits)
    for block in dram.weight_blocks:
        index = block.weights()
        m, c, r, s = np.moveaxis(index, -1, 0)
        # Python integers: a word may be wider than 64 bits.
        values = np.where(m >= 0, weights[m, c, r, s], 0).astype(object)
        shifts = np.arange(block.filter_lanes, dtype=object) * config.wt_bits
        image[block.base:block.base + block.words] = list((values << shifts).sum(axis=1))
    return image


def unpack_ofmap(schedule: Schedule, image: list[int]) -> np.ndarray:
    """The ``(M, E, F)`` output psums from an off-chip image: int64 two's complement, or uint32 binary32 bits."""
    config, layer = schedule.config, schedule.layer
    bits = config.psum_bits
    mask = (1 << bits) - 1
    out = np.zeros((layer.M, layer.E, layer.F), dtype=np.int64)
    for block in schedule.dram.ofmap_blocks:
        words, lanes = block.places()
        values = [(image[block.base + int(w)] >> (int(lane) * bits)) & mask
                  for w, lane in zip(words.ravel(), lanes.ravel())]
        values = np.array(values, dtype=np.int64).reshape(words.shape)
        out[block.m0:block.m0 + block.p, block.e0:block.e0 + block.cols, block.f0:block.f0 + block.F] = values
    if config.pe.is_float:
        return out.astype(np.uint32)
    return np.where(out >= 1 << (bits - 1), out - (1 << bits), out)
