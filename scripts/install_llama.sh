#!/usr/bin/env bash
# Build llama-cpp-python (the local model server) from source once, cache the wheel, install it.
# GGML_NATIVE=OFF: a native build crashes on CPUs with AMX on any prompt longer than one token.
set -euo pipefail
venv="${1:-.venv}"
version="0.3.36"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/drafting/wheels"
if "$venv/bin/python" -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.__version__ == '$version' else 1)" 2>/dev/null; then
  echo "[setup] llama-cpp-python $version 已安装"
  exit 0
fi
mkdir -p "$cache"
wheel=$(ls "$cache"/llama_cpp_python-"$version"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$wheel" ]; then
  echo "[setup] 编译 llama-cpp-python $version（首次约 4–6 分钟）……"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "$venv/bin/pip" wheel --quiet --no-deps -w "$cache" "llama-cpp-python==$version"
  wheel=$(ls "$cache"/llama_cpp_python-"$version"-*.whl | head -n1)
fi
"$venv/bin/pip" install --quiet --no-deps "$wheel"
echo "[setup] llama-cpp-python $version 安装完成"
