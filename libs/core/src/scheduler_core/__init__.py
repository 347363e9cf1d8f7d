"""Models, repositories, schedule maths, broker, task registry and settings of the job scheduler."""
