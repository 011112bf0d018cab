#!/usr/bin/env bash
# The test command (README, "Tests"): the xunit suite, then the Pester suite against the built module.
# Both must run: a missing pwsh or Pester is a failure, not a skip (bash .ci/install-tools.sh installs them).
# Results: out/test-results/ (xunit .trx, Pester JUnit XML).
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:$HOME/.dotnet/tools"
results="$PWD/out/test-results"
dotnet test VaeTools.slnx -c Release --nologo --logger "trx;LogFilePrefix=xunit" --results-directory "$results" "$@"
if ! command -v pwsh >/dev/null 2>&1; then
  echo "test.sh: pwsh is not on PATH, so the Pester suite cannot run. Install it (and Pester) with: bash .ci/install-tools.sh" >&2
  exit 1
fi
pwsh -NoProfile -NonInteractive -File ./build.ps1 -Task Test -SkipUnitTests
