#!/usr/bin/env bash
# System packages the tests need: Chromium for the browser test, CJK fonts for charts and screenshots.
set -euo pipefail
need=()
for pkg in chromium fonts-noto-cjk; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "[setup] 系统依赖已就绪（chromium、中文字体）"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "[setup] 错误：缺少 ${need[*]}，请用管理员权限安装：apt-get install ${need[*]}" >&2
  exit 1
fi
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
echo "[setup] 安装系统依赖：${need[*]}"
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
