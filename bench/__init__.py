"""Benchmark harness for the ``modelstudio`` SDK (``make bench``; entry point ``bench/run.py``)."""
