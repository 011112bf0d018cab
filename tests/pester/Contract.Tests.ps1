#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# The cmdlets as PowerShell users call them: pipeline binding (by value and by property name), streaming, -WhatIf
# and -Confirm, -ErrorAction and -ErrorVariable, the error records of the main errors, -Verbose text, progress
# records, Ctrl+C ($ps.Stop()) during a training, and ForEach-Object -Parallel over several models.
# Most tests use the 2-D toy data and tiny models, so they need no MNIST and stay quick; those that stream MNIST
# images are skipped (saying so) when MNIST is not on this machine.

BeforeDiscovery {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $script:haveData = Test-MnistCached
    if (-not $script:haveData) { Write-Warning 'MNIST is not on this machine (-NoDownload found nothing): the MNIST streaming tests are SKIPPED.' }
}

BeforeAll {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $work = Enter-TestFolder 'vaetools-pester-contract'

    $toy = Get-VaeToyData -Count 200 -Seed 1
    $toy2 = Get-VaeToyData -Count 100 -Rotated -Seed 2
    function New-Toy([ulong] $Seed = 1) { New-Vae -InputDim 2 -HiddenDim 8 -LatentDim 2 -Seed $Seed }
    $trained = New-Toy 3 | Invoke-VaeTraining -Data $toy -Epochs 1 -BatchSize 50 -Seed 1
    $trained | Export-Vae -Path trained.safetensors
    $mnistWidth = [VaeTools.Data.TensorDataset]::new([VaeTools.Engine.Tensor]::new(3, 784))

    # SHA-256 of every parameter's values, in order: equal hashes mean bitwise-equal models.
    function Get-WeightHash($Model) {
        $stream = [System.IO.MemoryStream]::new()
        foreach ($p in $Model.Parameters) {
            $values = $p.Value.ToArray()
            $bytes = [byte[]]::new($values.Length * 4)
            [Buffer]::BlockCopy($values, 0, $bytes, 0, $bytes.Length)
            $stream.Write($bytes, 0, $bytes.Length)
        }
        [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($stream.ToArray()))
    }

    # Runs a script in a new runspace with the module imported; returns the PowerShell object after it ended.
    function Invoke-InRunspace([string] $Script, [object[]] $Arguments = @()) {
        $ps = [powershell]::Create()
        $null = $ps.AddScript("param(`$manifest) Import-Module `$manifest").AddArgument($manifest).AddStatement()
        $null = $ps.AddScript($Script)
        foreach ($a in $Arguments) { $null = $ps.AddArgument($a) }
        $output = $ps.Invoke()
        [pscustomobject]@{ Output = $output; Streams = $ps.Streams; PowerShell = $ps }
    }
}

AfterAll {
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Pipeline binding by value' {
    It 'New-Vae takes data sets from the pipeline, one model per data set, sized to it' {
        $models = @($toy, $mnistWidth | New-Vae -HiddenDim 8 -LatentDim 2)
        $models.Count | Should -Be 2
        $models.Config.InputDim | Should -Be @(2, 784)
    }

    It 'Invoke-VaeTraining takes the model from the pipeline and emits that same object, trained' {
        $m = New-Toy
        $out = $m | Invoke-VaeTraining -Data $toy -Epochs 1 -BatchSize 50
        [object]::ReferenceEquals($out, $m) | Should -BeTrue
        $m.History.Count | Should -Be 1
    }

    It 'Invoke-VaeTraining takes the data set from the pipeline' {
        $m = New-Toy
        $out = $toy | Invoke-VaeTraining -Model $m -Epochs 1 -BatchSize 50
        [object]::ReferenceEquals($out, $m) | Should -BeTrue
        $m.History.Count | Should -Be 1
    }

    It 'Get-VaeEncoding takes data sets from the pipeline, one code per row' {
        $codes = @($toy, $toy2 | Get-VaeEncoding -Model $trained)
        $codes.Count | Should -Be 300
        $codes[0] | Should -BeOfType ([VaeTools.PowerShell.LatentCode])
        $codes[199].Index | Should -Be 199
        $codes[200].Index | Should -Be 0
    }

    It 'Get-VaeEncoding takes image objects from the pipeline' {
        $images = @($trained | New-VaeSample -Count 3 -Seed 1)
        $codes = @($images | Get-VaeEncoding -Model $trained)
        $codes.Count | Should -Be 3
        $codes.Index | Should -Be @(0, 1, 2)
    }

    It 'New-VaeSample takes models from the pipeline' {
        @($trained, (New-Toy 9) | New-VaeSample -Count 2).Count | Should -Be 4
    }

    It 'Measure-ReconstructionError takes the model from the pipeline' {
        ($trained | Measure-ReconstructionError -Data $toy).Count | Should -Be 200
    }

    It 'Measure-ReconstructionError takes the data set from the pipeline' {
        @($toy, $toy2 | Measure-ReconstructionError -Model $trained | ForEach-Object Count) | Should -Be @(200, 100)
    }

    It 'Measure-VaeLatent takes the model and the data set from the pipeline' {
        @($trained | Measure-VaeLatent -Data $toy).Count | Should -Be 2
        @($toy | Measure-VaeLatent -Model $trained).Count | Should -Be 2
    }

    It 'Export-Vae takes the model from the pipeline' {
        $file = $trained | Export-Vae -Path piped.safetensors -PassThru
        $file | Should -BeOfType ([System.IO.FileInfo])
        (Import-Vae piped.safetensors).History.Count | Should -Be 1
    }

    It 'Export-VaePlot takes the model from the pipeline' {
        ($trained | Export-VaePlot LearningCurve piped.svg -PassThru).Name | Should -Be 'piped.svg'
    }

    It 'Import-Vae takes path strings from the pipeline' {
        $trained | Export-Vae -Path second.safetensors
        @('trained.safetensors', 'second.safetensors' | Import-Vae).Count | Should -Be 2
    }

    It 'rejects an object of another type with InputObjectNotBound naming the object' {
        'not a model' | Invoke-VaeTraining -Data $toy -Epochs 1 -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].FullyQualifiedErrorId | Should -Be 'InputObjectNotBound,VaeTools.PowerShell.Commands.InvokeVaeTrainingCommand'
        $problems[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $problems[0].TargetObject | Should -Be 'not a model'
    }
}

Describe 'Pipeline binding by property name' {
    It 'Import-Vae binds the FullName of Get-ChildItem''s files' {
        $null = New-Item -ItemType Directory byname
        $trained | Export-Vae -Path byname/a.safetensors
        $trained | Export-Vae -Path byname/b.safetensors
        $models = @(Get-ChildItem byname -Filter *.safetensors | Import-Vae)
        $models.Count | Should -Be 2
        $models | ForEach-Object { $_ | Should -BeOfType ([VaeTools.Model.VaeModel]) }
    }

    It 'Import-Vae binds the Path property of any object' {
        $model = [pscustomobject]@{ Path = (Join-Path $PWD 'trained.safetensors'); Note = 'x' } | Import-Vae
        (Get-WeightHash $model) | Should -Be (Get-WeightHash $trained)
    }

    It 'Import-Vae binds the FullName property of any object' {
        $model = [pscustomobject]@{ FullName = (Join-Path $PWD 'trained.safetensors') } | Import-Vae
        $model.History.Count | Should -Be 1
    }
}

Describe 'Streaming: each input''s output leaves before the next input arrives' {
    BeforeAll {
        # Logs 'in' as each input enters and 'out' as each output leaves; streaming means an 'out' before the last 'in'.
        # The command under test stands in the middle of one pipeline (a script block around it would collect its input).
        function Get-PipelineOrder([string] $Inputs, [string] $Command) {
            $log = [System.Collections.Generic.List[string]]::new()
            . ([scriptblock]::Create("$Inputs | ForEach-Object { `$log.Add('in'); `$_ } | $Command | ForEach-Object { `$log.Add('out') }"))
            , $log.ToArray()
        }
    }

    It '<Command> streams' -ForEach @(
        @{ Inputs = '$toy, $toy2'; Command = 'New-Vae -HiddenDim 4' }
        @{ Inputs = '(New-Toy 1), (New-Toy 2)'; Command = 'Invoke-VaeTraining -Data $toy -Epochs 1 -BatchSize 100' }
        @{ Inputs = '$toy, $toy2'; Command = 'Get-VaeEncoding -Model $trained' }
        @{ Inputs = '$trained, $trained'; Command = 'New-VaeSample -Count 2' }
        @{ Inputs = '$trained, $trained'; Command = 'Measure-ReconstructionError -Data $toy' }
        @{ Inputs = '$toy, $toy2'; Command = 'Measure-ReconstructionError -Model $trained' }
        @{ Inputs = '$trained, $trained'; Command = 'Measure-VaeLatent -Data $toy' }
        @{ Inputs = '$trained, $trained'; Command = 'Export-Vae -Path stream.safetensors -PassThru' }
        @{ Inputs = '$trained, $trained'; Command = 'Export-VaePlot LearningCurve stream.svg -PassThru' }
        @{ Inputs = "'trained.safetensors', 'trained.safetensors'"; Command = 'Import-Vae' }
    ) {
        $order = Get-PipelineOrder -Inputs $Inputs -Command $Command
        @($order | Where-Object { $_ -eq 'in' }).Count | Should -Be 2
        $order.IndexOf('out') | Should -BeGreaterOrEqual 0
        $order.IndexOf('out') | Should -BeLessThan ([array]::LastIndexOf($order, 'in')) -Because "the first output comes before the last input ($($order -join ' '))"
    }

    It 'Get-MnistData -AsImage sends its first image before it has read the last' -Skip:(-not $haveData) {
        # The whole training set: the first object must arrive long before the 60000th is made.
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$manifest'; Get-MnistData -Subset Train -AsImage -NoDownload")
        $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
        $handle = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $output)
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ($output.Count -eq 0 -and -not $handle.IsCompleted -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 1 }
        $completedAtFirst = $handle.IsCompleted
        $countAtFirst = $output.Count
        $ps.Stop()
        $ps.Dispose()
        $countAtFirst | Should -BeGreaterThan 0
        $completedAtFirst | Should -BeFalse
        $output.Count | Should -BeLessThan 60000
        $output[0] | Should -BeOfType ([VaeTools.PowerShell.ImageRecord])
    }

    It 'Select-Object -First stops Get-MnistData -AsImage early' -Skip:(-not $haveData) {
        $log = [System.Collections.Generic.List[int]]::new()
        $first = Get-MnistData -Subset Test -AsImage -NoDownload | ForEach-Object { $log.Add($_.Index); $_ } | Select-Object -First 3
        $first.Index | Should -Be @(0, 1, 2)
        $log.Count | Should -Be 3
    }
}

Describe '-WhatIf and -Confirm on the cmdlets that write files' {
    BeforeAll {
        # What-if lines go to the host, not to a stream: a child pwsh prints them on its standard output.
        $whatIfDir = Join-Path $work 'whatif'
        $null = New-Item -ItemType Directory $whatIfDir
        $trained | Export-Vae -Path (Join-Path $whatIfDir 'model.safetensors')
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$manifest'
Set-Location '$whatIfDir'
`$m = Import-Vae model.safetensors
`$m | Export-Vae -Path w.safetensors -WhatIf
`$m | Export-VaePlot LearningCurve w.svg -WhatIf
`$m | New-VaeSample -Count 4 -OutFile w.png -WhatIf
'END'
"@
        # This same PowerShell; run as 'dotnet pwsh.dll' when it is the dotnet tool.
        $exe = [Environment]::ProcessPath
        $prefix = @(if ([System.IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
        $whatIfText = (& $exe @prefix -NoProfile -NonInteractive -Command $script 2>&1) -join "`n"
    }

    It '<Command> -WhatIf writes nothing and prints a What if line naming the file' -ForEach @(
        @{ Command = 'Export-Vae'; File = 'w.safetensors'; Says = 'Write the model' }
        @{ Command = 'Export-VaePlot'; File = 'w.svg'; Says = 'Write a LearningCurve plot' }
        @{ Command = 'New-VaeSample'; File = 'w.png'; Says = 'Write a PNG grid of 4 samples' }
    ) {
        $whatIfText | Should -Match 'END'
        Test-Path (Join-Path $whatIfDir $File) | Should -BeFalse
        $whatIfText | Should -Match ('What if: Performing the operation "' + [regex]::Escape($Says) + '[^"]*" on target "[^"]*' + [regex]::Escape($File) + '"')
    }

    It '<Command> -Confirm:$false writes without asking even when $ConfirmPreference is Low' -ForEach @(
        @{ Command = 'Export-Vae'; File = 'c.safetensors'; Run = { param($m) $m | Export-Vae -Path c.safetensors -Confirm:$false } }
        @{ Command = 'Export-VaePlot'; File = 'c.svg'; Run = { param($m) $m | Export-VaePlot LearningCurve c.svg -Confirm:$false } }
        @{ Command = 'New-VaeSample'; File = 'c.png'; Run = { param($m) $m | New-VaeSample -Count 4 -OutFile c.png -Confirm:$false } }
    ) {
        $ConfirmPreference = 'Low'
        & $Run $trained
        Test-Path $File | Should -BeTrue
    }

    It '<Command> asks before writing: with nobody to answer, it writes nothing' -ForEach @(
        @{ Command = 'Export-Vae'; Body = '$m | Export-Vae -Path ask.safetensors -Confirm' }
        @{ Command = 'Export-VaePlot'; Body = '$m | Export-VaePlot LearningCurve ask.svg -Confirm' }
        @{ Command = 'New-VaeSample'; Body = '$m | New-VaeSample -Count 4 -OutFile ask.png -Confirm' }
    ) {
        # A runspace without a host cannot prompt: the confirmation fails and the file is not written.
        $dir = Join-Path $work "ask-$Command"
        $null = New-Item -ItemType Directory $dir
        $r = Invoke-InRunspace -Script ("param(`$m) Set-Location '$dir'; " + $Body) -Arguments @($trained)
        $r.Streams.Error.Count | Should -BeGreaterThan 0
        $r.Streams.Error[0].Exception.Message | Should -Match 'prompts the user' 
        @(Get-ChildItem $dir -Filter 'ask.*').Count | Should -Be 0
    }
}

Describe '-ErrorAction and -ErrorVariable' {
    It '-ErrorAction Stop turns a missing model file into a terminating error with its id' {
        { Import-Vae absent.safetensors -ErrorAction Stop } | Should -Throw -ErrorId 'ModelFileNotFound,VaeTools.PowerShell.Commands.ImportVaeCommand'
    }

    It '-ErrorAction Stop can be caught as an ErrorRecord in try/catch' {
        $caught = $null
        try { $trained | Measure-ReconstructionError -Data $mnistWidth -ErrorAction Stop } catch { $caught = $_ }
        $caught | Should -Not -BeNullOrEmpty
        $caught.FullyQualifiedErrorId | Should -Be 'WidthMismatch,VaeTools.PowerShell.Commands.MeasureReconstructionErrorCommand'
    }

    It '-ErrorAction SilentlyContinue goes on with the next input and -ErrorVariable collects what failed' {
        $models = @('trained.safetensors', 'absent1.safetensors', 'trained.safetensors', 'absent2.safetensors' |
            Import-Vae -ErrorAction SilentlyContinue -ErrorVariable problems)
        $models.Count | Should -Be 2
        $problems.Count | Should -Be 2
        $problems.TargetObject | ForEach-Object { $_ | Should -Match 'absent\d\.safetensors$' }
    }

    It '-ErrorVariable +name appends' {
        Import-Vae absent1.safetensors -ErrorAction SilentlyContinue -ErrorVariable acc
        Import-Vae absent2.safetensors -ErrorAction SilentlyContinue -ErrorVariable +acc
        $acc.Count | Should -Be 2
    }

    It '-ErrorAction Ignore leaves $Error untouched; SilentlyContinue records in it' {
        $Error.Clear()
        Import-Vae absent.safetensors -ErrorAction Ignore
        $Error.Count | Should -Be 0
        Import-Vae absent.safetensors -ErrorAction SilentlyContinue
        $Error.Count | Should -Be 1
    }

    It 'a model of another width in a piped sequence fails alone: the others train' {
        $wide = New-Vae -InputDim 784 -HiddenDim 4 -LatentDim 2
        $out = @((New-Toy 1), $wide, (New-Toy 2) | Invoke-VaeTraining -Data $toy -Epochs 1 -BatchSize 100 -ErrorAction SilentlyContinue -ErrorVariable problems)
        $out.Count | Should -Be 2
        $problems.Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'WidthMismatch,*'
    }
}

Describe 'Error records: id, category, target object and a message in PowerShell terms' {
    BeforeAll {
        $empty = Join-Path $work 'empty'
        $null = New-Item -ItemType Directory $empty
        $damaged = Join-Path $work 'damaged'
        $null = New-Item -ItemType Directory $damaged
        foreach ($name in 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte') {
            [System.IO.File]::WriteAllText((Join-Path $damaged $name), 'not an IDX file')
        }
        $decoderOnly = New-Vae -InputDim 2 -HiddenDim 8 -LatentDim 2 -DecoderOnly
        $threeD = New-Vae -InputDim 2 -HiddenDim 8 -LatentDim 3
        $untrained = New-Toy
        $trained | Export-Vae -Path exists.safetensors
    }

    It '<Case>' -ForEach @(
        @{ Case = 'Get-MnistData: files missing with -NoDownload'; Id = 'MnistDataNotFound'; Category = 'ObjectNotFound'
            Run = { Get-MnistData -Path $empty -NoDownload }; Target = { $empty }; Message = "not found in '.*empty'.*Leave out -NoDownload" }
        @{ Case = 'Get-MnistData: damaged files'; Id = 'MnistChecksumMismatch'; Category = 'InvalidData'
            Run = { Get-MnistData -Path $damaged -NoDownload }; Target = { $damaged }; Message = 'Checksum mismatch for .*train-images-idx3-ubyte' }
        @{ Case = 'New-Vae: -InputDim against the data piped in'; Id = 'WidthMismatch'; Category = 'InvalidArgument'
            Run = { $toy | New-Vae -InputDim 5 }; Target = { $toy }; Message = '-InputDim 5 does not match' }
        @{ Case = 'Invoke-VaeTraining: data of another width'; Id = 'WidthMismatch'; Category = 'InvalidArgument'
            Run = { $trained | Invoke-VaeTraining -Data $mnistWidth -Epochs 1 }; Target = { $mnistWidth }; Message = '784 values, but the model .* takes 2' }
        @{ Case = 'Get-VaeEncoding: data of another width'; Id = 'WidthMismatch'; Category = 'InvalidArgument'
            Run = { $mnistWidth | Get-VaeEncoding -Model $trained }; Target = { $mnistWidth }; Message = 'takes 2' }
        @{ Case = 'Get-VaeEncoding: a decoder-only model'; Id = 'DecoderOnlyModel'; Category = 'InvalidOperation'
            Run = { $toy | Get-VaeEncoding -Model $decoderOnly }; Target = { $decoderOnly }; Message = 'decoder-only' }
        @{ Case = 'New-VaeSample: a grid over three latent dimensions'; Id = 'GridNeedsTwoDimensions'; Category = 'InvalidArgument'
            Run = { $threeD | New-VaeSample -Grid 3 }; Target = { $threeD }; Message = 'New-Vae -LatentDim 2' }
        @{ Case = 'New-VaeSample: a row number without -Data'; Id = 'MissingData'; Category = 'InvalidArgument'
            Run = { $trained | New-VaeSample -From 0 -To 1 }; Target = { 0 }; Message = '-From 0 is a row number, which needs -Data' }
        @{ Case = 'New-VaeSample: a row outside -Data'; Id = 'IndexOutOfRange'; Category = 'InvalidArgument'
            Run = { $trained | New-VaeSample -From 0 -To 500 -Data $toy }; Target = { 500 }; Message = '-To 500 is outside' }
        @{ Case = 'New-VaeSample: an interpolation end of another kind'; Id = 'UnsupportedInterpolationEnd'; Category = 'InvalidArgument'
            Run = { $trained | New-VaeSample -From 'a' -To 'b' }; Target = { 'a' }; Message = 'expected an image object' }
        @{ Case = 'New-VaeSample: two grid ranges'; Id = 'AmbiguousGridRange'; Category = 'InvalidArgument'
            Run = { $trained | New-VaeSample -Grid 3 -Range 0, 1, 0, 1 -Quantile }; Target = { , @(0.0, 1.0, 0.0, 1.0) }; Message = 'at most one of -Range, -Data and -Quantile' }
        @{ Case = 'Measure-ReconstructionError: a decoder-only model'; Id = 'DecoderOnlyModel'; Category = 'InvalidOperation'
            Run = { $decoderOnly | Measure-ReconstructionError -Data $toy }; Target = { $decoderOnly }; Message = 'decoder-only' }
        @{ Case = 'Measure-VaeLatent: data of another width'; Id = 'WidthMismatch'; Category = 'InvalidArgument'
            Run = { $trained | Measure-VaeLatent -Data $mnistWidth }; Target = { $mnistWidth }; Message = 'takes 2' }
        @{ Case = 'Export-Vae: -NoClobber and the file exists'; Id = 'ModelFileExists'; Category = 'ResourceExists'
            Run = { $trained | Export-Vae -Path exists.safetensors -NoClobber }; Target = { Join-Path $PWD 'exists.safetensors' }; Message = 'already exists and -NoClobber' }
        @{ Case = 'Export-Vae: the folder does not exist'; Id = 'ModelFolderNotFound'; Category = 'ObjectNotFound'
            Run = { $trained | Export-Vae -Path nowhere/x.safetensors }; Target = { Join-Path $PWD 'nowhere/x.safetensors' }; Message = "folder '.*nowhere' does not exist" }
        @{ Case = 'Import-Vae: no such file'; Id = 'ModelFileNotFound'; Category = 'ObjectNotFound'
            Run = { Import-Vae absent.safetensors }; Target = { Join-Path $PWD 'absent.safetensors' }; Message = 'absent\.safetensors' }
        @{ Case = 'Import-Vae: a folder'; Id = 'ModelPathIsFolder'; Category = 'InvalidArgument'
            Run = { Import-Vae $empty }; Target = { $empty }; Message = "is a folder, not a model file.*Get-ChildItem" }
        @{ Case = 'Get-MnistData: -Path names a file'; Id = 'MnistPathIsFile'; Category = 'InvalidArgument'
            Run = { Get-MnistData -Path (Join-Path $damaged 'train-images-idx3-ubyte') -NoDownload }; Target = { Join-Path $damaged 'train-images-idx3-ubyte' }; Message = "-Path '.*train-images-idx3-ubyte' is a file; give the folder" }
        @{ Case = 'Export-VaePlot: -Kind Latent without -Data'; Id = 'MissingData'; Category = 'InvalidArgument'
            Run = { $trained | Export-VaePlot Latent l.svg }; Target = { $trained }; Message = '-Kind Latent needs -Data' }
        @{ Case = 'Export-VaePlot: an extension that is not .svg or .png'; Id = 'UnsupportedPlotFormat'; Category = 'InvalidArgument'
            Run = { $trained | Export-VaePlot LearningCurve curve.gif }; Target = { Join-Path $PWD 'curve.gif' }; Message = 'must be \.svg or \.png' }
        @{ Case = 'Export-VaePlot: a learning curve of an untrained model'; Id = 'ModelNotTrained'; Category = 'InvalidOperation'
            Run = { $untrained | Export-VaePlot LearningCurve u.svg }; Target = { $untrained }; Message = 'train it with Invoke-VaeTraining' }
    ) {
        # Non-terminating errors arrive through 2>&1, terminating ones through catch.
        $problems = @(try { & $Run 2>&1 } catch { $_ }) | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }
        $problems = @($problems)
        $problems.Count | Should -BeGreaterOrEqual 1
        $e = $problems[0]
        $e.FullyQualifiedErrorId | Should -BeLike "$Id,VaeTools.PowerShell.Commands.*"
        $e.CategoryInfo.Category | Should -Be $Category
        $expectedTarget = & $Target
        if ($expectedTarget -is [array]) {
            $e.TargetObject | Should -Be $expectedTarget
        } elseif ($expectedTarget -is [string] -or $expectedTarget -is [ValueType]) {
            $e.TargetObject | Should -Be $expectedTarget
        } else {
            [object]::ReferenceEquals($e.TargetObject, $expectedTarget) | Should -BeTrue -Because "the target is the object the error is about ($($e.TargetObject))"
        }
        $e.Exception.Message | Should -Match $Message
        $e.Exception.Message | Should -Not -Match 'MnistLoadOptions|AllowDownload' -Because 'messages name PowerShell parameters, not C# members'
    }

    It 'a ValidateRange failure names the parameter' {
        $caught = $null
        try { New-Vae -LatentDim 0 } catch { $caught = $_ }
        $caught.FullyQualifiedErrorId | Should -Be 'ParameterArgumentValidationError,VaeTools.PowerShell.Commands.NewVaeCommand'
        $caught.Exception.Message | Should -Match "parameter 'LatentDim'"
    }

    It '-Resume without -CheckpointPath ends the command before any training' {
        $m = New-Toy
        { $m | Invoke-VaeTraining -Data $toy -Resume -Epochs 1 } | Should -Throw -ErrorId 'ResumeWithoutCheckpoint,VaeTools.PowerShell.Commands.InvokeVaeTrainingCommand'
        $m.History.Count | Should -Be 0
    }
}

Describe '-Verbose text' {
    It '<Command> says <Says>' -ForEach @(
        @{ Command = 'New-Vae'; Run = { New-Vae -InputDim 2 -HiddenDim 8 -Seed 11 -Verbose }; Says = 'Created VaeModel 2-8-20 .*, seed 11\.' }
        @{ Command = 'Get-VaeToyData'; Run = { Get-VaeToyData -Count 10 -Seed 4 -Verbose }; Says = 'Drew .*10 points.* with seed 4\.' }
        @{ Command = 'Invoke-VaeTraining'; Run = { New-Toy | Invoke-VaeTraining -Data $toy -Epochs 2 -BatchSize 100 -Verbose }; Says = 'Epoch 2/2: train loss \d+\.\d{3} \(reconstruction' }
        @{ Command = 'New-VaeSample'; Run = { $trained | New-VaeSample -Count 3 -Seed 8 -Temperature 0.5 -Verbose }; Says = 'Sampling 3 images at temperature 0\.5 with seed 8\.' }
        @{ Command = 'Measure-VaeLatent'; Run = { $trained | Measure-VaeLatent -Data $toy -Verbose }; Says = '\d of 2 latent dimensions are active' }
        @{ Command = 'Measure-ReconstructionError'; Run = { $trained | Measure-ReconstructionError -Data $toy -ImportanceSamples 3 -Verbose }; Says = 'log p\(x\) ~ -?\d+\.\d\d \+- \d+\.\d\d nats \(3 importance samples, 200 images\)' }
        @{ Command = 'Export-Vae'; Run = { $trained | Export-Vae -Path verbose.safetensors -Verbose }; Says = "Wrote '.*verbose\.safetensors'" }
        @{ Command = 'Import-Vae'; Run = { Import-Vae trained.safetensors -Verbose }; Says = "Read VaeModel .* from '.*trained\.safetensors'" }
        @{ Command = 'Get-MnistData'; Run = { Get-MnistData -Subset Test -Count 5 -NoDownload -Verbose -ErrorAction SilentlyContinue }; Says = 'Loading MNIST Test from' }
    ) {
        $verbose = @(& $Run 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message
        ($verbose -join "`n") | Should -Match $Says
    }

    It 'says nothing on the verbose stream without -Verbose' {
        @(New-Vae -InputDim 2 -HiddenDim 8 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Count | Should -Be 0
    }
}

Describe 'Write-Progress records' {
    It 'a training reports epochs and, under them, batches, and closes both bars' {
        $r = Invoke-InRunspace -Script 'param($m, $d) $m | Invoke-VaeTraining -Data $d -Epochs 3 -BatchSize 50' -Arguments @((New-Toy), $toy)
        $r.Streams.Error.Count | Should -Be 0
        $progress = @($r.Streams.Progress)
        $epochs = @($progress | Where-Object { $_.ParentActivityId -eq -1 -and $_.Activity -match '^Training' })
        $epochs.Count | Should -BeGreaterOrEqual 4
        $epochs[0].Activity | Should -Match 'on toy 2-D Gaussian'
        $percents = @($epochs | Where-Object RecordType -EQ 'Processing' | ForEach-Object PercentComplete)
        for ($i = 1; $i -lt $percents.Count; $i++) { $percents[$i] | Should -BeGreaterOrEqual $percents[$i - 1] }
        $percents[-1] | Should -Be 100
        $epochs[-1].RecordType | Should -Be 'Completed'
        $epochId = $epochs[0].ActivityId
        $batches = @($progress | Where-Object ParentActivityId -EQ $epochId)
        $batches.Count | Should -BeGreaterThan 0
        $batches[0].StatusDescription | Should -Match 'Batch \d+ of 4, loss'
        $batches[-1].RecordType | Should -Be 'Completed'
        $progress | ForEach-Object { $_.PercentComplete | Should -BeIn (-1..100) }
    }

    It 'Measure-ReconstructionError reports the reconstructions and then the log-likelihood' {
        $r = Invoke-InRunspace -Script 'param($m, $d) $m | Measure-ReconstructionError -Data $d -ImportanceSamples 3' -Arguments @($trained, $toy)
        $activities = @($r.Streams.Progress | Select-Object -ExpandProperty Activity -Unique)
        $activities[0] | Should -Match '^Measuring reconstructions of'
        $activities[-1] | Should -Match '^Estimating log p\(x\) .* with 3 importance samples'
        @($r.Streams.Progress | Where-Object RecordType -EQ 'Completed').Count | Should -Be 2
    }

    It 'Get-VaeEncoding and Measure-VaeLatent report how many images are encoded' -ForEach @(
        @{ Script = 'param($m, $d) $d | Get-VaeEncoding -Model $m' }
        @{ Script = 'param($m, $d) $m | Measure-VaeLatent -Data $d' }
    ) {
        $r = Invoke-InRunspace -Script $Script -Arguments @($trained, $toy)
        $statuses = @($r.Streams.Progress.StatusDescription)
        $statuses | Should -Contain '200 of 200 images'
        $r.Streams.Progress[-1].RecordType | Should -Be 'Completed'
    }
}

Describe 'Ctrl+C' {
    It 'a training stopped with Stop() after its first epoch keeps the last completed epoch' {
        $data = Get-VaeToyData -Count 2000 -Seed 3
        $model = New-Vae -InputDim 2 -HiddenDim 32 -LatentDim 2 -Seed 21
        $ps = [powershell]::Create()
        $null = $ps.AddScript("param(`$m, `$d) Import-Module '$manifest'; `$m | Invoke-VaeTraining -Data `$d -Epochs 100000 -BatchSize 20 -Seed 5 -ThrottleLimit 1")
        $null = $ps.AddArgument($model).AddArgument($data)
        $handle = $ps.BeginInvoke()
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ($model.History.Count -lt 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 5 }
        $ps.Stop()
        $handle.IsCompleted | Should -BeTrue
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        $ps.Dispose()
        $epochs = $model.History.Count
        $epochs | Should -BeGreaterOrEqual 1
        $epochs | Should -BeLessThan 100000
        # The same seeds trained for exactly that many epochs give the same weights, bit for bit.
        $again = New-Vae -InputDim 2 -HiddenDim 32 -LatentDim 2 -Seed 21 | Invoke-VaeTraining -Data $data -Epochs $epochs -BatchSize 20 -Seed 5 -ThrottleLimit 1
        (Get-WeightHash $model) | Should -Be (Get-WeightHash $again)
        $model.History[-1].TrainLoss | Should -Be $again.History[-1].TrainLoss
    }

    It 'Stop() ends a long log-likelihood estimate at once and emits nothing' {
        $data = Get-VaeToyData -Count 2000 -Seed 3
        $model = $data | New-Vae -HiddenDim 32 -LatentDim 2 -Seed 1
        $ps = [powershell]::Create()
        $null = $ps.AddScript("param(`$m, `$d) Import-Module '$manifest'; `$m | Measure-ReconstructionError -Data `$d -ImportanceSamples 5000")
        $null = $ps.AddArgument($model).AddArgument($data)
        $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
        $handle = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $output)
        # Wait until the estimate (the second progress activity, several seconds of work) has started.
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not @($ps.Streams.Progress | Where-Object Activity -Match '^Estimating').Count -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 5 }
        $handle.IsCompleted | Should -BeFalse
        $watch = [System.Diagnostics.Stopwatch]::StartNew()
        $ps.Stop()
        $watch.Elapsed.TotalSeconds | Should -BeLessThan 5
        $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        $output.Count | Should -Be 0
        $ps.Dispose()
    }
}

Describe 'Background use' {
    It 'ForEach-Object -Parallel trains several models at once, each equal to its sequential run' {
        $seeds = 1..4
        $parallel = $seeds | ForEach-Object -ThrottleLimit 4 -Parallel {
            Import-Module $using:manifest
            New-Vae -InputDim 2 -HiddenDim 16 -LatentDim 2 -Seed $_ | Invoke-VaeTraining -Data $using:toy -Epochs 3 -BatchSize 25 -Seed (100 + $_) -ThrottleLimit 2
        }
        $parallel = @($parallel | Sort-Object { $_.Config.Seed })
        $parallel.Count | Should -Be 4
        foreach ($seed in $seeds) {
            $sequential = New-Vae -InputDim 2 -HiddenDim 16 -LatentDim 2 -Seed $seed | Invoke-VaeTraining -Data $toy -Epochs 3 -BatchSize 25 -Seed (100 + $seed) -ThrottleLimit 2
            $p = $parallel[$seed - 1]
            $p.Config.Seed | Should -Be $seed
            $p.History.Count | Should -Be 3
            (Get-WeightHash $p) | Should -Be (Get-WeightHash $sequential) -Because "model $seed trained in parallel equals its sequential run"
        }
    }

    It 'ForEach-Object -Parallel measures one model from several runspaces at once with the same results' {
        $expected = ($trained | Measure-ReconstructionError -Data $toy -Seed 3).Elbo
        $elbos = 1..4 | ForEach-Object -ThrottleLimit 4 -Parallel {
            Import-Module $using:manifest
            ($using:trained | Measure-ReconstructionError -Data $using:toy -Seed 3).Elbo
        }
        $elbos | ForEach-Object { $_ | Should -Be $expected }
    }
}
