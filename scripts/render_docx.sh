#!/usr/bin/env bash
# Render a .docx for a visual check: LibreOffice (headless) -> PDF, then page 1 -> PNG (80 dpi).
#
# Usage: scripts/render_docx.sh [--preview] FILE.docx OUTDIR
#   -> OUTDIR/NAME.pdf and OUTDIR/NAME-page1.png
#
# --preview: LibreOffice cannot squeeze 3号 (16 pt) characters into the 28-per-line character grid
# (w:docGrid linesAndChars, charSpace -849) the way Word and WPS do: it gives each character two
# grid cells, so lines show 14 widely spaced characters. With --preview a temporary copy is
# rendered with a line-only grid, which approximates what Word shows. The .docx is not changed.
set -euo pipefail

preview=0
if [[ "${1:-}" == "--preview" ]]; then
  preview=1
  shift
fi
if [[ $# -ne 2 ]]; then
  echo "用法：scripts/render_docx.sh [--preview] 文件.docx 输出目录" >&2
  exit 2
fi
src=$1
outdir=$2
[[ -f "$src" ]] || { echo "找不到文件：$src" >&2; exit 2; }
for tool in soffice pdftoppm python3; do
  command -v "$tool" >/dev/null || {
    echo "缺少 $tool，请先安装：apt-get install -y --no-install-recommends libreoffice-writer-nogui fonts-noto-cjk poppler-utils" >&2
    exit 3
  }
done

mkdir -p "$outdir"
name=$(basename "${src%.*}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
input=$src
if [[ $preview -eq 1 ]]; then
  input="$work/$name.docx"
  python3 - "$src" "$input" <<'PY'
import re, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
    for item in zin.infolist():
        data = zin.read(item.filename)
        if item.filename == "word/document.xml":
            text = data.decode("utf-8")
            text = re.sub(r'w:type="linesAndChars"', 'w:type="lines"', text)
            text = re.sub(r'\s*w:charSpace="-?\d+"', "", text)
            data = text.encode("utf-8")
        zout.writestr(item, data)
PY
fi
# A private LibreOffice profile: a running soffice would otherwise hold the lock on the default one.
soffice -env:UserInstallation="file://$work/profile" --headless --convert-to pdf --outdir "$work" "$input" >/dev/null 2>&1
mv "$work/$name.pdf" "$outdir/$name.pdf"
pdftoppm -png -r 80 -f 1 -l 1 -singlefile "$outdir/$name.pdf" "$outdir/$name-page1"
echo "$outdir/$name.pdf"
echo "$outdir/$name-page1.png"
