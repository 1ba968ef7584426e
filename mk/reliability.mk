# `make reliability`: the whole reliability suite (soak 10 min, chaos, shutdown, fuzzing, load ceilings),
# bounded to 20 minutes, loopback only. The fast part of tests/reliability also runs in `make test`.
# TURNOUT_SOAK_S / TURNOUT_SOAK_RATE shorten or lengthen the soak.
.PHONY: reliability
reliability: $(STAMP)
	timeout 1140 $(BIN)/python -m pytest -q -p no:cacheprovider -m "reliability or not reliability" tests/reliability
	timeout 150 $(BIN)/python benchmarks/reliability_shedding.py --rates 300,700 --seconds 10 --limit 32
