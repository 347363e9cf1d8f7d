"""The bench's longer legs (issue 21), each run on its own: `python -m benchmarks.legs LEG ...` (see __main__)."""
