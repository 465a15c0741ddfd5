"""Amaranth generators: MAC units, processing elements, PE array, global buffer, controller."""
