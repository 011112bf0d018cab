# Shared by the Pester files (dot-sourced in their BeforeDiscovery and BeforeAll blocks; not a test file itself).

# The manifest of the module under test: $env:VAETOOLS_MODULE (build.ps1 -Task Test sets it), else the build in out/.
function Get-VaeToolsManifest {
    $manifest = $env:VAETOOLS_MODULE
    if (-not $manifest) {
        $root = Split-Path $PSScriptRoot -Parent | Split-Path -Parent
        $version = (Import-PowerShellDataFile (Join-Path $root 'VaeTools.psd1')).ModuleVersion
        $manifest = Join-Path $root "out/VaeTools/$version/VaeTools.psd1"
    }
    if (-not (Test-Path $manifest)) { throw "The module is not built: '$manifest' is missing. Run ./build.ps1 -Task Build first." }
    (Resolve-Path $manifest).Path
}

# Imports the module under test (Get-VaeToolsManifest) afresh and returns its manifest path.
function Import-VaeToolsUnderTest {
    $manifest = Get-VaeToolsManifest
    Import-Module $manifest -Force -Global
    $manifest
}

# Whether the MNIST files are in the cache (the tests never download them).
function Test-MnistCached {
    $null -ne (Get-MnistData -Subset Test -Count 1 -NoDownload -ErrorAction SilentlyContinue)
}

# A new, empty temporary folder named after the test file ($Prefix-<guid>), made the current location; returns its path.
# The file's AfterAll pops the location and removes the folder.
function Enter-TestFolder([string] $Prefix) {
    $folder = Join-Path ([System.IO.Path]::GetTempPath()) ("$Prefix-" + [guid]::NewGuid())
    $null = New-Item -ItemType Directory -Path $folder
    Push-Location $folder
    $folder
}
