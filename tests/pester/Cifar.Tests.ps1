#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Pester 5 tests of Get-Cifar10Data and colour pictures, on CIFAR-10 files generated here (the real archive is not
# on this machine, and these tests never download): a full-size test_batch.bin (10,000 records of 1 + 3072 bytes).

BeforeAll {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $work = Enter-TestFolder 'vaetools-cifar'

    # Image of class k: red plane 25k, green 255 - 25k, blue 0 for even k and 200 for odd k, constant over the image,
    # except that row 0 of the red plane is 255 (so the planes' order and the row order both show).
    function New-Record([int] $label) {
        $r = [byte[]]::new(3073)
        $r[0] = $label
        [Array]::Fill($r, [byte](25 * $label), 1, 1024)
        [Array]::Fill($r, [byte](255 - 25 * $label), 1025, 1024)
        [Array]::Fill($r, [byte](200 * ($label % 2)), 2049, 1024)
        [Array]::Fill($r, [byte]255, 1, 32)
        , $r
    }
    $script:records = 0..9 | ForEach-Object { , (New-Record $_) }
    $script:cifar = Join-Path $work 'data'
    $folder = Join-Path $script:cifar 'cifar-10-batches-bin'
    $null = New-Item -ItemType Directory -Path $folder
    $batch = [byte[]]::new(10000 * 3073)
    for ($i = 0; $i -lt 10000; $i++) { [Array]::Copy($script:records[$i % 10], 0, $batch, $i * 3073, 3073) }
    [IO.File]::WriteAllBytes((Join-Path $folder 'test_batch.bin'), $batch)
    $script:batchBytes = $batch
}

AfterAll {
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Get-Cifar10Data' {
    It 'is exported, with [OutputType] and help with examples' {
        $cmd = Get-Command Get-Cifar10Data -Module VaeTools
        $cmd.OutputType.Name | Should -Contain 'VaeTools.Data.Cifar10Dataset'
        $help = Get-Help Get-Cifar10Data -Full
        $help.Synopsis | Should -Match 'CIFAR-10'
        @($help.Examples.Example).Count | Should -BeGreaterOrEqual 2
        $helped = @($help.Parameters.Parameter.Name) | Sort-Object
        $helped | Should -Be (@('AsImage', 'Classes', 'Count', 'NoDownload', 'Path', 'Subset'))
    }

    It 'reads a full-size test batch from the unpacked folder, with its 3x32x32 shape' {
        $data = Get-Cifar10Data -Subset Test -Path $script:cifar -NoDownload
        $data.Count | Should -Be 10000
        $data.Features | Should -Be 3072
        "$($data.ImageShape)" | Should -Be '3x32x32'
        $data.GetLabel(9997) | Should -Be 7
        (Get-Cifar10Data -Subset Test -Path $script:cifar -NoDownload -Classes 3, 8 -Count 50).Count | Should -Be 50
    }

    It 'streams colour image objects with -AsImage, planes in R, G, B order' {
        $images = Get-Cifar10Data -Subset Test -Path $script:cifar -NoDownload -Classes 3 -Count 2 -AsImage
        $images.Count | Should -Be 2
        $images[0].Label | Should -Be 3
        $images[0].Channels | Should -Be 3
        $images[0].Pixels.Count | Should -Be 3072
        $images[0].Pixels[0] | Should -Be 1                          # red, row 0
        $images[0].Pixels[32] | Should -Be ([float](75 / 255))       # red, row 1
        $images[0].Pixels[1024 + 40] | Should -Be ([float](180 / 255)) # green
        $images[0].Pixels[2048 + 40] | Should -Be ([float](200 / 255)) # blue (odd class)
    }

    It 'says how to supply the data by hand when it is missing (ObjectNotFound)' {
        $empty = Join-Path $work 'empty'
        $null = New-Item -ItemType Directory -Path $empty
        $result = Get-Cifar10Data -Path $empty -NoDownload -ErrorVariable err -ErrorAction SilentlyContinue
        $result | Should -BeNullOrEmpty
        $err[0].FullyQualifiedErrorId | Should -BeLike 'Cifar10DataNotFound,*'
        $err[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $err[0].Exception.Message | Should -Match 'cifar\.html'
        $err[0].Exception.Message | Should -Match 'VAETOOLS_DATA'
    }

    It 'names a truncated batch file (InvalidData)' {
        $bad = Join-Path $work 'bad/cifar-10-batches-bin'
        $null = New-Item -ItemType Directory -Path $bad -Force
        [IO.File]::WriteAllBytes((Join-Path $bad 'test_batch.bin'), $script:batchBytes[0..(3073 * 3 + 10)])
        Get-Cifar10Data -Subset Test -Path (Split-Path $bad) -NoDownload -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'Cifar10DataInvalid,*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $err[0].Exception.Message | Should -Match 'test_batch\.bin'
        $err[0].Exception.Message | Should -Match 'expected 30730000 bytes'
    }

    It 'refuses an archive whose MD5 is not the published one' {
        $dir = Join-Path $work 'fake'
        $null = New-Item -ItemType Directory -Path $dir
        [IO.File]::WriteAllBytes((Join-Path $dir 'cifar-10-binary.tar.gz'), [byte[]](31, 139, 8, 0, 1, 2, 3))
        Get-Cifar10Data -Subset Test -Path $dir -NoDownload -ErrorVariable err -ErrorAction SilentlyContinue
        $err[0].FullyQualifiedErrorId | Should -BeLike 'Cifar10ChecksumMismatch,*'
        $err[0].Exception.Message | Should -Match 'c32a1d4ab5d03f1284b67883e8d87530'
    }
}

Describe 'A VAE on CIFAR-like data' {
    BeforeAll {
        $script:data = Get-Cifar10Data -Subset Test -Path $script:cifar -NoDownload -Count 400
        $script:vae = $script:data | New-Vae -LatentDim 2 -HiddenDim 64 -Likelihood GaussianUnitVariance -SigmoidMean -Seed 1 |
            Invoke-VaeTraining -Data $script:data -Epochs 3 -BatchSize 50 -LearningRate 3e-3 -Seed 1 -ThrottleLimit 1
    }

    It 'trains end to end through the cmdlets and keeps the image shape' {
        $script:vae.History.Count | Should -Be 3
        $script:vae.History[2].TrainLoss | Should -BeLessThan $script:vae.History[0].TrainLoss
        "$($script:vae.Config.ImageShape)" | Should -Be '3x32x32'
        $script:vae | Export-Vae -Path colour.safetensors
        "$((Import-Vae colour.safetensors).Config.ImageShape)" | Should -Be '3x32x32'
    }

    It 'writes sample grids in colour: each tile the decoder mean of its sample' {
        $script:vae | New-VaeSample -Count 16 -Columns 4 -MeanImage -Seed 3 -OutFile samples.png
        $means = $script:vae | New-VaeSample -Count 16 -MeanImage -Seed 3 -AsTensor
        $png = [VaeTools.Imaging.PngDecoder]::ReadFile((Join-Path $work 'samples.png'))
        $png.Format | Should -Be 'Rgb24'
        $png.Width | Should -Be (2 + 4 * 34)
        foreach ($k in 0, 5, 15) {
            $row = 2 + [math]::Floor($k / 4) * 34 + 10; $column = 2 + ($k % 4) * 34 + 20
            foreach ($ch in 0, 1, 2) {
                $at = $ch * 1024 + 10 * 32 + 20
                $v = [math]::Min(1.0, [math]::Max(0.0, [double]$means[$k, $at]))
                # The grid rounds in float arithmetic, this in double: allow one grey level.
                [math]::Abs($png[$row, $column, $ch] - [math]::Floor($v * 255 + 0.5)) | Should -BeLessOrEqual 1
            }
        }
        # Colour, not grey: red and green differ in the tiles (the classes' red and green planes run opposite ways).
        $spread = foreach ($k in 0..15) { $g = 1024 + 500; [math]::Abs($means[$k, $g] - $means[$k, 500]) }
        ($spread | Measure-Object -Maximum).Maximum | Should -BeGreaterThan 0.1
    }

    It 'draws reconstruction pairs in colour with the originals as they are' {
        $script:vae | Export-VaePlot Reconstruction pairs.png -Data $script:data -Count 10
        $png = [VaeTools.Imaging.PngDecoder]::ReadFile((Join-Path $work 'pairs.png'))
        $png.Format | Should -Be 'Rgb24'
        # Original 1 (class 1) at tile 1: red 25, green 230, blue 200 below row 0; row 0 red 255.
        $row = 2 + 5; $column = 2 + 34 + 5
        @($png[$row, $column, 0], $png[$row, $column, 1], $png[$row, $column, 2]) | Should -Be @(25, 230, 200)
        $png[2, $column, 0] | Should -Be 255
    }

    It 'draws the 2-D manifold and an interpolation in colour' {
        $script:vae | New-VaeSample -Grid 5 -Range -2, 2, -2, 2 -OutFile manifold.png
        ([VaeTools.Imaging.PngDecoder]::ReadFile((Join-Path $work 'manifold.png'))).Format | Should -Be 'Rgb24'
        $a, $b = Get-Cifar10Data -Subset Test -Path $script:cifar -NoDownload -Count 2 -AsImage
        $script:vae | New-VaeSample -From $a -To $b -Steps 6 -OutFile line.png
        $line = [VaeTools.Imaging.PngDecoder]::ReadFile((Join-Path $work 'line.png'))
        $line.Format | Should -Be 'Rgb24'
        $line.Width | Should -Be (2 + 6 * 34)
    }
}
