"""The instruction-data factory: seeds -> prompts -> generations -> verdicts -> SFT / DPO data."""
