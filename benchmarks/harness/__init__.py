"""The benchmark harness: the System/Scenario interfaces, the runner, measurement and reporting."""
