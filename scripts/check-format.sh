#!/usr/bin/env bash
# Fails when a C++ file the repository tracks is not formatted as
# .clang-format says (Google style, 100 columns): run by scripts/test.sh, so
# CI refuses an unformatted change. Fix with:
#   git ls-files '*.cc' '*.h' | xargs clang-format -i
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRIGATE_REPO_ROOT"
command -v clang-format >/dev/null || die "clang-format is not installed (scripts/install-deps.sh)"
if ! git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror 2>/tmp/crigate-format.$$; then
  grep -o '^[^:]*:[0-9]*' /tmp/crigate-format.$$ | sort -u -t: -k1,1 | sed 's/^/  not formatted: /' >&2
  rm -f /tmp/crigate-format.$$
  die "C++ files are not clang-format clean; run: git ls-files '*.cc' '*.h' | xargs clang-format -i"
fi
rm -f /tmp/crigate-format.$$
log "every C++ file is clang-format clean"
