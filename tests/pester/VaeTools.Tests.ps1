#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Pester 5 tests of the built module: the quick-start pipelines, errors, help and formatting.
# Run with ./build.ps1 -Task Test (which builds the module first), or:
#   ./build.ps1 -Task Build; Invoke-Pester ./tests/pester
# The MNIST files must be on this machine already (they are never downloaded here): -Path, $env:VAETOOLS_DATA
# or the per-user cache; without them the tests that need data are skipped, saying so.

BeforeDiscovery {
    $script:haveData = $false
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $script:haveData = Test-MnistCached
    if (-not $script:haveData -and $env:CI -eq 'true') {
        throw 'MNIST is not on this machine, and in CI the data tests must run, not skip: bash .ci/install-tools.sh puts it in the cache.'
    }
    if (-not $script:haveData) {
        Write-Warning 'MNIST is not on this machine (-NoDownload found nothing): the pipeline tests are SKIPPED.'
    }
}

BeforeAll {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $work = Enter-TestFolder 'vaetools-pester'
}

AfterAll {
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The module' {
    It 'exports the fourteen cmdlets of the manifest' {
        $names = (Get-Command -Module VaeTools).Name | Sort-Object
        $names | Should -Be @('ConvertTo-Vae', 'Export-Vae', 'Export-VaePlot', 'Get-Cifar10Data', 'Get-MnistData', 'Get-VaeEncoding', 'Get-VaeToyData', 'Import-Vae',
            'Invoke-VaeTraining', 'Measure-ReconstructionError', 'Measure-VaeLatent', 'New-PpcaModel', 'New-Vae', 'New-VaeSample')
    }

    It 'has offline help with at least two examples for <_>' -ForEach @('Get-MnistData', 'New-Vae', 'Invoke-VaeTraining',
        'Get-VaeEncoding', 'New-VaeSample', 'Measure-ReconstructionError', 'Export-Vae', 'Import-Vae', 'Get-VaeToyData',
        'Measure-VaeLatent', 'Export-VaePlot', 'New-PpcaModel', 'ConvertTo-Vae') {
        $help = Get-Help $_ -Full
        $help.Synopsis | Should -Not -BeNullOrEmpty
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
    }

    It 'parses every PowerShell file of the repository with PowerShell''s own parser' {
        $skip = '[\\/](\.git|out|bin|obj|node_modules)[\\/]'
        $files = Get-ChildItem -Path $root -Recurse -File -Include '*.ps1', '*.psm1', '*.psd1' |
            Where-Object { $_.FullName.Substring($root.Length) -notmatch $skip }
        $files.Name | Should -Contain "build.ps1"
        $files.Name | Should -Contain "VaeTools.psd1"
        $problems = foreach ($file in $files) {
            $errors = $null
            $null = [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref] $null, [ref] $errors)
            foreach ($e in $errors) { '{0}:{1}:{2}: {3}' -f $file.FullName, $e.Extent.StartLineNumber, $e.Extent.StartColumnNumber, $e.Message }
        }
        $problems | Should -BeNullOrEmpty
    }

    It 'has the about topic' {
        Get-Help about_VaeTools | Out-String | Should -Match 'Invoke-VaeTraining'
    }

    It 'formats a model as a table with its architecture' {
        New-Vae -LatentDim 2 -HiddenDim 8 -Seed 1 | Format-Table | Out-String | Should -Match 'Architecture'
    }

    It 'creates a model sized to the data piped in' {
        $model = [VaeTools.Data.TensorDataset]::new([VaeTools.Engine.Tensor]::new(4, 16)) | New-Vae -HiddenDim 8 -LatentDim 2
        $model.Config.InputDim | Should -Be 16
    }

    It 'rejects values outside a ValidateSet or ValidateRange' {
        { New-Vae -Activation Gelu } | Should -Throw -ErrorId 'ParameterArgumentValidationError,VaeTools.PowerShell.Commands.NewVaeCommand'
        { New-Vae -LatentDim 0 } | Should -Throw -ErrorId 'ParameterArgumentValidationError,VaeTools.PowerShell.Commands.NewVaeCommand'
    }
}

Describe 'Model files' {
    It 'round-trips a model through Export-Vae and Import-Vae' {
        $vae = New-Vae -LatentDim 3 -HiddenDim 8 -Seed 5
        $vae | Export-Vae -Path model.safetensors
        $back = Import-Vae model.safetensors
        $back.Config.ToString() | Should -Be $vae.Config.ToString()
        $back.ParameterCount | Should -Be $vae.ParameterCount
    }

    It 'writes nothing with -WhatIf' {
        New-Vae -HiddenDim 8 | Export-Vae -Path whatif.safetensors -WhatIf
        Test-Path whatif.safetensors | Should -BeFalse
    }

    It 'reports a truncated file as InvalidData naming the file' {
        New-Vae -HiddenDim 8 | Export-Vae -Path whole.safetensors
        $bytes = [System.IO.File]::ReadAllBytes((Join-Path $PWD 'whole.safetensors'))
        [System.IO.File]::WriteAllBytes((Join-Path $PWD 'half.safetensors'), $bytes[0..($bytes.Length / 2)])
        $result = Import-Vae half.safetensors -ErrorVariable problems -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $problems[0].FullyQualifiedErrorId | Should -Be 'ModelFileInvalid,VaeTools.PowerShell.Commands.ImportVaeCommand'
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $problems[0].TargetObject | Should -BeLike '*half.safetensors'
    }

    It 'reports a missing file as ObjectNotFound' {
        Import-Vae absent.safetensors -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }
}

Describe 'The toolkit without MNIST' {
    BeforeAll {
        $toy = Get-VaeToyData -Count 400 -Rotated -Seed 1
        $vae = $toy | New-Vae -LatentDim 2 -HiddenDim 16 -Likelihood GaussianPerDimensionVariance -Seed 2 |
            Invoke-VaeTraining -Data $toy -Epochs 2 -BatchSize 100 -Objective Iwae -Samples 3 -KlWarmupEpochs 2
    }

    It 'gets the toy data as a two-column data set' {
        $toy | Should -BeOfType ([VaeTools.Data.TensorDataset])
        $toy.Count | Should -Be 400
        $toy.Features | Should -Be 2
        (New-Vae -InputDim 2 -HiddenDim 8).Config.InputDim | Should -Be 2
    }

    It 'builds every likelihood and the prior options' -ForEach @('Bernoulli', 'GaussianSharedVariance', 'GaussianPerDimensionVariance', 'GaussianUnitVariance') {
        (New-Vae -InputDim 4 -HiddenDim 8 -Likelihood $_ -Prior Laplace -LaplaceScale 0.5).Config.Likelihood | Should -Be $_
    }

    It 'trains with the IWAE bound and a warm-up' {
        $vae.History.Count | Should -Be 2
        $vae.History[0].Beta | Should -BeLessThan 1
    }

    It 'measures the latent dimensions' {
        $dims = @($vae | Measure-VaeLatent -Data $toy)
        $dims.Count | Should -Be 2
        $dims[1].Dimension | Should -Be 2
        $dims | Format-Table | Out-String | Should -Match 'MeanVariance'
    }

    It 'exports and imports a model trained with the IWAE bound (its history holds no KL)' {
        $vae | Export-Vae -Path iwae.safetensors
        $back = Import-Vae iwae.safetensors
        $back.History.Count | Should -Be $vae.History.Count
        $back.History[-1].TrainLoss | Should -Be $vae.History[-1].TrainLoss
    }

    It 'splits one toy draw 70/30 with -Subset Train and Test' {
        $all = Get-VaeToyData -Count 1000 -Rotated -Seed 4
        $train = Get-VaeToyData -Count 1000 -Rotated -Seed 4 -Subset Train
        $test = Get-VaeToyData -Count 1000 -Rotated -Seed 4 -Subset Test
        $train.Count | Should -Be 700
        $test.Count | Should -Be 300
        $test.Data[0, 1] | Should -Be $all.Data[700, 1]
        { Get-VaeToyData -Subset Validation } | Should -Throw -ErrorId 'ParameterArgumentValidationError,VaeTools.PowerShell.Commands.GetVaeToyDataCommand'
    }

    It 'does not count a unit as active below -KlThreshold nats' {
        $dims = @($vae | Measure-VaeLatent -Data $toy -Threshold 0 -KlThreshold 1e6)
        $dims.Active | Should -Not -Contain $true
        $dims[0].KlThreshold | Should -Be 1e6
        @($vae | Measure-VaeLatent -Data $toy -Threshold 0 -KlThreshold 0 | Where-Object Active).Count | Should -Be 2
    }

    It 'adds the log-likelihood with -ImportanceSamples' {
        $m = $vae | Measure-ReconstructionError -Data $toy -ImportanceSamples 20
        $m.LogLikelihood | Should -Not -BeNullOrEmpty
        $m.LogLikelihoodStandardError | Should -BeGreaterThan 0
        $m.ImportanceSamples | Should -Be 20
        ($vae | Measure-ReconstructionError -Data $toy).LogLikelihood | Should -BeNullOrEmpty
    }

    It 'decodes a quantile grid and an interpolation between rows' {
        @($vae | New-VaeSample -Grid 5).Count | Should -Be 25
        $line = $vae | New-VaeSample -From 0 -To 1 -Data $toy -Steps 4 -AsTensor
        $line.Rows | Should -Be 4
    }

    It 'refuses a grid over a latent space that is not 2-D' {
        $three = New-Vae -InputDim 4 -HiddenDim 8 -LatentDim 3
        $three | New-VaeSample -Grid 5 -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'GridNeedsTwoDimensions,*'
    }

    It 'writes the learning curve as SVG and honours -WhatIf' {
        $vae | Export-VaePlot -Kind LearningCurve -Path curve.svg
        ([xml](Get-Content -Raw curve.svg)).svg | Should -Not -BeNullOrEmpty
        $vae | Export-VaePlot -Kind LearningCurve -Path whatif.svg -WhatIf
        Test-Path whatif.svg | Should -BeFalse
    }

    It 'reports encoding with a decoder-only model as InvalidOperation saying why' {
        $decoderOnly = New-Vae -InputDim 2 -HiddenDim 8 -LatentDim 2 -DecoderOnly -PriorSamples 3
        $decoderOnly.Config.PriorSamples | Should -Be 3
        { $toy | Get-VaeEncoding -Model $decoderOnly -ErrorAction Stop } | Should -Throw -ErrorId 'DecoderOnlyModel,VaeTools.PowerShell.Commands.GetVaeEncodingCommand'
        $decoderOnly | Measure-VaeLatent -Data $toy -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        $problems[0].Exception.Message | Should -Match 'no encoder'
    }
}

Describe 'PPCA and the mean-image baseline' -Skip:(-not $haveData) {
    BeforeAll {
        $train = Get-MnistData -Subset Train -Count 5000 -NoDownload
        $test = Get-MnistData -Subset Test -Count 1000 -NoDownload
        $ppca = $train | New-PpcaModel -LatentDim 2 -Seed 3
    }

    It 'fits PPCA as a model with no hidden layers and a shared-variance Gaussian decoder' {
        $ppca | Should -BeOfType ([VaeTools.Model.VaeModel])
        $ppca.Config.HiddenDims.Count | Should -Be 0
        $ppca.Config.Likelihood | Should -Be 'GaussianSharedVariance'
        $ppca.Config.LatentDim | Should -Be 2
        $verbose = $train | New-PpcaModel -LatentDim 2 -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        "$verbose" | Should -Match 'noise variance sigma\^2 = '
    }

    It 'reports its exact log-likelihood without importance samples, which its ELBO matches (the posterior is exact)' {
        $m = $ppca | Measure-ReconstructionError -Data $test
        [math]::Abs($m.Elbo - $m.LogLikelihood) | Should -BeLessThan 0.5
        $m.ImportanceSamples | Should -BeNullOrEmpty
        $m.LogLikelihoodStandardError | Should -BeGreaterThan 0
    }

    It 'beats the mean-image baseline, measured with -MeanImageOf from the pipeline too' {
        $mean = $test | Measure-ReconstructionError -MeanImageOf $train
        $mean | Should -BeOfType ([VaeTools.Analysis.ReconstructionMetrics])
        $fit = $ppca | Measure-ReconstructionError -Data $test
        $fit.MeanSquaredError | Should -BeLessThan ($mean.MeanSquaredError - 5)
        $fit.LogLikelihood | Should -BeGreaterThan $mean.LogLikelihood
        @(Measure-ReconstructionError -Data $test -MeanImageOf $train -ByClass).Count | Should -Be 10
    }

    It 'encodes, samples, exports and imports like any model' {
        $codes = @($test | Get-VaeEncoding -Model $ppca)
        $codes.Count | Should -Be 1000
        @($ppca | New-VaeSample -Count 4).Count | Should -Be 4
        $ppca | Export-Vae -Path ppca.safetensors
        (Import-Vae ppca.safetensors | Measure-ReconstructionError -Data $test).LogLikelihood |
            Should -Be ($ppca | Measure-ReconstructionError -Data $test).LogLikelihood
    }

    It 'refuses a latent size that leaves no noise, naming the limit' {
        $toy = Get-VaeToyData -Count 50 -Seed 1
        $toy | New-PpcaModel -LatentDim 2 -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -Be 'LatentDimTooLarge,VaeTools.PowerShell.Commands.NewPpcaModelCommand'
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $problems[0].Exception.Message | Should -Match 'at most 1'
    }
}

Describe 'The quick-start pipelines' -Skip:(-not $haveData) {
    BeforeAll {
        # The quick start's pipelines on part of MNIST and a smaller model, so the suite stays quick.
        $train = Get-MnistData -Subset Train -Count 2000 -NoDownload
        $test = Get-MnistData -Subset Test -Count 500 -NoDownload
        $vae = New-Vae -LatentDim 2 -HiddenDim 64 -Seed 3 | Invoke-VaeTraining -Data $train -ValidationData $test -Epochs 2 -BatchSize 100
    }

    It 'loads one data set object per subset' {
        $train | Should -BeOfType ([VaeTools.Data.MnistDataset])
        $train.Count | Should -Be 2000
        $test.Count | Should -Be 500
    }

    It 'trains and keeps a history ready for Export-Csv' {
        $vae.History.Count | Should -Be 2
        $vae.History | Export-Csv history.csv
        $rows = Import-Csv history.csv
        $rows.Count | Should -Be 2
        [double]$rows[1].TestLoss | Should -BeGreaterThan 0
    }

    It 'measures the reconstruction error' {
        $m = $vae | Measure-ReconstructionError -Data $test
        $m.Count | Should -Be 500
        $m.MeanSquaredError | Should -BeGreaterThan 0
        @($vae | Measure-ReconstructionError -Data $test -ByClass).Count | Should -Be 10
    }

    It 'encodes the test set into a CSV of codes' {
        $test | Get-VaeEncoding -Model $vae | Export-Csv codes.csv
        $rows = Import-Csv codes.csv
        $rows.Count | Should -Be 500
        $rows[0].PSObject.Properties.Name | Should -Contain 'Z2'
    }

    It 'encodes streamed image objects' {
        $codes = Get-MnistData -Subset Test -Count 20 -AsImage -NoDownload | Where-Object Label -EQ 1 | Get-VaeEncoding -Model $vae
        $codes | ForEach-Object { $_.Label | Should -Be 1 }
    }

    It 'writes a PNG grid of samples' {
        $vae | New-VaeSample -Count 100 -OutFile samples.png
        $bytes = [System.IO.File]::ReadAllBytes((Join-Path $PWD 'samples.png'))
        $bytes[1..3] | Should -Be @(0x50, 0x4E, 0x47) # "PNG"
        $vae | New-VaeSample -Count 4 -OutFile none.png -WhatIf
        Test-Path none.png | Should -BeFalse
    }

    It 'shows decoder means by default and drawn pixels with -SamplePixels' {
        $means = @($vae | New-VaeSample -Count 5 -Seed 2)
        $means[0].Pixels | Where-Object { $_ -gt 0 -and $_ -lt 1 } | Should -Not -BeNullOrEmpty
        $pixels = @($vae | New-VaeSample -Count 5 -Seed 2 -SamplePixels)
        $pixels.Pixels | Where-Object { $_ -ne 0 -and $_ -ne 1 } | Should -BeNullOrEmpty
        { $vae | New-VaeSample -SamplePixels -MeanImage -ErrorAction Stop } | Should -Throw -ErrorId 'AmbiguousPixels,VaeTools.PowerShell.Commands.NewVaeSampleCommand'
    }

    It 'writes the same samples picture from New-VaeSample -OutFile and Export-VaePlot Samples' {
        $vae | New-VaeSample -Count 30 -Seed 4 -OutFile a.png
        $vae | Export-VaePlot Samples b.png -Count 30 -Seed 4
        (Get-FileHash a.png).Hash | Should -Be (Get-FileHash b.png).Hash
    }

    It 'draws posterior samples of piped-in images, each row led by its image' {
        $few = Get-MnistData -Subset Test -Count 3 -NoDownload
        $samples = @($vae | New-VaeSample -PosteriorOf $few -Count 4 -Seed 1)
        $samples.Count | Should -Be 12
        ($samples | Group-Object Index).Count | Should -Be 3
        $samples[0].Label | Should -Be 7 # the first test digit
        $vae | New-VaeSample -PosteriorOf $few -OutFile posterior.png
        Test-Path posterior.png | Should -BeTrue
    }

    It 'draws a grid of data images piped in, with no model' {
        Get-MnistData -Subset Test -Count 20 -NoDownload | Export-VaePlot Data digits.png -Columns 5 -PassThru |
            Should -BeOfType ([System.IO.FileInfo])
        { Export-VaePlot Samples x.png -ErrorAction Stop } | Should -Throw -ErrorId 'MissingModel,VaeTools.PowerShell.Commands.ExportVaePlotCommand'
    }

    It 'draws train and test encodings side by side' {
        $vae | Export-VaePlot Latent both.svg -Data $test -TrainData $train
        $svg = [xml](Get-Content both.svg -Raw)
        @($svg.SelectNodes('//*[local-name()="g" and @class="panel"]')).Count | Should -Be 2
    }

    It 'runs -OnEpoch after every epoch, stops early on $false and keeps per-batch records' {
        $seen = [System.Collections.Generic.List[int]]::new()
        $m = New-Vae -LatentDim 2 -HiddenDim 32 -Seed 5 | Invoke-VaeTraining -Data $train -Epochs 4 -BatchSize 200 -LogInterval 3 -OnEpoch {
            param($model, $epoch)
            $seen.Add($epoch.Epoch)
            $model | New-VaeSample -Count 4 -Seed 1 -OutFile ('epoch-{0}.png' -f $_.Epoch)
            $epoch.Epoch -lt 2
        }
        $seen | Should -Be @(1, 2)
        $m.History.Count | Should -Be 2
        Test-Path epoch-1.png, epoch-2.png | Should -Be @($true, $true)
        $m.BatchHistory.Count | Should -Be 8 # 10 batches an epoch: records at 3, 6, 9, 10
        $m.BatchHistory[-1].Step | Should -Be 20
        $m | Export-VaePlot LearningCurve steps.svg -PerBatch
        Test-Path steps.svg | Should -BeTrue
    }

    It 'reports an error thrown by -OnEpoch and keeps the epoch it saw' {
        $m = New-Vae -LatentDim 2 -HiddenDim 32 -Seed 5
        $m | Invoke-VaeTraining -Data $train -Epochs 3 -BatchSize 500 -OnEpoch { throw 'no space left' } -ErrorVariable problems -ErrorAction SilentlyContinue | Out-Null
        $problems[0].FullyQualifiedErrorId | Should -Be 'EpochHookFailed,VaeTools.PowerShell.Commands.InvokeVaeTrainingCommand'
        $problems[0].Exception.Message | Should -Match 'no space left'
        $m.History.Count | Should -Be 1
    }

    It 'exports, imports and trains further' {
        $vae | Export-Vae -Path mnist.safetensors
        $more = Import-Vae mnist.safetensors | Invoke-VaeTraining -Data $train -Epochs 1 -BatchSize 100
        $more.History.Count | Should -Be 3
    }

    It 'trains a class subset piped in with a seeded model' {
        $model = Get-MnistData -Classes 0, 1, 4, 9 -Count 500 -NoDownload | Invoke-VaeTraining -Model (New-Vae -Seed 7 -HiddenDim 32) -Epochs 2 -BatchSize 100
        $model.History.Count | Should -Be 2
        $model.Config.Seed | Should -Be 7
    }

    It 'writes every kind of picture' -ForEach @(
        @{ Kind = 'Latent'; File = 'latent.svg' }, @{ Kind = 'LearningCurve'; File = 'curve.png' },
        @{ Kind = 'ReconstructionError'; File = 'errors.svg' }, @{ Kind = 'Reconstruction'; File = 'pairs.png' },
        @{ Kind = 'Samples'; File = 'samples-plot.png' }) {
        $file = $vae | Export-VaePlot -Kind $Kind -Path $File -Data $test -PassThru
        $file.Length | Should -BeGreaterThan 0
    }

    It 'draws the manifold over the test encodings and an interpolation between two images' {
        $vae | New-VaeSample -Grid 20 -Data $test -OutFile manifold.png
        Test-Path manifold.png | Should -BeTrue
        $a, $b = Get-MnistData -Subset Test -AsImage -Count 2 -NoDownload
        @($vae | New-VaeSample -From $a -To $b -Steps 10).Count | Should -Be 10
    }

    It 'estimates the log-likelihood per digit' {
        $byDigit = @($vae | Measure-ReconstructionError -Data $test -ByClass -ImportanceSamples 10)
        $byDigit.Count | Should -Be 10
        $byDigit | ForEach-Object { $_.LogLikelihood | Should -BeLessThan 0 }
    }

    It 'reports data of another width as InvalidArgument' {
        $odd = [VaeTools.Data.TensorDataset]::new([VaeTools.Engine.Tensor]::new(4, 16))
        $vae | Invoke-VaeTraining -Data $odd -Epochs 1 -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'WidthMismatch,*'
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
    }
}
