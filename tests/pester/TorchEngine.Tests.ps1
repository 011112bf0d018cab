#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Pester 5 tests of the Torch engine in the built module: -Engine/-Device, ConvertTo-Vae, training, encoding,
# sampling and export with -Engine Torch, and that managed-only use never loads TorchSharp.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $null = Import-VaeToolsUnderTest
    $script:haveData = Test-MnistCached
    if (-not $script:haveData) { Write-Warning 'MNIST is not on this machine: the Torch MNIST tests are SKIPPED.' }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $work = Enter-TestFolder 'vaetools-torch-pester'
    $toy = Get-VaeToyData -Count 200 -Seed 1
}

AfterAll {
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Managed-only use' {
    It 'never loads TorchSharp (a fresh process creates, trains and samples a managed model)' {
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$manifest'
`$d = Get-VaeToyData -Count 100 -Seed 2
`$m = `$d | New-Vae -LatentDim 1 -HiddenDim 8 -Likelihood GaussianPerDimensionVariance | Invoke-VaeTraining -Data `$d -Epochs 1 -BatchSize 50
`$null = `$m | New-VaeSample -Count 2
'engine=' + `$m.Engine
'torch=' + @([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -in 'TorchSharp', 'VaeTools.Torch' }).Count
"@
        $pwsh = (Get-Command pwsh -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1).Source
        if (-not $pwsh) { $pwsh = Join-Path $PSHOME 'pwsh' }
        $out = & $pwsh -NoProfile -NonInteractive -Command $script
        $LASTEXITCODE | Should -Be 0
        $out | Should -Contain 'engine=Managed'
        $out | Should -Contain 'torch=0'
    }
}

Describe 'New-Vae -Engine Torch' {
    It 'makes a model on the Torch engine whose Module is a torch.nn.Module named as the model file' {
        $vae = $toy | New-Vae -LatentDim 1 -HiddenDim 8 -Likelihood GaussianSharedVariance -Engine Torch -Seed 3
        $vae.Engine | Should -Be 'Torch'
        $vae.Device | Should -Be 'cpu'
        $vae.Module | Should -BeOfType ([TorchSharp.torch+nn+Module])
        $keys = @($vae.Module.state_dict().Keys | Sort-Object)
        $keys | Should -Be @($vae.Parameters.Name | Sort-Object)
        $keys | Should -Contain 'decoder.logvar'
    }

    It 'is Managed by default' {
        (New-Vae -LatentDim 2 -HiddenDim 4 -InputDim 10).Engine | Should -Be 'Managed'
    }

    It '-Device cuda on a machine without CUDA is an error that says what to install, and makes no model' {
        if ([VaeTools.Torch.TorchRuntime]::CudaNativesPresent() -and [TorchSharp.torch+cuda]::is_available()) { Set-ItResult -Skipped -Because 'this machine has CUDA' ; return }
        $vae = $null
        $err = $null
        try { $vae = New-Vae -LatentDim 2 -HiddenDim 4 -InputDim 10 -Device cuda } catch { $err = $_ }
        $vae | Should -BeNullOrEmpty
        $err.FullyQualifiedErrorId | Should -Be 'TorchUnavailable,VaeTools.PowerShell.Commands.NewVaeCommand'
        $err.CategoryInfo.Category | Should -Be 'ResourceUnavailable'
        $err.Exception.Message | Should -BeLike '*-Device cuda*CUDA*'
    }

    It '-Engine Managed -Device cuda is an invalid combination' {
        { New-Vae -LatentDim 2 -HiddenDim 4 -InputDim 10 -Engine Managed -Device cuda -ErrorAction Stop } |
            Should -Throw -ErrorId 'DeviceNeedsTorch,VaeTools.PowerShell.Commands.NewVaeCommand'
    }

    It '-Device takes only cpu, cuda or cuda:N' {
        { New-Vae -LatentDim 2 -InputDim 10 -Device gpu -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,VaeTools.PowerShell.Commands.NewVaeCommand'
    }
}

Describe 'Training, encoding, sampling and export with -Engine Torch' {
    It 'trains on the toy data and converts to the managed engine exactly' {
        $vae = $toy | New-Vae -LatentDim 1 -HiddenDim 8 -Likelihood GaussianPerDimensionVariance -Engine Torch -Seed 4 |
            Invoke-VaeTraining -Data $toy -Epochs 2 -BatchSize 50 -LearningRate 1e-2
        $vae.Engine | Should -Be 'Torch'
        $vae.History.Count | Should -Be 2
        $vae.History[1].TrainLoss | Should -BeLessThan $vae.History[0].TrainLoss
        $managed = $vae | ConvertTo-Vae -Engine Managed
        $managed.Engine | Should -Be 'Managed'
        $vae.Engine | Should -Be 'Torch'
        $a = $toy | Get-VaeEncoding -Model $vae | Select-Object -First 20
        $b = $toy | Get-VaeEncoding -Model $managed | Select-Object -First 20
        ($a.Z1 -join ',') | Should -Be ($b.Z1 -join ',')
    }

    It 'trains on MNIST, encodes, samples, exports and the file imports on either engine' -Skip:(-not $haveData) {
        $train = Get-MnistData -Subset Train -Count 2000 -NoDownload
        $test = Get-MnistData -Subset Test -Count 500 -NoDownload
        $vae = New-Vae -LatentDim 2 -HiddenDim 64 -Engine Torch -Seed 5 | Invoke-VaeTraining -Data $train -ValidationData $test -Epochs 2 -BatchSize 100
        $vae.History.Count | Should -Be 2
        $vae.History[1].TestLoss | Should -BeLessThan 300
        $codes = $test | Get-VaeEncoding -Model $vae
        @($codes).Count | Should -Be 500
        $images = $vae | New-VaeSample -Count 4 -Seed 1
        @($images).Count | Should -Be 4
        $vae | New-VaeSample -Count 16 -Seed 1 -OutFile samples.png
        'samples.png' | Should -Exist
        $vae | Export-Vae -Path torch.safetensors
        $managed = Import-Vae torch.safetensors
        $managed.Engine | Should -Be 'Managed'
        $onTorch = Import-Vae torch.safetensors -Engine Torch
        $onTorch.Engine | Should -Be 'Torch'
        $onTorch.History.Count | Should -Be 2
        $m1 = $vae | Measure-ReconstructionError -Data $test
        $m2 = $managed | Measure-ReconstructionError -Data $test
        $m2.MeanSquaredError | Should -Be $m1.MeanSquaredError
    }
}

Describe 'Checkpoints and -Resume with -Engine Torch' {
    It '-CheckpointPath writes torch.optim''s state, and -Resume -UntilEpoch continues it in place as the uninterrupted run' {
        $ckpt = Join-Path $work 'torch-run.safetensors'
        $common = @{ Data = $toy; BatchSize = 50; LearningRate = 1e-2; Seed = 3; ThrottleLimit = 1 }
        $null = $toy | New-Vae -LatentDim 1 -HiddenDim 8 -Likelihood GaussianPerDimensionVariance -Engine Torch -Seed 7 |
            Invoke-VaeTraining @common -UntilEpoch 1 -CheckpointPath $ckpt
        $ckpt | Should -Exist
        $saved = [VaeTools.Model.ModelFile]::LoadWithCheckpoint($ckpt)
        $saved.Item2.Steps | Should -Be 4
        @($saved.Item2.OptimizerState.Keys) | Should -Contain 'decoder.output.weight.exp_avg_sq'

        $vae = $toy | New-Vae -LatentDim 1 -HiddenDim 8 -Likelihood GaussianPerDimensionVariance -Engine Torch -Seed 7
        $out = $vae | Invoke-VaeTraining @common -UntilEpoch 3 -CheckpointPath $ckpt -Resume
        $vae.Engine | Should -Be 'Torch'
        $vae.History.Epoch | Should -Be @(1, 2, 3)        # in place: the piped object itself was resumed and trained
        $out.History.Count | Should -Be 3
        (Import-Vae $ckpt).History.Count | Should -Be 3

        $straight = $toy | New-Vae -LatentDim 1 -HiddenDim 8 -Likelihood GaussianPerDimensionVariance -Engine Torch -Seed 7 |
            Invoke-VaeTraining @common -Epochs 3
        foreach ($name in $vae.Parameters.Name) {
            $a = $vae.ReadParameter($name).ToArray()
            $b = $straight.ReadParameter($name).ToArray()
            for ($i = 0; $i -lt $a.Length; $i++) { [math]::Abs($a[$i] - $b[$i]) | Should -BeLessOrEqual 1e-5 -Because "$name[$i]" }
        }
    }
}

Describe 'ConvertTo-Vae' {
    It 'has help with examples' {
        $help = Get-Help ConvertTo-Vae -Full
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        ($help.parameters.parameter.name) | Should -Contain 'Engine'
    }

    It 'keeps the original and copies the weights bitwise there and back' {
        $vae = New-Vae -LatentDim 2 -HiddenDim 6 -InputDim 12 -Seed 6
        $back = $vae | ConvertTo-Vae -Engine Torch | ConvertTo-Vae -Engine Managed
        $vae.Engine | Should -Be 'Managed'
        foreach ($name in $vae.Parameters.Name) {
            ($back.ReadParameter($name).ToArray() -join ',') | Should -Be ($vae.ReadParameter($name).ToArray() -join ',')
        }
    }
}

Describe 'Tensors down the pipeline' {
    BeforeAll {
        $torchVae = $toy | New-Vae -LatentDim 1 -HiddenDim 8 -Likelihood GaussianSharedVariance -Engine Torch -Seed 7 |
            Invoke-VaeTraining -Data $toy -Epochs 1 -BatchSize 50
        $managedVae = $torchVae | ConvertTo-Vae -Engine Managed
    }

    It 'Get-VaeEncoding -AsTensor on a Torch model emits a TorchSharp tensor [N x P] on the model''s device' {
        $codes = $toy | Get-VaeEncoding -Model $torchVae -AsTensor
        try {
            @($codes).Count | Should -Be 1
            $codes.GetType().FullName | Should -Be 'TorchSharp.torch+Tensor'
            @($codes.shape) | Should -Be @(200, 1)
            "$($codes.device)" | Should -Be 'cpu'
            $objects = $toy | Get-VaeEncoding -Model $managedVae
            $values = $codes.data[float]().ToArray()
            for ($i = 0; $i -lt 200; $i += 37) { [math]::Abs($values[$i] - $objects[$i].Z1) | Should -BeLessThan 1e-5 -Because "row $i" }
        }
        finally { $codes.Dispose() }
        $codes.IsInvalid | Should -BeTrue
        ($toy | Get-VaeEncoding -Model $managedVae -AsTensor).GetType().FullName | Should -Be 'VaeTools.Engine.Tensor'
    }

    It '| New-VaeSample decodes the piped codes into the reconstructions (objects, or a TorchSharp tensor with -AsTensor)' {
        $codes = $toy | Get-VaeEncoding -Model $torchVae -AsTensor
        try {
            $images = $codes | New-VaeSample -Model $torchVae
            @($images).Count | Should -Be 200
            $expected = $managedVae | New-VaeSample -Latent ($toy | Get-VaeEncoding -Model $managedVae)
            for ($i = 0; $i -lt 200; $i += 41) {
                [math]::Abs($images[$i].Pixels[0] - $expected[$i].Pixels[0]) | Should -BeLessThan 1e-4
                $images[$i].Index | Should -Be $i
            }
            $asTensor = $codes | New-VaeSample -Model $torchVae -AsTensor
            try {
                $asTensor.GetType().FullName | Should -Be 'TorchSharp.torch+Tensor'
                @($asTensor.shape) | Should -Be @(200, 2)
            }
            finally { $asTensor.Dispose() }
            # The managed model takes the TorchSharp tensor too (copied to the CPU) and gives its own tensor.
            ($codes | New-VaeSample -Model $managedVae -AsTensor).GetType().FullName | Should -Be 'VaeTools.Engine.Tensor'
        }
        finally { $codes.Dispose() }
    }

    It 'Measure-ReconstructionError and Get-VaeEncoding take an image tensor as -Data, on both engines' {
        $torchImages = $torchVae | New-VaeSample -Count 30 -Seed 2 -AsTensor
        $managedImages = $managedVae | New-VaeSample -Count 30 -Seed 2 -AsTensor
        try {
            $torchImages.GetType().FullName | Should -Be 'TorchSharp.torch+Tensor'
            $managedImages.GetType().FullName | Should -Be 'VaeTools.Engine.Tensor'
            foreach ($vae in $torchVae, $managedVae) {
                $a = $torchImages | Measure-ReconstructionError -Model $vae -Seed 1
                $b = Measure-ReconstructionError -Model $vae -Data $managedImages -Seed 1
                $a.Count | Should -Be 30
                [math]::Abs($a.MeanSquaredError - $b.MeanSquaredError) | Should -BeLessThan 1e-4
                @(Get-VaeEncoding -Model $vae -Data $torchImages).Count | Should -Be 30
                @($managedImages | Get-VaeEncoding -Model $vae).Count | Should -Be 30
            }
            # A managed tensor that crossed a process boundary (Start-Job, Import-Clixml) binds as data too.
            # (In this process PSSerializer would rehydrate it at once, so the bag is built as another process receives it.)
            $bag = [pscustomobject]@{ SerializedForm = $managedImages.SerializedForm }
            $bag.PSObject.TypeNames.Insert(0, 'Deserialized.VaeTools.Engine.Tensor')
            $bag.SerializedForm | Should -Not -BeNullOrEmpty
            @(Get-VaeEncoding -Model $managedVae -Data $bag).Count | Should -Be 30
        }
        finally { $torchImages.Dispose() }
    }

    It 'a tensor of the wrong shape is an error naming the parameter and the shape expected' {
        $images = $torchVae | New-VaeSample -Count 4 -Seed 3 -AsTensor
        $flat = $images.reshape(2, 2, 2)
        try {
            { Get-VaeEncoding -Model $torchVae -Data $flat -ErrorAction Stop } |
                Should -Throw -ErrorId 'ParameterArgumentTransformationError,VaeTools.PowerShell.Commands.GetVaeEncodingCommand' -ExpectedMessage '*-Data is a tensor `[2 x 2 x 2`] Float32 on cpu with 3 dimension(s); expected a 2-D tensor `[N x D`]*'
            { $flat | Measure-ReconstructionError -Model $torchVae -ErrorAction Stop } |
                Should -Throw -ExpectedMessage '*-Data is a tensor*expected a 2-D tensor `[N x D`]*'
            # Images [4 x 2] where codes [N x 1] are expected: a width error, non-terminating, naming -Latent.
            $err = $null
            $out = $images | New-VaeSample -Model $torchVae -ErrorVariable err -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            $err[0].FullyQualifiedErrorId | Should -Be 'WidthMismatch,VaeTools.PowerShell.Commands.NewVaeSampleCommand'
            $err[0].Exception.Message | Should -BeLike '*-Latent tensor `[4 x 2`]*holds codes of 2 values*expected `[N x 1`]*'
        }
        finally { $flat.Dispose(); $images.Dispose() }
    }
}
