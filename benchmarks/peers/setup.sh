#!/usr/bin/env bash
# Install the peer tools in their own virtual environments under benchmarks/.envs/ (idempotent).
#   channelattribution  Python 3.11: ChannelAttribution (C++ extension), pandas
#   pymc-marketing      Python 3.12: pymc-marketing 1.x, nutpie (its fastest sampler here)
#   dp6                 Python 3.11: marketing-attribution-models (optional; skipped on failure)
#   meridian            Python 3.11: google-meridian (brings TensorFlow + TFP, about 3 GB)
# Versions land in benchmarks/.envs/versions.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
envs="$here/../.envs"
mkdir -p "$envs"
PY311="${PY311:-/root/.pyenv/versions/3.11.7/bin/python}"
PY312="${PY312:-/root/.pyenv/versions/3.12.1/bin/python}"

make_env() {  # name python packages...
  local name="$1" py="$2"; shift 2
  local dir="$envs/$name"
  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$*" ]; then
    echo "[setup] $name: up to date"; return 0
  fi
  [ -x "$dir/bin/python" ] || "$py" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  nice -n 10 "$dir/bin/python" -m pip install -q "$@"
  echo "$*" > "$dir/.installed"
  echo "[setup] $name: installed $*"
}

make_env channelattribution "$PY311" ChannelAttribution pandas matplotlib
make_env pymc-marketing "$PY312" "pymc-marketing>=1,<2" nutpie
make_env dp6 "$PY311" marketing-attribution-models \
  || echo "[setup] dp6: install failed (optional peer, skipped)"
if [ "${SKIP_MERIDIAN:-0}" != 1 ]; then
  free_gib="$(df -Pk "$envs" | awk 'NR==2 {print int($4 / 1048576)}')"
  if [ -f "$envs/meridian/.installed" ] || [ "$free_gib" -ge 6 ]; then
    make_env meridian "$PY311" "google-meridian==2.1.0" \
      || echo "[setup] meridian: install failed (see pip output above)"
  else
    echo "[setup] meridian: skipped, only ${free_gib} GiB free (needs about 3 GB)"
  fi
fi

{
  for name in channelattribution pymc-marketing dp6 meridian; do
    py="$envs/$name/bin/python"
    [ -f "$envs/$name/.installed" ] || continue
    echo "## $name ($("$py" -c 'import platform; print("Python", platform.python_version())'))"
    "$py" -m pip list --format=freeze 2>/dev/null \
      | grep -iE '^(channelattribution|pandas|numpy|pymc|pymc-marketing|pytensor|nutpie|numpyro|jax|marketing[-_]attribution[-_]models|google-meridian|tensorflow|tensorflow-probability|tfp-nightly|tf-keras)=='
  done
} > "$envs/versions.txt"
cat "$envs/versions.txt"
