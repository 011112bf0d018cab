#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests, packages and demonstrates the VaeTools module.
.DESCRIPTION
    Build    Publishes the cmdlet project and assembles an importable module folder:
             out/VaeTools/<version>/ with VaeTools.psd1, the dlls, the format file and the help.
    Test     Runs the xunit suite (unless -SkipUnitTests), then the Pester tests in tests/pester against the built
             module, writing out/test-results/pester-junit.xml. Fails when Pester 5 is missing or no test ran.
    Package  Build, then zips the module folder to out/VaeTools-<version>.zip.
    Demo     Build, then runs the quick-start pipeline and writes its CSV files, pictures and model to out/demo/.
.EXAMPLE
    ./build.ps1 -Task Build; Import-Module ./out/VaeTools/0.1.0/VaeTools.psd1
.EXAMPLE
    ./build.ps1 -Task Test, Package
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Package', 'Demo')]
    [string[]] $Task = @('Build'),

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Test: run only the Pester tests (test.sh has already run the xunit suite).
    [switch] $SkipUnitTests,

    # Build the Torch engine against TorchSharp-cuda-linux (libtorch with CUDA 12.8) instead of the CPU natives.
    [switch] $Cuda
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = $PSScriptRoot
$Version = (Import-PowerShellDataFile -Path (Join-Path $Root 'VaeTools.psd1')).ModuleVersion
$OutDir = Join-Path $Root 'out'
$ModuleDir = Join-Path $OutDir "VaeTools/$Version"

function Invoke-Native {
    param([string] $Command, [string[]] $Arguments)
    Write-Host "> $Command $($Arguments -join ' ')"
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "'$Command $($Arguments -join ' ')' failed with exit code $LASTEXITCODE." }
}

# The libtorch natives (CPU, or CUDA with -Cuda) for the host platform, beside TorchSharp.dll in runtimes/<rid>/native/
# (where TorchRuntime loads them). libtorch's Python binding and test back-ends, which the engine never loads, stay out.
# libLibTorchSharp.so arrives from publish already prepared for this host (build/TorchNatives.targets).
function Copy-TorchNatives {
    param([string] $PublishDir)
    $skip = '^lib(torch_python|jitbackend_test|torchbind_test|nnapi_backend|backend_with_compiler|aoti_custom_ops|shm)\.so$'
    $runtimes = Join-Path $PublishDir 'runtimes'
    foreach ($rid in 'linux-x64', 'win-x64', 'osx-arm64') {
        $native = Join-Path $runtimes "$rid/native"
        if (-not (Test-Path $native)) { continue }
        $files = Get-ChildItem -Path $native -File | Where-Object Name -NotMatch $skip
        if (-not ($files | Where-Object Name -Match 'torch_cpu')) { continue } # only TorchSharp's glue, no libtorch for this platform
        $target = Join-Path $ModuleDir "runtimes/$rid/native"
        $null = New-Item -ItemType Directory -Path $target -Force
        $files | Copy-Item -Destination $target
    }
}

function Invoke-BuildTask {
    $publishDir = Join-Path $OutDir "publish/$Configuration"
    $publishArgs = @('publish', (Join-Path $Root 'src/VaeTools.PowerShell/VaeTools.PowerShell.csproj'),
        '--configuration', $Configuration, '--output', $publishDir, '--nologo')
    if ($Cuda) {
        $publishArgs += '-p:VaeToolsCuda=true'
        Write-Host '> restoring TorchSharp-cuda-linux 0.107.0 (libtorch-cuda-12.8-linux-x64) for a CUDA build'
        & dotnet restore (Join-Path $Root 'src/VaeTools.PowerShell/VaeTools.PowerShell.csproj') -p:VaeToolsCuda=true --nologo
        if ($LASTEXITCODE -ne 0) {
            throw ("-Cuda: the CUDA packages TorchSharp-cuda-linux 0.107.0 and libtorch-cuda-12.8-linux-x64 could not be restored from " +
                "the configured NuGet sources (they are not served here). Add a source that has them, or build without -Cuda " +
                "(the CPU natives; the Torch engine then runs on -Device cpu).")
        }
    }
    Invoke-Native dotnet $publishArgs

    if (Test-Path $ModuleDir) { Remove-Item $ModuleDir -Recurse -Force }
    $null = New-Item -ItemType Directory -Path (Join-Path $ModuleDir 'en-US') -Force

    # PowerShell supplies System.Management.Automation itself; the package's copy is a compile-time stub.
    Get-ChildItem -Path $publishDir -Filter '*.dll' |
        Where-Object Name -NE 'System.Management.Automation.dll' |
        Copy-Item -Destination $ModuleDir
    Copy-TorchNatives -PublishDir $publishDir
    Copy-Item -Path (Join-Path $Root 'VaeTools.psd1') -Destination $ModuleDir
    Copy-Item -Path (Join-Path $Root 'module/VaeTools.Format.ps1xml') -Destination $ModuleDir
    Copy-Item -Path (Join-Path $Root 'module/VaeTools.Types.ps1xml') -Destination $ModuleDir
    Copy-Item -Path (Join-Path $Root 'module/en-US/*') -Destination (Join-Path $ModuleDir 'en-US')

    $required = @('VaeTools.PowerShell.dll', 'VaeTools.Core.dll', 'System.Numerics.Tensors.dll', 'VaeTools.Torch.dll', 'TorchSharp.dll')
    if ($IsLinux) { $required += 'runtimes/linux-x64/native/libLibTorchSharp.so', 'runtimes/linux-x64/native/libtorch_cpu.so' }
    $missing = $required |
        Where-Object { -not (Test-Path (Join-Path $ModuleDir $_)) }
    if ($missing) { throw "The module folder lacks $($missing -join ', ')." }
    Write-Host "Module assembled in $ModuleDir"
}

function Invoke-TestTask {
    if (-not $SkipUnitTests) {
        Invoke-Native dotnet @('test', (Join-Path $Root 'tests/VaeTools.Tests/VaeTools.Tests.csproj'), '--configuration', $Configuration, '--nologo')
    }

    $pester = Get-Module -ListAvailable -Name Pester | Where-Object { $_.Version.Major -ge 5 } | Sort-Object Version -Descending | Select-Object -First 1
    if (-not $pester) {
        throw 'Pester 5 is not installed, so the Pester tests in tests/pester cannot run. Install it with bash .ci/install-tools.sh (Pester 5.7.1 from NuGet) or Install-Module Pester -MinimumVersion 5.0.'
    }
    Invoke-BuildTask
    Import-Module $pester -Force
    $results = Join-Path $OutDir 'test-results'
    $null = New-Item -ItemType Directory -Path $results -Force
    $config = New-PesterConfiguration
    $config.Run.Path = Join-Path $Root 'tests/pester'
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $config.TestResult.Enabled = $true
    $config.TestResult.OutputFormat = 'JUnitXml'
    $config.TestResult.OutputPath = Join-Path $results 'pester-junit.xml'
    $env:VAETOOLS_MODULE = Join-Path $ModuleDir 'VaeTools.psd1'
    $run = Invoke-Pester -Configuration $config
    # The plain closing line CI reads; a run that executed nothing is a failure, not a pass.
    Write-Host "Pester: $($run.PassedCount) passed, $($run.FailedCount) failed, $($run.SkippedCount) skipped"
    if ($run.Result -ne 'Passed' -or $run.FailedCount -gt 0 -or $run.FailedContainersCount -gt 0) {
        throw "Pester run failed: $($run.FailedCount) tests and $($run.FailedContainersCount) containers failed (results in $($config.TestResult.OutputPath.Value))."
    }
    if ($run.PassedCount -eq 0) { throw 'Pester ran no test.' }
}

function Invoke-PackageTask {
    Invoke-BuildTask
    $zip = Join-Path $OutDir "VaeTools-$Version.zip"
    Compress-Archive -Path (Join-Path $OutDir 'VaeTools') -DestinationPath $zip -Force
    Write-Host "Package written to $zip"
}

function Invoke-DemoTask {
    Invoke-BuildTask
    $demo = Join-Path $OutDir 'demo'
    $null = New-Item -ItemType Directory -Path $demo -Force
    # A fresh process, so the module loads from the folder just built and not from an older copy.
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Join-Path $ModuleDir 'VaeTools.psd1')' -Force
Set-Location '$demo'
`$train = Get-MnistData -Subset Train
`$test  = Get-MnistData -Subset Test
`$vae = New-Vae -LatentDim 2 -Seed 1 | Invoke-VaeTraining -Data `$train -ValidationData `$test -Epochs 5 -Verbose
`$vae.History | Export-Csv history.csv
`$vae | Measure-ReconstructionError -Data `$test | Export-Csv reconstruction.csv
`$vae | Measure-ReconstructionError -Data `$test -ByClass | Export-Csv reconstruction-by-class.csv
`$test | Get-VaeEncoding -Model `$vae | Select-Object Index, Label, Z1, Z2 | Export-Csv codes.csv
`$vae | New-VaeSample -Count 100 -Seed 1 -OutFile samples.png
`$vae | New-VaeSample -Count 100 -Seed 1 -MeanImage -OutFile samples-mean.png
`$vae | Export-VaePlot Latent latent.svg -Data `$test
`$vae | Export-VaePlot LearningCurve learning-curve.svg
`$vae | Export-VaePlot ReconstructionError error-by-digit.svg -Data `$test
`$vae | Export-VaePlot Reconstruction reconstructions.png -Data `$test -Count 20
`$vae | New-VaeSample -Grid 20 -Data `$test -OutFile manifold.png
`$vae | Export-Vae -Path mnist.safetensors
Import-Vae mnist.safetensors | Invoke-VaeTraining -Data `$train -Epochs 1 | Export-Vae -Path mnist-6-epochs.safetensors
Get-ChildItem | Format-Table Name, Length
"@
    Invoke-Native (Get-Process -Id $PID).Path @('-NoProfile', '-NonInteractive', '-Command', $script)
    Write-Host "Demo output in $demo"
}

foreach ($t in $Task) {
    switch ($t) {
        'Build' { Invoke-BuildTask }
        'Test' { Invoke-TestTask }
        'Package' { Invoke-PackageTask }
        'Demo' { Invoke-DemoTask }
    }
}
