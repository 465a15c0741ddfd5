"""Process facts: locating and reading the Nangate45 cell libraries and fakeram45 SRAM macros."""
