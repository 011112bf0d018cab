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
