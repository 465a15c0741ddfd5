"""cocotb testbenches and their pytest runners, one per generated block."""
