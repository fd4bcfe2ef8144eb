#!/usr/bin/env bash
# ansible-test sanity for the collection, offline-capable.
#   scripts/sanity.sh [ansible-test sanity options]   (default: the tests CI runs)
#
# ansible-test needs the collection at a path ending in
# ansible_collections/<namespace>/<name>, with the collections it depends on
# beside it, and bootstraps pip into its per-test virtualenvs with a script it
# downloads from a host that is not reachable here; ensurepip stands in for it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
WORK=${SMARTSTREAM_SANITY_DIR:-/tmp/smartstream-sanity}
SITE=$("$VENV/bin/python" -c 'import ansible_collections, os; print(os.path.dirname(ansible_collections.__path__[0]))')

# The bootstrap stand-in, under every name the installed ansible-test may ask for.
mkdir -p "$HOME/.ansible/test/cache"
pip_version=$(grep -oE "pip='[0-9.]+'" "$VENV/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py" \
  | head -1 | grep -oE "[0-9.]+")
[ -n "$pip_version" ] || { echo "sanity.sh: cannot tell which pip ansible-test bootstraps" >&2; exit 1; }
printf 'import ensurepip\nensurepip.bootstrap(upgrade=True)\n' > "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"

rm -rf "$WORK"
dest=$WORK/ansible_collections/smartstream/pipeline
mkdir -p "$dest"
# Exactly what the collection ships (galaxy.yml build_ignore leaves out the
# Lambda code, tests and tooling, which ruff and pytest cover).
cd "$ROOT"
ANSIBLE_CONFIG=/nonexistent "$VENV/bin/ansible-galaxy" collection build --force --output-path "$WORK" >/dev/null
tar -xzf "$WORK"/smartstream-pipeline-*.tar.gz -C "$dest"
rm -f "$dest/MANIFEST.json" "$dest/FILES.json" "$WORK"/smartstream-pipeline-*.tar.gz
ln -s "$SITE/ansible_collections/amazon" "$WORK/ansible_collections/amazon"
ln -s "$SITE/ansible_collections/community" "$WORK/ansible_collections/community"
cd "$dest"
git init -q && git add -A && git -c user.email=ci@localhost -c user.name=ci commit -qm sanity

if [ $# -eq 0 ]; then
  # every sanity test but the PowerShell one (no PowerShell here) and shellcheck (not installed)
  set -- --skip-test pslint --skip-test shellcheck
fi
exec "$VENV/bin/ansible-test" sanity --local --python 3.11 --color no "$@"
