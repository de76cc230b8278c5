#!/usr/bin/env bash
# The house's floors, checked: which folder's code may include which of the
# project's headers. Every #include is read, however it is spaced; an
# angle-bracket one is checked too when it names a project folder or the
# generated CRI headers (they resolve through the same -I).
#
#   policy/base/   only itself (the bottom floor)
#   shim/          itself and policy/base/
#   monitor/       itself, policy/base/ and the generated CRI headers
#   policy/        itself (cloud/ and base/ included) and the shim's library
#                  (shim/approval.h, approval_store.h, runtime_spec.h)
#   cri/h2/        itself and policy/base/ (gRPC's wire rules: no grpc++)
#   cri/           itself and cri/h2/ but not cri/daemon/, the generated CRI
#                  headers, policy/base/, and policy's face for the front
#                  end: gate.h, actions.h, token.h, audit_record.h
#   cri/daemon/    anything: it is the one place that knows every part
#   test/          anything
# Tests and test helpers (*_test.cc, testing.*, testing/) may also include
# the test helpers of the parts below them, and the generated CRI headers
# (to drive their code with a real gRPC client or server).
#
# Usage: scripts/check-layering.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$CRIGATE_REPO_ROOT"

readonly generated='cri_subset\.(grpc\.)?pb\.h'
readonly helpers='policy/testing\.h|policy/cloud/testing/[a-z_]+\.h|monitor/testing\.h|testing\.h'
readonly shim_library='shim/(approval|approval_store|runtime_spec)\.h'
readonly policy_face='policy/(gate|actions|token|audit_record)\.h'

# The allowed includes of a file, as one extended regex.
allowed_for() {
  local file=$1 allowed
  case $file in
    policy/base/*) allowed='policy/base/[a-z_0-9]+\.h' ;;
    shim/*) allowed='(shim|policy/base)/[a-z_0-9]+\.h' ;;
    monitor/*) allowed="[a-z_0-9]+\\.h|policy/base/[a-z_0-9]+\\.h|$generated" ;;
    policy/*) allowed="policy/[a-z_0-9/]+\\.h|$shim_library" ;;
    cri/daemon/* | test/*) allowed='.*' ;;
    cri/h2/*) allowed='(cri/h2|policy/base)/[a-z_0-9]+\.h' ;;
    cri/*) allowed="cri/(h2/)?[a-z_0-9]+\\.h|$generated|policy/base/[a-z_0-9]+\\.h|$policy_face" ;;
    *) allowed='.*' ;;
  esac
  case $file in
    *_test.cc | */testing.h | */testing.cc | */testing/*) allowed="$allowed|$helpers|$generated" ;;
  esac
  printf '%s' "$allowed"
}

bad=0
while IFS= read -r file; do
  allowed=$(allowed_for "$file")
  while IFS=: read -r line include; do
    header=${include:1}
    # <...> is a system header unless it names one of the project's.
    if [[ ${include:0:1} == '<' && ! $header =~ ^(cri|policy|monitor|shim|test)/|^$generated$ ]]; then
      continue
    fi
    if [[ ! $header =~ ^($allowed)$ ]]; then
      printf '  %s:%s includes "%s"\n' "$file" "$line" "$header"
      bad=1
    fi
  done < <(grep -n -oP '^\s*#\s*include\s*\K[<"][^">]+' "$file" || true)
done < <(git ls-files 'cri/*.cc' 'cri/*.h' 'policy/*.cc' 'policy/*.h' 'monitor/*.cc' 'monitor/*.h' \
  'shim/*.cc' 'shim/*.h')

[[ $bad -eq 0 ]] || die "includes that cross the layering above (scripts/check-layering.sh says which floor may use which)"
log "every include keeps to its floor"
