"""Number formats of the PE types: bit-exact golden MAC models and quantizers.

Written independently of the RTL; the testbenches check the generated units
against these, and these against outside references (numpy, exact arithmetic).
"""

from .conv import LayerOperands, conv2d_golden, random_layer_operands
from .fp32 import (
    FP32_QNAN, fp32_corner_cases, fp32_mac_bits, fp32_random_operands, fp32_round, fp32_value,
)
from .integer import from_signed, int_mac_bits, to_signed, wrap
from .lightpe import lightpe1_mac_bits, lightpe1_value, lightpe2_mac_bits, lightpe2_value
from .quantize import QuantizedTensor, decode, dequantize, quantize

__all__ = [
    "FP32_QNAN", "fp32_corner_cases", "fp32_mac_bits", "fp32_random_operands", "fp32_round", "fp32_value",
    "LayerOperands", "QuantizedTensor", "conv2d_golden", "decode", "dequantize", "from_signed", "int_mac_bits",
    "lightpe1_mac_bits", "lightpe1_value", "lightpe2_mac_bits", "lightpe2_value", "quantize",
    "random_layer_operands", "to_signed", "wrap",
]
