"""Tools shared by the tests and the benchmarks (not part of the installed package).

* :mod:`harness.redis_process`: throw-away redis-server processes (own port, own folder);
* :mod:`harness.processes`: stopping the process groups a test or benchmark started;
* :mod:`harness.newsroom`: the synthetic newsroom, as many distinct on-topic article pages as needed.
"""
