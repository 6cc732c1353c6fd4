#!/usr/bin/env bash
# How seq2seq-uni, seq2seq-reverse and transformer (and the transformer-nopos ablation, whose
# weights are not shipped) were trained on a lent GPU (one H200), in one call:
#   all four train in parallel with the shared budget (20 epochs, batch 128), each exported
#   after every epoch; the ones that complete are shipped in float16 (scripts/ship.py --epoch 20)
#   and checked against float32 on the test split.
# The code comes from a clean export of the commit (.devsrc: `git archive HEAD lib/attention_course
# scripts/ship.py scripts/train_all.py`, weights left out) and the corpus from .devdata.
# Usage there: DEADLINE=480 bash scripts/device_train_new_models.sh   (writes into $OUT)
set -uo pipefail
export PYTHONPATH=$PWD/.devsrc/lib ATTENTION_COURSE_DATA=$PWD/.devdata ATTENTION_COURSE_CACHE=/tmp/acache
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=4
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi -L; python3 -c "import torch, sacrebleu, safetensors; print('torch', torch.__version__, torch.cuda.get_device_name())"
cfg=/tmp/cfg; mkdir -p $cfg; cp .devsrc/lib/attention_course/configs/*.json $cfg/
python3 - <<'PY'
import json
c = json.load(open("/tmp/cfg/transformer.json"))
c["name"] = "transformer-nopos"
c["description"] = "Ablation: the transformer without position encodings (not shipped; its test scores are)."
c["model"]["positional"] = False
json.dump(c, open("/tmp/cfg/transformer-nopos.json", "w"), indent=1)
PY
cd .devsrc
python3 scripts/train_all.py transformer seq2seq-uni seq2seq-reverse transformer-nopos --parallel 4 \
  --deadline "${DEADLINE:-480}" --device cuda --configs $cfg --out runs 2>&1 | tee "$OUT/train_all.txt"
for n in transformer seq2seq-uni seq2seq-reverse transformer-nopos; do
  if [ -d runs/$n/epoch-20 ]; then
    python3 scripts/ship.py --epoch 20 --runs runs --dest ship $n >> "$OUT/ship.txt" 2>&1
  else
    last=$(ls -d runs/$n/epoch-* 2>/dev/null | sed 's/.*epoch-//' | sort -n | tail -1)
    echo "$n: not finished, last epoch ${last:-none}" | tee -a "$OUT/ship.txt"
    [ -n "$last" ] && python3 scripts/ship.py --epoch "$last" --runs runs --dest ship $n >> "$OUT/ship.txt" 2>&1
  fi
  (cd ship 2>/dev/null && tar -cf "$OUT/$n.tar" $n) ; tar -rf "$OUT/$n.tar" runs/$n/run_config.json runs/$n.log 2>/dev/null
done
# The ablation is not shipped: its test BLEU (float32, greedy and beam 5) is what the book uses.
last=$(ls -d runs/transformer-nopos/epoch-* 2>/dev/null | sed 's/.*epoch-//' | sort -n | tail -1)
[ -n "$last" ] && timeout 90 python3 -c "
import json, sys; sys.path.insert(0, 'scripts'); from pathlib import Path; import ship
print(json.dumps(ship.check(Path('runs/transformer-nopos'), $last, Path('ship/transformer-nopos'), 'cuda')))" \
  > "$OUT/nopos_check.txt" 2>&1
ls -la "$OUT"
