"""`make chaos`: a bounded, seeded chaos run against a real cluster (api, 2 timekeepers, 3 executors as separate
processes over the local PostgreSQL and RabbitMQ, each linked through TCP proxies of its own).

- plan.py: the seed's job mix and fault schedule (pure: one seed, one plan), and the cluster's settings;
- injector.py: the cluster's processes by slot, the faults applied to them, restarts, and every exit seen;
- facts.py: what the run observed, read back from the database, the logs and the api once it is over;
- verdict.py: the anomalies in those facts, and the report (a text table and JSON);
- run.py: one run, from a fresh database and queue to the report; __main__.py: its command line.

`python -m tests.chaos --help`; the README's "Chaos" paragraph says how to replay a seed."""
