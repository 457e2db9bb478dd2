"""Write the bundled arithmetic seeds (held out from the tiny model's training) as JSONL."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from factory.arithmetic import held_out  # noqa: E402

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("factory/data/arithmetic.jsonl")
with out.open("w") as fh:
    for p in held_out(200):
        fh.write(json.dumps({"problem": p.question, "answer": str(p.answer)}) + "\n")
