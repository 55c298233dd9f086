"""The scheduler scale benchmark (``benchmarks/scheduler_scale.py``).

One module per job: ``fleet`` builds the synthetic hosts and Placement's
answers, ``placement`` stands in for the Placement HTTP API, ``specs``
builds the requests, ``pipelines`` times stock Nova and the plugin on the
same host states, ``calls`` counts Placement calls through Nova's real
scheduler manager, ``report`` prints, ``main`` ties them together.
"""
