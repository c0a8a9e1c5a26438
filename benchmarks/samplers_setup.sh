#!/usr/bin/env bash
# Install the JAX environment of benchmarks/mmm_samplers.py under benchmarks/.envs/jax
# (idempotent): Python 3.11, mixlens from this repository with its `mmm` extra, and JAX +
# numpyro on the CPU. JAX is not a dependency of mixlens; only this benchmark needs it.
# PyMC, PyTensor, nutpie, numba and numpy are pinned to the versions of the project's own
# venv when the benchmark was run, so the nutpie rows (project venv) and the JAX rows (this
# env) sample the same PyMC model. Versions land in benchmarks/.envs/jax-versions.txt.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
envs="$here/.envs"
dir="$envs/jax"
PY311="${PY311:-/root/.pyenv/versions/3.11.7/bin/python}"
command -v "$PY311" > /dev/null || PY311="$(command -v python3.11)"
pins=(
  "jax[cpu]==0.10.2" "jaxlib==0.10.2" "numpyro==0.22.0"
  "pymc==5.28.5" "pytensor==2.38.3" "nutpie==0.16.8" "numba==0.65.1" "numpy==2.4.6"
  "arviz==0.23.4"
)
mkdir -p "$envs"
if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "${pins[*]}" ]; then
  echo "[samplers setup] jax: up to date"
else
  [ -x "$dir/bin/python" ] || "$PY311" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip
  nice -n 10 "$dir/bin/python" -m pip install -q -e "$root[mmm]" "${pins[@]}"
  echo "${pins[*]}" > "$dir/.installed"
  echo "[samplers setup] jax: installed ${pins[*]}"
fi
{
  echo "## jax ($("$dir/bin/python" -c 'import platform; print("Python", platform.python_version())'))"
  "$dir/bin/python" -m pip list --format=freeze 2>/dev/null \
    | grep -iE '^(jax|jaxlib|numpyro|pymc|pytensor|nutpie|numba|numpy|arviz)=='
} > "$envs/jax-versions.txt"
cat "$envs/jax-versions.txt"
