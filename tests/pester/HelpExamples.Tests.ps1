#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Every example of every cmdlet's help (Get-Help <cmdlet> -Full, read from the MAML file of the built module) runs,
# one It per example, in a temporary directory of its own, and the files it names are written (or, with -WhatIf,
# are not). The examples' variables ($train, $test, $vae) are set up once: $vae is a small trained 2-D model.
# To keep CI quick, data sizes and epochs are capped through $PSDefaultParameterValues (Get-MnistData:Count and
# Invoke-VaeTraining:Epochs), which only applies where an example does not give the value itself.

BeforeDiscovery {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $script:haveData = Test-MnistCached
    if (-not $script:haveData) {
        Write-Warning 'MNIST is not on this machine (-NoDownload found nothing): the help examples are SKIPPED.'
    }
    $script:examples = foreach ($command in Get-Command -Module VaeTools | Sort-Object Name) {
        $number = 0
        foreach ($example in (Get-Help $command.Name -Full).Examples.Example) {
            $number++
            @{
                Cmdlet = $command.Name
                Number = $number
                Title  = ($example.title -replace '^-+\s*Example \d+:\s*' -replace '\s*-+$')
                Code   = [string]$example.code
            }
        }
    }
}

BeforeAll {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $work = Enter-TestFolder 'vaetools-pester-help'

    # The variables the examples use. Small, so that the examples that train or sample stay quick.
    if (Test-MnistCached) {
        $train = Get-MnistData -Subset Train -Count 500 -NoDownload
        $test = Get-MnistData -Subset Test -Count 100 -NoDownload
        $vae = New-Vae -LatentDim 2 -HiddenDim 32 -Seed 1 | Invoke-VaeTraining -Data $train -Epochs 1 -BatchSize 100
    }

    # Examples that import VaeTools by name find the built module (restored in AfterAll: other files test without it).
    $savedModulePath = $env:PSModulePath
    $env:PSModulePath = (Split-Path (Split-Path (Split-Path (Resolve-Path $manifest).Path))) + [IO.Path]::PathSeparator + $env:PSModulePath

    # CIFAR-10 is in no package source here and tests never download: the CIFAR examples read generated batches of the
    # official size (10,000 records of 1 label byte + 3072 pixel bytes each), random pixels, labels 0..9 in turn.
    $cifar = Join-Path $work 'cifar10'
    $null = New-Item -ItemType Directory -Path (Join-Path $cifar 'cifar-10-batches-bin')
    $batch = [byte[]]::new(10000 * 3073)
    [System.Random]::new(7).NextBytes($batch)
    for ($i = 0; $i -lt 10000; $i++) { $batch[$i * 3073] = [byte]($i % 10) }
    foreach ($name in 'data_batch_1', 'data_batch_2', 'data_batch_3', 'data_batch_4', 'data_batch_5', 'test_batch') {
        [IO.File]::WriteAllBytes((Join-Path $cifar "cifar-10-batches-bin/$name.bin"), $batch)
    }

    # The file names an example mentions (literal names; wildcards are inputs, not outputs).
    function Get-ExampleFile([string] $Code) {
        [regex]::Matches($Code, '[\w./-]+\.(?:png|svg|csv|safetensors)\b') | ForEach-Object Value | Where-Object { $_ -notmatch '[*?]' } | Select-Object -Unique
    }

    # What some examples say they give, beyond running: keyed by 'Cmdlet #n', given the example's output.
    $claims = @{
        'Export-Vae #2'                  = { param($out) $out.Name | Should -Contain 'mnist.safetensors' }
        'Get-MnistData #1'               = { param($out) $out | Should -BeNullOrEmpty } # two assignments
        'Get-MnistData #2'               = { param($out) ($out.Count -gt 0) | Should -BeTrue; $out | Should -BeOfType ([VaeTools.Data.MnistDataset]) }
        'Get-MnistData #3'               = { param($out) @($out).Count | Should -Be 5; $out | ForEach-Object { $_.Label | Should -Be 7; $_.MeanPixel | Should -BeGreaterThan 0.2 } }
        'Get-VaeEncoding #1'             = { param($out) (Import-Csv codes.csv).Count | Should -Be $test.Count }
        'Get-VaeEncoding #2'             = { param($out) @($out).Count | Should -Be 10; $out[0].Label | Should -Not -BeNullOrEmpty }
        'Get-VaeEncoding #3'             = { param($out) $codes.Rows | Should -Be $test.Count; $codes.Cols | Should -Be 2 }
        'Get-VaeEncoding #4'             = { param($out) $out[0] | Should -Be 'TorchSharp.torch+Tensor'; "$($out[1])" | Should -Be 'cpu'; $codes.IsInvalid | Should -BeTrue } # disposed
        'Get-VaeEncoding #5'             = { param($out) @($out).Count | Should -Be 3; $out[0].Z1 | Should -Not -BeNullOrEmpty }
        'Get-VaeToyData #1'              = { param($out) $flat.Count | Should -Be 5000; $tilted.Count | Should -Be 5000 }
        'Get-VaeToyData #2'              = { param($out) $train.Count | Should -Be 3500; $test.Count | Should -Be 1500 }
        'Get-VaeToyData #3'              = { param($out) @($out).Count | Should -Be 1; $out[0].Kl | Should -BeLessThan 0.5 }
        'Import-Vae #1'                  = { param($out) $out.History.Count | Should -Be ($vae.History.Count + 1) }
        'Import-Vae #2'                  = { param($out) @($out).Count | Should -Be 5 } # the models the test puts in models/
        'Import-Vae #3'                  = { param($out) @($out).Count | Should -Be 2 }
        'Import-Vae #4'                  = { param($out) $out.Engine | Should -Be 'Torch'; $out.Module | Should -BeOfType ([TorchSharp.torch+nn+Module]) }
        'ConvertTo-Vae #1'               = { param($out) $out | Should -Contain 'encoder.hidden.0.weight'; $torchVae.Engine | Should -Be 'Torch' }
        'ConvertTo-Vae #2'               = { param($out) $managed.Engine | Should -Be 'Managed'; $managed.Module | Should -BeNullOrEmpty }
        'Invoke-VaeTraining #1'          = { param($out) (Import-Csv history.csv).Count | Should -Be 5 }
        'Invoke-VaeTraining #2'          = { param($out) $out.History.Count | Should -Be 2; $out.Config.Seed | Should -Be 7 }
        'Invoke-VaeTraining #4'          = { param($out) $vae.History.Count | Should -Be 10; $vae.History[-1].TrainLoss | Should -BeGreaterThan 0 }
        'Invoke-VaeTraining #5'          = { param($out) $vae.History.Count | Should -Be 30; $vae.History[0].Beta | Should -BeLessThan 1 }
        'Measure-ReconstructionError #1' = { param($out) @($out).Count | Should -Be 1; $out[0].Count | Should -Be $test.Count }
        'Measure-ReconstructionError #2' = { param($out) @($out).Count | Should -Be 10; $out[0].MeanSquaredError | Should -BeGreaterOrEqual $out[-1].MeanSquaredError }
        'Measure-ReconstructionError #3' = { param($out) $out.LogLikelihood | Should -BeGreaterThan $out.Elbo }
        'Measure-ReconstructionError #4' = { param($out) @($out).Count | Should -Be 10; $out[0].LogLikelihood | Should -BeLessOrEqual $out[-1].LogLikelihood }
        'Measure-VaeLatent #2'           = { param($out) $out | Should -BeGreaterThan 0 }
        'Measure-VaeLatent #3'           = { param($out) @($out).Count | Should -Be 2 }
        'New-Vae #1'                     = { param($out) $vae.Config.InputDim | Should -Be 784; $vae.Config.LatentDim | Should -Be 20 }
        'New-Vae #2'                     = { param($out) $vae.Config.HiddenDims | Should -Be @(512, 256) }
        'New-Vae #3'                     = { param($out) $out.Config.InputDim | Should -Be 784; $out.Config.LatentDim | Should -Be 8 }
        'New-Vae #5'                     = { param($out) $out.Config.DecoderOnly | Should -BeTrue; $out.Config.PriorSamples | Should -Be 20 }
        'New-Vae #7'                     = { param($out) $out.Config.InputDim | Should -Be 2 }
        'New-Vae #8'                     = { param($out) $vae.Engine | Should -Be 'Torch'; $vae.History.Count | Should -BeGreaterThan 0 }
        'New-Vae #9'                     = { param($out) $vae.Config.Architecture | Should -Be 'Conv'; $vae.History.Count | Should -Be 2; $vae.Config.ConvChannels | Should -Be @(32, 64) }
        'New-Vae #10'                    = { param($out) @($out).Count | Should -Be 3; $out[0].Architecture | Should -Be '3x32x32-conv32-64k4-64 Relu GaussianSharedVariance'; $models[2].Config.Beta | Should -Be 4 }
        'New-VaeSample #3'               = { param($out) @($out).Count | Should -Be 10; $out[0].Z1 | Should -Not -BeNullOrEmpty }
        'New-VaeSample #7'               = { param($out) $out.Rows | Should -Be 12; $out.Cols | Should -Be 784 }
    }
}

AfterAll {
    $env:PSModulePath = $savedModulePath
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The help examples' -Skip:(-not $haveData) {
    It 'finds examples in the help of every cmdlet' {
        ($examples.Cmdlet | Select-Object -Unique).Count | Should -Be (Get-Command -Module VaeTools).Count
        $examples.Count | Should -BeGreaterOrEqual 22
    }

    It '<Cmdlet> example <Number> runs: <Title>' -ForEach $examples {
        $dir = Join-Path $work "$Cmdlet-$Number"
        $null = New-Item -ItemType Directory -Path $dir
        Push-Location $dir
        try {
            # Inputs an example reads: a model file, and a folder of models.
            $inputs = @()
            if ($Code -match 'Import-Vae') {
                $vae | Export-Vae -Path mnist.safetensors
                $null = New-Item -ItemType Directory models
                $vae | Export-Vae -Path models/a.safetensors
                $vae | Export-Vae -Path models/b.safetensors
                $vae | Export-Vae -Path models/run-1.safetensors
                $vae | Export-Vae -Path models/run-2.safetensors
                $vae | Export-Vae -LiteralPath 'models/[best].safetensors'
                $inputs = @('mnist.safetensors')
            }
            if ($Cmdlet -eq 'Measure-ReconstructionError' -and $Number -eq 3) {
                # 5000 importance samples per image: ten test images keep this example to a second or two.
                $test = Get-MnistData -Subset Test -Count 10 -NoDownload
            }
            $run = $Code
            $python = $run -match '(?m)^python '
            if ($python) {
                # The Python line needs the safetensors package; where it is missing, the header is read here instead.
                & python -c 'import safetensors.numpy' 2>$null
                $havePython = $LASTEXITCODE -eq 0
                if (-not $havePython) { $run = ($run -split "`n" | Where-Object { $_ -notmatch '^python ' }) -join "`n" }
            }

            $PSDefaultParameterValues = @{
                'Get-MnistData:Count'      = 300
                'Get-MnistData:NoDownload' = $true
                'Invoke-VaeTraining:Epochs' = 1
                'Get-Cifar10Data:Path'     = $cifar
                'Get-Cifar10Data:Count'    = 300
                'Get-Cifar10Data:NoDownload' = $true
            }
            if ($Code -match '-UntilEpoch') {
                # -Epochs and -UntilEpoch exclude each other; the example's total runs on the capped data.
                $PSDefaultParameterValues.Remove('Invoke-VaeTraining:Epochs')
            }
            if ($Cmdlet -eq 'Get-Cifar10Data') {
                # An example that names its own -Path ./data finds the generated batches there.
                $null = New-Item -ItemType SymbolicLink -Path data -Target $cifar
            }
            if ($Cmdlet -eq 'Get-MnistData' -and $Number -eq 3) {
                # Only 9 of the 10000 test images are sevens this bright: this example reads the whole set (it stops at the fifth).
                $PSDefaultParameterValues.Remove('Get-MnistData:Count')
            }
            $ErrorActionPreference = 'Stop'
            $all = @(. ([scriptblock]::Create($run)) 3>&1 4>$null)
            $ErrorActionPreference = 'Continue'
            $warnings = @($all | Where-Object { $_ -is [System.Management.Automation.WarningRecord] })
            $out = @($all | Where-Object { $_ -isnot [System.Management.Automation.WarningRecord] } | Where-Object { $_ -isnot [string] -or -not $python })
            @($warnings | ForEach-Object Message) | Should -BeNullOrEmpty -Because 'a help example should not need a warning'

            foreach ($file in Get-ExampleFile $Code | Where-Object { $_ -notin $inputs }) {
                if ($Code -match '-WhatIf') {
                    Test-Path $file | Should -BeFalse -Because "-WhatIf writes nothing ($file)"
                } else {
                    Test-Path $file | Should -BeTrue -Because "the example writes $file"
                    (Get-Item $file).Length | Should -BeGreaterThan 0
                }
            }
            if ($python) {
                if ($havePython) {
                    $printed = & python -c "from safetensors.numpy import load_file; print(list(load_file('mnist.safetensors').keys()))"
                } else {
                    $bytes = [System.IO.File]::ReadAllBytes((Join-Path $PWD 'mnist.safetensors'))
                    $length = [BitConverter]::ToInt64($bytes, 0)
                    $printed = ([System.Text.Encoding]::UTF8.GetString($bytes, 8, $length) | ConvertFrom-Json).PSObject.Properties.Name
                }
                ($printed -join ' ') | Should -Match 'encoder\.\w+\.weight'
            }
            $claim = $claims["$Cmdlet #$Number"]
            if ($claim) { & $claim $out }
        } finally {
            Pop-Location
        }
    }
}
