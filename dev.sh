#!/usr/bin/env bash
# Set everything up (a local .venv with nianbao and its test tools), then run a task.
#   ./dev.sh demo    the whole pipeline on the bundled offline portal mirror
#   ./dev.sh test    lint (ruff, import-linter layers), then the test-suite (what CI runs)
#   ./dev.sh lint    lint only
#   ./dev.sh bench   the benchmarks in bench/
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.nianbao-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  touch "$stamp"
fi
# Byte-code for our own modules (an editable install has none): every crawl process starts
# Python afresh, and where PYTHONDONTWRITEBYTECODE is set it would compile them each time.
.venv/bin/python -m compileall -q crawler monitor mirror >/dev/null || true
# The browser tests drive Debian's chromium (Playwright's own download does not work here):
# `test` installs it once where it can (root with apt-get); elsewhere those tests skip.
browser() {
  if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
      && [ ! -f .venv/.chromium-tried ]; then
    touch .venv/.chromium-tried
    echo "installing Debian's chromium for the browser tests (once)"
    { apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-zenhei; } >/dev/null 2>&1 \
      || echo "could not install chromium: the browser tests will skip" >&2
  fi
}
# The distributed tests start Debian's redis-server: `test` installs it once where it can
# (root with apt-get); elsewhere those tests skip.
redis() {
  if [ ! -x /usr/bin/redis-server ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null \
      && [ ! -f .venv/.redis-tried ]; then
    touch .venv/.redis-tried
    echo "installing Debian's redis-server for the distributed tests (once)"
    { apt-get update -qq && apt-get install -y -qq redis-server; } >/dev/null 2>&1 \
      || echo "could not install redis-server: the distributed tests will skip" >&2
  fi
}
lint() {
  local out
  # B901 (a generator returning a value) is in ruff's preview: it replaces the check Scrapy
  # would make at every crawl's start (WARN_ON_GENERATOR_RETURN_VALUE, crawler/settings.py).
  .venv/bin/ruff check --quiet . && .venv/bin/ruff check --quiet --preview --select B901 crawler \
    && .venv/bin/ruff format --check --quiet . \
    && { out=$(.venv/bin/lint-imports --no-logo --no-cache 2>&1) || { echo "$out"; false; }; } \
    || { echo "lint failed (see above; ./dev.sh lint)" >&2; return 1; }
  echo "lint: ruff check, ruff format --check and the import-linter layers pass"
}
task=${1:-test}
shift || true
case "$task" in
  demo)  exec .venv/bin/nianbao demo "$@" ;;
  lint)  lint ;;
  test)  lint && browser && redis && exec .venv/bin/python -m pytest "$@" ;;
  bench) for b in bench/*.py; do echo "== $b"; .venv/bin/python "$b" "$@"; done ;;
  *)     echo "usage: ./dev.sh demo|test|lint|bench" >&2; exit 2 ;;
esac
