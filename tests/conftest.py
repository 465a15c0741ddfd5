"""Suite-wide hooks: the test tiers (markers given here, in one table) and the counts of checked operations.

Tiers
-----
Every test belongs to the fast tier unless :data:`TIERS` puts it in one or
more of these (markers registered in ``pyproject.toml``):

``rtl``
    simulates generated RTL in Icarus Verilog (cocotb) or lints it with Verilator;
``tools``
    runs the characterization flow's tools (Yosys, OpenSTA) or a Dask cluster;
``slow``
    pure Python but long (building a wheel, fitting every model card).

``make test-fast`` runs ``-m "not rtl and not tools and not slow"`` (the
pure-Python tests and the Amaranth simulations of small blocks); ``make test``
runs everything. A new test module is fast until it is listed here. A key
is a module, a test function (``module::test``, every parameter set) or one
parameter set (``module::test[id]``), the most specific first.
"""

import pytest

#: ``module``, ``module::test`` (the test function, any parameters) or ``module::test[id]`` -> its tiers.
TIERS: dict[str, tuple[str, ...]] = {
    "test_accelerator": ("rtl",),
    "test_mac_rtl": ("rtl",),
    "test_mac_fp32_numpy": ("rtl",),
    "test_mapping::test_simulate_cli_json_and_dump": ("rtl",),
    "test_characterize_mac": ("tools",),
    "test_characterize_accelerator": ("tools", "rtl"),
    "test_characterize_sram": ("tools",),
    "test_primitives": ("tools",),
    "test_sweep": ("tools",),
    "test_robust_runs": ("tools",),
    "test_robust_runs::test_a_source_digest_follows_the_code_not_its_docstrings_or_comments": (),
    "test_robust_runs::test_a_recorded_trace_follows_the_program_the_mapper_makes": (),
    "test_packaging": ("slow",),
    "test_blocks::test_a_scratchpad_replay_is_checked_against_the_rtl_and_cached": ("tools", "rtl"),
    "test_blocks::test_composed_2x2_matches_the_whole_accelerator": ("tools", "rtl", "slow"),
    "test_models::test_committed_cards_are_fitted_on_the_committed_datasets": ("slow",),
    "test_models::test_totals_are_the_sums_of_the_block_models": ("slow",),
    "test_models::test_the_fit_report_compares_the_composed_blocks_with_every_whole_point": ("slow",),
    "test_accuracy::test_a_trained_layer_runs_bit_exact_on_the_rtl": ("rtl",),
    # The search against the model of built schedules: a cross-section in the fast tier, the grids in `slow`.
    "test_mapping::test_every_layer_of_the_workloads_maps_onto_eyeriss": ("slow",),
    "test_mapping::test_every_layer_of_the_workloads_maps_onto_eyeriss[resnet20-cifar10]": (),
    "test_mapping::test_the_closed_form_cost_of_any_mapping_equals_the_model_of_its_schedule": ("slow",),
    "test_mapping::test_the_closed_form_cost_of_any_mapping_equals_the_model_of_its_schedule[resnet20:9-4x6]": (),
    "test_dse::test_vectorized_model_is_the_mapper_and_the_exact_model[1]": ("slow",),
}


def _tiers(item) -> tuple[str, ...]:
    module = item.module.__name__.rpartition(".")[2] if item.module is not None else ""
    function = getattr(item, "originalname", item.name)
    for key in (f"{module}::{item.name}", f"{module}::{function}", module):
        if key in TIERS:
            return TIERS[key]
    return ()


def pytest_collection_modifyitems(items):
    for item in items:
        for tier in _tiers(item):
            item.add_marker(getattr(pytest.mark, tier))


def pytest_terminal_summary(terminalreporter):
    lines = sorted(
        value
        for report in terminalreporter.stats.get("passed", [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == "checked"
    )
    if lines:
        terminalreporter.section("checked operations")
        for line in lines:
            terminalreporter.write_line(line)
