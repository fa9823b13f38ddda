"""`scripts/benchmark`: the integration's speed and memory against floors (PRODUCT.md §12).

Each floor is measured in the same run, against the same Home Assistant process.
"""
