#!/usr/bin/env bash
# The test command (README, "Tests"): the xunit suite, then Pester when pwsh is on PATH.
set -euo pipefail
cd "$(dirname "$0")"
dotnet test VaeTools.slnx -c Release --nologo "$@"
if command -v pwsh >/dev/null 2>&1; then
  pwsh -NoProfile -File ./build.ps1 -Task Test -SkipUnitTests
else
  echo "Pester: skipped (pwsh is not on PATH; the xunit suite above drives the cmdlet logic and checks the cmdlet metadata)."
fi
