"""The dispatch benchmark: email msgs/s of 1 and 2 dispatcher processes against a bare sender.

python -m bench.dispatch [--recipients N] [--output bench/results/dispatch.json]
"""
