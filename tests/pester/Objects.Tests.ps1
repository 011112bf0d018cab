#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Pester 5 tests of the objects the cmdlets emit, as PowerShell users meet them: models and data sets that cross a
# process job (Start-Job, Import-Clixml), every displayed column a real property, table views that fit 80 columns,
# codes that export to CSV with one column per latent dimension, piped images encoded as they arrive, and the file
# cmdlets' -Path wildcards and -LiteralPath (issue 11). Run with ./build.ps1 -Task Test, or:
#   ./build.ps1 -Task Build; Invoke-Pester ./tests/pester/Objects.Tests.ps1

BeforeDiscovery {
    $script:haveData = $false
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $script:haveData = Test-MnistCached
    if (-not $script:haveData) {
        Write-Warning 'MNIST is not on this machine (-NoDownload found nothing): the MNIST object tests are SKIPPED.'
    }
    $script:cmdlets = @('Get-MnistData', 'New-Vae', 'Invoke-VaeTraining', 'Get-VaeEncoding', 'New-VaeSample', 'Measure-ReconstructionError',
        'Export-Vae', 'Import-Vae', 'Get-VaeToyData', 'Measure-VaeLatent', 'Export-VaePlot')
}

BeforeAll {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $work = Enter-TestFolder 'vaetools-objects'

    # Every weight of a model as one flat array (bitwise comparisons).
    function Get-Weight([VaeTools.Model.VaeModel] $Model) { $Model.Parameters | ForEach-Object { $_.Value.ToArray() } }

    # Lines of $InputObject formatted as the default table at 80 columns.
    function Get-TableLine($InputObject) { ($InputObject | Format-Table | Out-String -Width 80) -split "`r?`n" }

    # The text of a table's first column ($Width characters wide, as the view declares) over every row line: a wrapped
    # value's pieces joined, i.e. the value as shown.
    function Get-FirstColumnText([string[]] $Lines, [int] $Width) {
        $dash = [array]::IndexOf($Lines, ($Lines | Where-Object { $_ -match '^\s*-' } | Select-Object -First 1))
        ($Lines[($dash + 1)..($Lines.Count - 1)] | Where-Object { $_.Trim() } | ForEach-Object { $_.Substring(0, [Math]::Min($Width, $_.Length)) }) -join ''
    }

    $toy = Get-VaeToyData -Count 300 -Seed 1
}

AfterAll {
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Models, data sets, codes and metrics cross a process job' {
    It 'returns from Start-Job a usable model, bitwise the one the same training gives here' {
        $job = Start-Job {
            Import-Module $using:manifest
            $data = Get-VaeToyData -Count 300 -Seed 1
            $data | New-Vae -LatentDim 2 -HiddenDim 16 -Seed 4 | Invoke-VaeTraining -Data $data -Epochs 2 -BatchSize 100 -Seed 9 -ThrottleLimit 1
        }
        $back = $job | Receive-Job -Wait -AutoRemoveJob
        $back | Should -BeOfType ([VaeTools.Model.VaeModel])
        $here = $toy | New-Vae -LatentDim 2 -HiddenDim 16 -Seed 4 | Invoke-VaeTraining -Data $toy -Epochs 2 -BatchSize 100 -Seed 9 -ThrottleLimit 1
        $back.History.TrainLoss | Should -Be $here.History.TrainLoss
        Get-Weight $back | Should -Be (Get-Weight $here)
        # ... and every cmdlet takes it.
        ($back | Measure-ReconstructionError -Data $toy -Seed 1).Elbo | Should -Be ($here | Measure-ReconstructionError -Data $toy -Seed 1).Elbo
        ($back | Invoke-VaeTraining -Data $toy -Epochs 1 -BatchSize 100 -ThrottleLimit 1).Epochs | Should -Be 3
    }

    It 'trains in Start-Job a model and data set sent in with -ArgumentList and $using:, as training here does' {
        $model = $toy | New-Vae -LatentDim 2 -HiddenDim 16 -Seed 5
        $copy = $model.Clone()
        $job = Start-Job {
            param($m)
            Import-Module $using:manifest
            $m | Invoke-VaeTraining -Data $using:toy -Epochs 1 -BatchSize 100 -Seed 3 -ThrottleLimit 1
        } -ArgumentList $model
        $back = $job | Receive-Job -Wait -AutoRemoveJob
        $back | Should -BeOfType ([VaeTools.Model.VaeModel])
        $model.Epochs | Should -Be 0 # the job trained a copy
        $null = $copy | Invoke-VaeTraining -Data $toy -Epochs 1 -BatchSize 100 -Seed 3 -ThrottleLimit 1
        $back.History[0].TrainLoss | Should -Be $copy.History[0].TrainLoss
        Get-Weight $back | Should -Be (Get-Weight $copy)
    }

    It 'brings data sets, images, codes and metrics back from Start-Job with their values' {
        $job = Start-Job {
            Import-Module $using:manifest
            $data = Get-VaeToyData -Count 300 -Seed 1
            $vae = $data | New-Vae -LatentDim 3 -HiddenDim 8 -Seed 2
            $data
            $vae | New-VaeSample -Count 2 -Seed 1
            $data | Get-VaeEncoding -Model $vae | Select-Object -First 2
            $vae | Measure-ReconstructionError -Data $data -Seed 1
            $vae
        }
        $data, $img1, $img2, $code1, $code2, $metrics, $vae = $job | Receive-Job -Wait -AutoRemoveJob
        $data | Should -BeOfType ([VaeTools.Data.TensorDataset])
        $data.Data.ToArray() | Should -Be $toy.Data.ToArray()
        $img1 | Should -BeOfType ([VaeTools.PowerShell.ImageRecord])
        $img1.Pixels | Should -Be ($vae | New-VaeSample -Count 2 -Seed 1)[0].Pixels
        $code1.Z3 | Should -Be ($toy | Get-VaeEncoding -Model $vae | Select-Object -First 1).Z3
        $code2.Mu2 | Should -Not -BeNullOrEmpty
        $metrics.Elbo | Should -Be ($vae | Measure-ReconstructionError -Data $toy -Seed 1).Elbo
        # a code that came back is an end point of an interpolation
        @($vae | New-VaeSample -From $code1 -To $code2 -Steps 3).Count | Should -Be 3
        # piped images that came back encode
        @($img1, $img2 | Get-VaeEncoding -Model $vae).Count | Should -Be 2
    }

    It 'rebuilds a model and a data set read back with Import-Clixml' {
        $vae = $toy | New-Vae -LatentDim 2 -HiddenDim 8 -Seed 6 | Invoke-VaeTraining -Data $toy -Epochs 1 -BatchSize 100 -ThrottleLimit 1
        $vae, $toy | Export-Clixml objects.xml
        $m, $d = Import-Clixml objects.xml
        $m | Should -BeOfType ([VaeTools.Model.VaeModel])
        $d | Should -BeOfType ([VaeTools.Data.TensorDataset])
        Get-Weight $m | Should -Be (Get-Weight $vae)
        $m.History.Count | Should -Be 1
    }

    It 'takes a deserialized model that was not rebuilt on -Model and through the pipeline' {
        $vae = $toy | New-Vae -LatentDim 2 -HiddenDim 8 -Seed 6
        # The property bag a session sees when nothing rebuilt it (e.g. the arguments of a job, before it imports VaeTools).
        $bag = [pscustomobject]@{ Architecture = $vae.Architecture; SerializedForm = $vae.PSObject.Properties['SerializedForm'].Value }
        $bag.PSObject.TypeNames.Insert(0, 'Deserialized.VaeTools.Model.VaeModel')
        $bag | Should -Not -BeOfType ([VaeTools.Model.VaeModel])
        ($bag | Measure-ReconstructionError -Data $toy -Seed 1).Elbo | Should -Be ($vae | Measure-ReconstructionError -Data $toy -Seed 1).Elbo
        @(Get-VaeEncoding -Model $bag -Data $toy).Count | Should -Be 300
        # a data set bag piped into a cmdlet that takes a model and a data set from the pipeline binds as the data
        $dataBag = [pscustomobject]@{ Description = $toy.Description; SerializedForm = $toy.PSObject.Properties['SerializedForm'].Value }
        $dataBag.PSObject.TypeNames.Insert(0, 'Deserialized.VaeTools.Data.TensorDataset')
        ($dataBag | Invoke-VaeTraining -Model $vae.Clone() -Epochs 1 -BatchSize 100 -ThrottleLimit 1).Epochs | Should -Be 1
    }

    It 'keeps the serialization types through Import-Module -Force twice and Remove-Module' {
        $result = Start-Job {
            Import-Module $using:manifest -Force
            Import-Module $using:manifest -Force
            Remove-Module VaeTools
            Import-Module $using:manifest
            $vae = New-Vae -InputDim 2 -LatentDim 2 -HiddenDim 4 -Seed 1
            $back = [System.Management.Automation.PSSerializer]::Deserialize([System.Management.Automation.PSSerializer]::Serialize($vae))
            ($back -is [VaeTools.Model.VaeModel]) -and ($back.Architecture -eq $vae.Architecture)
        } | Receive-Job -Wait -AutoRemoveJob -ErrorVariable problems
        $problems | Should -BeNullOrEmpty
        $result | Should -BeTrue
    }

    It 'says to import VaeTools in the job when a model crossed without its weights' {
        $bag = [pscustomobject]@{ Architecture = '2-8-2 Relu Bernoulli' }
        $bag.PSObject.TypeNames.Insert(0, 'Deserialized.VaeTools.Model.VaeModel')
        { Measure-ReconstructionError -Model $bag -Data $toy -ErrorAction Stop } | Should -Throw '*Import-Module VaeTools*'
    }
}

Describe 'Every column a view shows is a property' {
    BeforeAll {
        $formats = [xml](Get-Content -Raw (Join-Path (Split-Path $manifest) 'VaeTools.Format.ps1xml'))
        $trained = $toy | New-Vae -LatentDim 2 -HiddenDim 8 -Seed 7 | Invoke-VaeTraining -Data $toy -ValidationData $toy -Epochs 2 -BatchSize 100 -ThrottleLimit 1
        $samples = @{
            'VaeTools.Model.VaeModel'                 = $trained
            'VaeTools.Model.EpochRecord'              = $trained.History[0]
            'VaeTools.Data.TensorDataset'             = $toy
            'VaeTools.PowerShell.ImageRecord'         = $trained | New-VaeSample -Count 1
            'VaeTools.PowerShell.LatentCode'          = $toy | Get-VaeEncoding -Model $trained | Select-Object -First 1
            'VaeTools.Analysis.ReconstructionMetrics' = $trained | Measure-ReconstructionError -Data $toy -ImportanceSamples 5
            'VaeTools.PowerShell.LatentDimension'     = $trained | Measure-VaeLatent -Data $toy | Select-Object -First 1
            'VaeTools.Engine.Tensor'                  = $trained | New-VaeSample -Count 2 -AsTensor
        }
    }

    It 'finds models by Epochs, TrainLoss, TestLoss, Seed and Architecture with Where-Object and Select-Object' {
        $fresh = New-Vae -InputDim 2 -LatentDim 2 -HiddenDim 8 -Seed 11
        @($fresh, $trained | Where-Object Epochs -EQ 0) | Should -Be @($fresh)
        $row = $trained | Select-Object Architecture, Epochs, TrainLoss, TestLoss, Seed
        $row.Architecture | Should -Be '2-8-2 Relu Bernoulli'
        $row.Epochs | Should -Be 2
        $row.TrainLoss | Should -Be $trained.History[1].TrainLoss
        $row.TestLoss | Should -Be $trained.History[1].TestLoss
        $row.Seed | Should -Be 7
        $fresh.TrainLoss | Should -BeNullOrEmpty
    }

    It 'gives images a Size property' {
        $samples['VaeTools.PowerShell.ImageRecord'].Size | Should -Be '1 x 2'
    }

    It 'has a property for every column of the <_> table' -ForEach @('VaeTools.Model.VaeModel', 'VaeTools.Model.EpochRecord',
        'VaeTools.Data.TensorDataset', 'VaeTools.PowerShell.ImageRecord', 'VaeTools.PowerShell.LatentCode',
        'VaeTools.Analysis.ReconstructionMetrics', 'VaeTools.PowerShell.LatentDimension', 'VaeTools.Engine.Tensor') {
        $typeName = $_
        $view = $formats.SelectSingleNode("//View[ViewSelectedBy/TypeName='$typeName' and TableControl]")
        $view | Should -Not -BeNullOrEmpty
        $labels = @($view.SelectNodes('TableControl/TableHeaders/TableColumnHeader/Label') | ForEach-Object { $_.InnerText })
        $labels.Count | Should -BeGreaterThan 1
        $object = $samples[$typeName]
        foreach ($label in $labels) {
            $object.PSObject.Properties[$label] | Should -Not -BeNullOrEmpty -Because "the $typeName table shows a column '$label'"
        }
    }
}

Describe 'Views fit 80 columns and cut no value' {
    It 'shows a model with a long architecture, its losses and a 20-digit seed whole' {
        $vae = $toy | New-Vae -LatentDim 2 -HiddenDim 512, 256, 128, 64 -Likelihood GaussianPerDimensionVariance -Activation LeakyRelu -Seed 18446744073709551615 |
            Invoke-VaeTraining -Data $toy -ValidationData $toy -Epochs 1 -BatchSize 100 -ThrottleLimit 1
        $lines = Get-TableLine $vae
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 -Because "'$_' is wider than 80 columns" }
        $text = $lines -join "`n"
        $text | Should -Not -Match '…'
        $text | Should -Match 'TestLoss'
        $text | Should -Match '18446744073709551615'
        $text | Should -Match ('{0:F2}' -f $vae.TestLoss).Replace('.', '\.')
        (Get-FirstColumnText $lines -Width 28).Trim() | Should -Be $vae.Architecture
    }

    It 'shows the reconstruction metrics with the log-likelihood whole, per class too' {
        $labelled = [VaeTools.Data.TensorDataset]::new($toy.Data, [int[]](0..299 | ForEach-Object { $_ % 10 }), 'toy with labels')
        $vae = $labelled | New-Vae -LatentDim 2 -HiddenDim 8 -Seed 3 -Likelihood GaussianSharedVariance
        $rows = @($vae | Measure-ReconstructionError -Data $labelled -ByClass -ImportanceSamples 5)
        $lines = Get-TableLine $rows
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 -Because "'$_' is wider than 80 columns" }
        $text = $lines -join "`n"
        $text | Should -Not -Match '…'
        $text | Should -Match 'LogLikelihood'
        foreach ($r in $rows) { $text | Should -Match ([regex]::Escape(('{0:F2}' -f $r.LogLikelihood))) }
        # the standard error is in the list view
        ($rows[0] | Format-List | Out-String) | Should -Match 'LogLikelihoodStandardError'
    }

    It 'fits <Name> into 80 columns' -ForEach @(
        @{ Name = '20-dimensional codes'; Make = { $v = $toy | New-Vae -LatentDim 20 -HiddenDim 8; $toy | Get-VaeEncoding -Model $v | Select-Object -First 3 } }
        @{ Name = 'a data set with a long description'; Make = { [VaeTools.Data.TensorDataset]::new($toy.Data, $null, 'a toy data set whose description is far too long for the sixty characters of its column') } }
        @{ Name = 'epoch records'; Make = { ($toy | New-Vae -LatentDim 2 -HiddenDim 8 | Invoke-VaeTraining -Data $toy -ValidationData $toy -Epochs 2 -BatchSize 100 -ThrottleLimit 1).History } }
        @{ Name = 'latent dimensions'; Make = { $toy | New-Vae -LatentDim 2 -HiddenDim 8 | Measure-VaeLatent -Data $toy } }
        @{ Name = 'images'; Make = { New-Vae -LatentDim 2 -HiddenDim 8 | New-VaeSample -Count 2 } }
    ) {
        $objects = & $Make
        $lines = Get-TableLine $objects
        $lines | ForEach-Object { $_.Length | Should -BeLessOrEqual 80 -Because "'$_' is wider than 80 columns" }
        ($lines -join "`n") | Should -Not -Match '…'
    }

    It 'wraps a long description rather than cutting it' {
        $long = [VaeTools.Data.TensorDataset]::new($toy.Data, $null, 'a toy data set whose description is far too long for the sixty characters of its column')
        (Get-FirstColumnText (Get-TableLine $long) -Width 60).Trim() | Should -Be $long.Description
    }

    It 'lists a model without its internals' {
        $vae = New-Vae -InputDim 2 -LatentDim 2 -HiddenDim 8 -Seed 1
        $list = $vae | Format-List | Out-String -Width 80
        $list | Should -Match 'Architecture\s*: 2-8-2 Relu Bernoulli'
        $list | Should -Match 'ParameterCount'
        $list | Should -Not -Match 'InferencePool|EncoderHidden|DecoderOutput'
        ($vae | Format-List * | Out-String) | Should -Not -Match 'InferencePool'
        $vae.PSObject.Properties.Name | Should -Not -Contain 'InferencePool'
    }

    It 'prints a data set as its description in a string' {
        "$toy" | Should -Be $toy.Description
        "$toy" | Should -Match 'toy 2-D Gaussian'
    }

    It 'prints an MNIST data set as its description in a string' -Skip:(-not $haveData) {
        $test = Get-MnistData -Subset Test -Count 10 -NoDownload
        "$test" | Should -Be $test.Description
    }
}

Describe 'Codes export to CSV with one column per latent dimension' {
    It 'writes Index, Label, Z1..Z<_>, Mu1..Mu<_> and LogVar1..LogVar<_> and keeps the arrays' -ForEach @(1, 5) {
        $p = $_
        $vae = $toy | New-Vae -LatentDim $p -HiddenDim 8 -Seed 2
        $codes = @($toy | Get-VaeEncoding -Model $vae -Sample -Seed 1 | Select-Object -First 4)
        $codes | Export-Csv "codes-$p.csv"
        $raw = Get-Content -Raw "codes-$p.csv"
        $raw | Should -Not -Match 'System\.Single'
        $rows = @(Import-Csv "codes-$p.csv")
        $expected = @('Index', 'Label') + (1..$p | ForEach-Object { "Z$_" }) + (1..$p | ForEach-Object { "Mu$_" }) + (1..$p | ForEach-Object { "LogVar$_" })
        $rows[0].PSObject.Properties.Name | Should -Be $expected
        for ($k = 0; $k -lt $p; $k++) {
            [float]$rows[3]."Z$($k + 1)" | Should -Be $codes[3].Z[$k]
            [float]$rows[3]."Mu$($k + 1)" | Should -Be $codes[3].Mean[$k]
            [float]$rows[3]."LogVar$($k + 1)" | Should -Be $codes[3].LogVariance[$k]
        }
        $codes[0].Z.Count | Should -Be $p
        $codes[0].Mean.Count | Should -Be $p
    }

    It 'still filters and sorts codes by their columns' {
        $vae = $toy | New-Vae -LatentDim 3 -HiddenDim 8 -Seed 2
        $codes = @($toy | Get-VaeEncoding -Model $vae)
        @($codes | Where-Object Z3 -GT 0).Count | Should -Be @($codes | Where-Object { $_.Z[2] -gt 0 }).Count
        ($codes | Sort-Object Index -Descending | Select-Object -First 1).Index | Should -Be 299
    }
}

Describe 'Piped images are encoded as they arrive' {
    BeforeAll {
        $vae = $toy | New-Vae -LatentDim 2 -HiddenDim 8 -Seed 2
        $images = @($vae | New-VaeSample -Count 5 -Seed 1)
    }

    It 'emits each code before the next image is pulled' {
        $log = [System.Collections.Generic.List[string]]::new()
        & { foreach ($i in 0..4) { $log.Add("in $i"); $images[$i] } } | Get-VaeEncoding -Model $vae | ForEach-Object { $log.Add("out $($_.Index)") }
        $log | Should -Be @('in 0', 'out 0', 'in 1', 'out 1', 'in 2', 'out 2', 'in 3', 'out 3', 'in 4', 'out 4')
    }

    It 'pairs every code with its own image through -PipelineVariable' {
        $pairs = $images | ForEach-Object -PipelineVariable image { $_ } | Get-VaeEncoding -Model $vae |
            ForEach-Object { [pscustomobject]@{ Image = $image.Index; Code = $_.Index } }
        $pairs.Image | Should -Be @(0, 1, 2, 3, 4)
        $pairs.Code | Should -Be @(0, 1, 2, 3, 4)
    }

    It 'gives the codes a data set of the same images gives' {
        $x = [VaeTools.Engine.Tensor]::FromRows([float[][]]($images | ForEach-Object { , $_.Pixels }))
        $asData = @([VaeTools.Data.TensorDataset]::new($x) | Get-VaeEncoding -Model $vae)
        $piped = @($images | Get-VaeEncoding -Model $vae)
        for ($i = 0; $i -lt 5; $i++) { $piped[$i].Mean | Should -Be $asData[$i].Mean }
    }

    It 'still gives one tensor of all piped images with -AsTensor' {
        $t = $images | Get-VaeEncoding -Model $vae -AsTensor
        @($t).Count | Should -Be 1
        $t.Rows | Should -Be 5
    }
}

Describe 'The file cmdlets: wildcards, -LiteralPath, help links and debug detail' {
    BeforeAll {
        $null = New-Item -ItemType Directory -Path ex
        $a = New-Vae -InputDim 2 -LatentDim 2 -HiddenDim 8 -Seed 1
        $b = New-Vae -InputDim 2 -LatentDim 3 -HiddenDim 8 -Seed 2
        $a | Export-Vae -Path ex/p1.safetensors
        $b | Export-Vae -Path ex/p2.safetensors
    }

    It 'imports one model per file a wildcard -Path matches' {
        $models = @(Import-Vae ex/p*.safetensors)
        $models.Count | Should -Be 2
        ($models.Architecture | Sort-Object) | Should -Be @('2-8-2 Relu Bernoulli', '2-8-3 Relu Bernoulli')
    }

    It 'reports a pattern that matches nothing as ObjectNotFound naming the pattern' {
        $result = Import-Vae ex/none*.safetensors -ErrorVariable problems -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -Be 'PathNotFound,VaeTools.PowerShell.Commands.ImportVaeCommand'
        $problems[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $problems[0].TargetObject | Should -Be 'ex/none*.safetensors'
        $problems[0].Exception.Message | Should -Match ([regex]::Escape("'ex/none*.safetensors'"))
    }

    It 'writes and reads names with brackets through -LiteralPath' {
        $a | Export-Vae -LiteralPath 'ex/[best].safetensors'
        Test-Path -LiteralPath (Join-Path $PWD 'ex/[best].safetensors') | Should -BeTrue
        (Import-Vae -LiteralPath 'ex/[best].safetensors').Architecture | Should -Be '2-8-2 Relu Bernoulli'
        $a | Export-VaePlot -Kind Samples -LiteralPath 'ex/[s].png' -Count 4
        Test-Path -LiteralPath (Join-Path $PWD 'ex/[s].png') | Should -BeTrue
    }

    It 'imports what Get-ChildItem pipes in, by its path' {
        @(Get-ChildItem ex -Filter 'p*.safetensors' | Import-Vae).Count | Should -Be 2
        @(Get-ChildItem -LiteralPath (Join-Path $PWD 'ex/[best].safetensors') | Import-Vae).Count | Should -Be 1
        @([pscustomobject]@{ FullName = (Join-Path $PWD 'ex/p1.safetensors') } | Import-Vae).Count | Should -Be 1
    }

    It 'overwrites the one file a wildcard output path matches, and refuses one that matches several' {
        $b | Export-Vae -Path ex/p1.safe*
        (Import-Vae ex/p1.safetensors).Architecture | Should -Be '2-8-3 Relu Bernoulli'
        { $a | Export-Vae -Path 'ex/p?.safetensors' -ErrorAction Stop } | Should -Throw -ErrorId 'PathAmbiguous,VaeTools.PowerShell.Commands.ExportVaeCommand'
        $a | Export-Vae -Path ex/p1.safetensors
    }

    It 'resolves New-VaeSample -OutFile and Get-MnistData -Path through the provider' {
        $a | New-VaeSample -Count 4 -OutFile ex/grid.png
        $a | New-VaeSample -Count 4 -OutFile ex/gri*.png
        @(Get-ChildItem ex -Filter 'gri*').Count | Should -Be 1
        { $a | New-VaeSample -Count 4 -OutFile ex/nothing*.png -ErrorAction Stop } | Should -Throw -ErrorId 'PathNotFound,VaeTools.PowerShell.Commands.NewVaeSampleCommand'
    }

    It 'finds the MNIST folder through a wildcard -Path' -Skip:(-not $haveData) {
        $cache = Join-Path ([Environment]::GetFolderPath('UserProfile')) '.cache/vaetools'
        $found = if ($env:VAETOOLS_DATA) { $env:VAETOOLS_DATA } elseif (Test-Path (Join-Path $cache 'mnist')) { Join-Path $cache 'mnist' }
        if (-not $found) { Set-ItResult -Skipped -Because 'MNIST is not in the per-user cache'; return }
        $pattern = $found.Substring(0, $found.Length - 1) + '*'
        (Get-MnistData -Subset Test -Count 3 -NoDownload -Path $pattern).Count | Should -Be 3
    }

    It 'writes the resolved files to the debug stream' {
        $records = @(& { $DebugPreference = 'Continue'; Import-Vae ex/p*.safetensors 5>&1 } | Where-Object { $_ -is [System.Management.Automation.DebugRecord] })
        $records.Message -join "`n" | Should -Match 'resolves to 2 file'
    }

    It 'has a help link for <_>' -ForEach $cmdlets {
        (Get-Command $_).HelpUri | Should -Be 'https://github.com/vaetools/vaetools'
    }

    It 'documents -LiteralPath of <_>' -ForEach @('Import-Vae', 'Export-Vae', 'Export-VaePlot') {
        (Get-Help $_ -Parameter LiteralPath).Description.Text | Should -Match 'wildcards'
    }
}
