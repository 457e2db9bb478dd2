"""Clean exports: benchmark decontamination (the Qwen2 rule) and near-duplicate removal.

benchmarks.py (the registry of test sets), decontaminate.py (the rule, fast), dedup.py (exact
and MinHash/LSH near-duplicates), lines.py (the texts of a JSONL line), export_pass.py (both,
applied to an export).
"""
