"""`make bench`: every benchmark beside its baseline, measured in one run."""
