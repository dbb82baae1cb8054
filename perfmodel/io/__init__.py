"""Reading and writing the data tt-metal tools exchange (the ops_perf_results CSV)."""
