#!/usr/bin/env bash
# How the shipped weights were produced on a lent GPU machine (one H100), in one call:
# all eight variants train in parallel until DEADLINE seconds, then the last epoch that
# every model completed is shipped (float16) and checked against float32 on the test split.
# Usage there: DEADLINE=390 bash scripts/device_train.sh   (writes into $OUT)
set -uo pipefail
export PYTHONPATH=$PWD/lib ATTENTION_COURSE_DATA=$PWD/.devdata ATTENTION_COURSE_CACHE=/tmp/acache PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
python3 scripts/train_all.py --parallel 8 --deadline "${DEADLINE:-360}" --device cuda --out runs 2>&1 | tee "$OUT/train_all.txt"
K=$(python3 -c "
import sys; sys.path.insert(0, 'scripts'); from pathlib import Path; from train_all import completed_epochs
e = [completed_epochs(d) for d in Path('runs').iterdir() if d.is_dir()]; print(min([x for x in e if x > 0], default=0))")
echo "shipping epoch $K"
for d in runs/*/; do n=$(basename "$d"); python3 scripts/ship.py --epoch "$K" --dest ship "$n" >> "$OUT/ship.txt" 2>&1; done
tar -cf "$OUT/logs.tar" runs/*.log runs/*/epoch-*/train_log.json
i=0; for pair in "seq2seq-init seq2seq" "bahdanau luong-dot" "luong-general luong-concat" "luong-general-nofeed luong-local-p"; do
  i=$((i+1)); (cd ship && tar -cf "$OUT/ckpt$i.tar" $pair); done
ls -la "$OUT"
for d in runs/*/; do n=$(basename "$d"); timeout 120 python3 -c "
import sys; sys.path.insert(0, 'scripts'); from pathlib import Path; import ship, json
print('$n', json.dumps(ship.check(Path('runs/$n'), $K, Path('ship/$n'), 'cuda')))" >> "$OUT/fp16_check.txt" 2>&1 & done; wait
cat "$OUT/fp16_check.txt"
