#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Pester 5 tests of the convolutional architecture through the cmdlets: New-Vae -Architecture Conv on real MNIST
# (a small subset), trained, encoded, sampled, reconstructed, exported and imported, on the managed engine and Torch.

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $null = Import-VaeToolsUnderTest
    $script:haveData = Test-MnistCached
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $null = Import-VaeToolsUnderTest
    $work = Enter-TestFolder 'vaetools-conv'
    if (Test-MnistCached) {
        $script:train = Get-MnistData -Subset Train -Count 1000 -NoDownload
        $script:test = Get-MnistData -Subset Test -Count 200 -NoDownload
        $script:vae = $train | New-Vae -Architecture Conv -ConvChannels 8,16 -KernelSize 4 -LatentDim 4 -Seed 3 |
            Invoke-VaeTraining -Data $train -ValidationData $test -Epochs 2 -BatchSize 50 -Seed 3
    }
}

AfterAll {
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'New-Vae -Architecture Conv' -Skip:(-not $haveData) {
    It 'trains: the test loss falls from the first epoch to the second' {
        $vae.Config.Architecture | Should -Be 'Conv'
        $vae.Architecture | Should -Be '1x28x28-conv8-16k4-4 Relu Bernoulli'
        $vae.History.Count | Should -Be 2
        $vae.History[1].TestLoss | Should -BeLessThan $vae.History[0].TestLoss
    }

    It 'encodes images to latent codes, one object per image' {
        $codes = $test | Get-VaeEncoding -Model $vae
        @($codes).Count | Should -Be 200
        $codes[0].Mean.Count | Should -Be 4
    }

    It 'samples images of the data set shape and writes a grid' {
        $samples = $vae | New-VaeSample -Count 6 -Seed 1 -AsTensor
        $samples.Rows | Should -Be 6
        $samples.Cols | Should -Be 784
        $vae | New-VaeSample -Count 16 -Seed 1 -OutFile samples.png
        (Get-Item samples.png).Length | Should -BeGreaterThan 100
    }

    It 'measures its reconstructions and interpolates between two images' {
        $m = $vae | Measure-ReconstructionError -Data $test
        $m.Count | Should -Be 200
        $untrained = $train | New-Vae -Architecture Conv -ConvChannels 8,16 -KernelSize 4 -LatentDim 4 -Seed 3 | Measure-ReconstructionError -Data $test
        $m.MeanSquaredError | Should -BeLessThan (0.8 * $untrained.MeanSquaredError)  # measured: 137 against 220 per image
        $a, $b = Get-MnistData -Subset Test -AsImage -Count 2 -NoDownload
        $line = $vae | New-VaeSample -From $a -To $b -Steps 5 -AsTensor
        $line.Rows | Should -Be 5
    }

    It 'survives Export-Vae and Import-Vae with its architecture and weights' {
        $vae | Export-Vae -Path conv.safetensors
        $back = Import-Vae conv.safetensors
        $back.Config.Architecture | Should -Be 'Conv'
        $back.Config.ConvChannels | Should -Be @(8, 16)
        ($back | Measure-ReconstructionError -Data $test).MeanSquaredError | Should -Be ($vae | Measure-ReconstructionError -Data $test).MeanSquaredError
    }

    It 'refuses -HiddenDim with a clear error' {
        { New-Vae -Architecture Conv -HiddenDim 400 -ErrorAction Stop } | Should -Throw -ErrorId 'HiddenDimWithConv,*'
    }

    It 'trains on the Torch engine to the managed engine''s loss' {
        $t = $train | New-Vae -Architecture Conv -ConvChannels 8,16 -LatentDim 4 -Seed 3 -Engine Torch |
            Invoke-VaeTraining -Data $train -Epochs 1 -BatchSize 50 -Seed 3
        $m = $train | New-Vae -Architecture Conv -ConvChannels 8,16 -LatentDim 4 -Seed 3 |
            Invoke-VaeTraining -Data $train -Epochs 1 -BatchSize 50 -Seed 3
        $t.Engine | Should -Be 'Torch'
        $t.Module.GetType().Name | Should -Be 'TorchVaeModule'
        $t.History.Count | Should -Be 1
        # Same seed, same batches, same maths: the epoch's mean loss agrees (measured 603.66 against 603.83).
        [Math]::Abs($t.History[0].TrainLoss - $m.History[0].TrainLoss) | Should -BeLessThan (0.01 * $m.History[0].TrainLoss)
    }
}
