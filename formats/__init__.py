"""Number formats of the PE types: bit-exact golden MAC models and quantizers.

Written independently of the RTL; the testbenches check the generated units
against these, and these against outside references (numpy, exact arithmetic).
"""
