"""Suite-wide hooks: the counts of checked operations reach the terminal even under xdist."""


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
