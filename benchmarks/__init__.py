"""Side-by-side benchmarks of the scheduler against Celery beat, APScheduler and a hand-written limit pipeline.

Run with `make bench`; see benchmarks/README.md."""
