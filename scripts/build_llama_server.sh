#!/usr/bin/env bash
# Build llama.cpp's own OpenAI-compatible server (llama-server, parallel slots) for team trials and the
# concurrency bench (make bench-team). Optional: the app's default local server is llama-cpp-python's.
# It comes from the llama.cpp source inside the pinned llama-cpp-python sdist (same version as the local
# server, fetched from the package registry), built once into the cache. No web UI is built or fetched.
# GGML_NATIVE: OFF by default as in install_llama.sh (a native build crashes on CPUs with AMX).
set -euo pipefail
venv="${1:-.venv}"
version="0.3.36"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/drafting/llama-server-$version"
bin="$cache/bin/llama-server"
if [ -x "$bin" ]; then
  echo "[setup] llama-server 已编译：$bin"
  exit 0
fi
mkdir -p "$cache/src"
sdist=$(ls "$cache"/src/llama_cpp_python-"$version".tar.gz 2>/dev/null | head -n1 || true)
if [ -z "$sdist" ]; then
  "$venv/bin/pip" download --quiet --no-deps --no-binary :all: -d "$cache/src" "llama-cpp-python==$version"
  sdist="$cache/src/llama_cpp_python-$version.tar.gz"
fi
tar -xzf "$sdist" -C "$cache/src"
src="$cache/src/llama_cpp_python-$version/vendor/llama.cpp"
echo "[setup] 编译 llama-server（首次约 10 分钟）……"
cmake -S "$src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE="${GGML_NATIVE:-OFF}" \
  -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$cache/build" --target llama-server -j"$(nproc)" >/dev/null
mkdir -p "$cache/bin"
cp -a "$cache/build/bin/." "$cache/bin/"
echo "[setup] llama-server 编译完成：$bin"
