#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Module hygiene in real PowerShell: the manifest, importing twice, removing and importing again, approved verbs and
# singular nouns, [OutputType] against the objects the cmdlets really emit, -WhatIf exactly where files are written,
# and help for every parameter. Imports and removals run in runspaces of their own, so this session's module stays.

BeforeDiscovery {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $script:haveData = Test-MnistCached
    $script:cmdlets = @(Get-Command -Module VaeTools | Sort-Object Name | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $work = Enter-TestFolder 'vaetools-pester-hygiene'
    $source = Import-PowerShellDataFile (Join-Path $root 'VaeTools.psd1')

    # Runs a script in a fresh runspace (nothing imported); returns its output and streams.
    function Invoke-Fresh([string] $Script) {
        $ps = [powershell]::Create()
        $null = $ps.AddScript($Script).AddArgument($manifest)
        $output = $ps.Invoke()
        [pscustomobject]@{ Output = @($output); Errors = @($ps.Streams.Error) }
    }
}

AfterAll {
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The manifest' {
    It 'passes Test-ModuleManifest' {
        $m = Test-ModuleManifest -Path $manifest -ErrorAction Stop
        $m.Name | Should -Be 'VaeTools'
        $m.Version | Should -Be ([version]$source.ModuleVersion)
        $m.Guid | Should -Be ([guid]$source.GUID)
        $m.CompatiblePSEditions | Should -Be @('Core')
    }

    It 'exports exactly the cmdlets the assembly defines, and nothing else' {
        $m = Test-ModuleManifest -Path $manifest
        @($m.ExportedCmdlets.Keys | Sort-Object) | Should -Be @((Get-Command -Module VaeTools -CommandType Cmdlet).Name | Sort-Object)
        @($m.ExportedCmdlets.Keys | Sort-Object) | Should -Be @($source.CmdletsToExport | Sort-Object)
        $m.ExportedFunctions.Count | Should -Be 0
        $m.ExportedAliases.Count | Should -Be 0
        $m.ExportedVariables.Count | Should -Be 0
    }

    It 'loads the format file it names' {
        (Get-Module VaeTools).ExportedFormatFiles | Should -Match 'VaeTools\.Format\.ps1xml$'
        Get-FormatData -TypeName VaeTools.Model.VaeModel | Should -Not -BeNullOrEmpty
    }
}

Describe 'Importing and removing' {
    It 'imports twice with -Force without an error and still works' {
        $r = Invoke-Fresh 'param($m) Import-Module $m; Import-Module $m -Force; Import-Module $m -Force; (New-Vae -InputDim 2 -HiddenDim 4 -Seed 1).Config.InputDim; @(Get-Command -Module VaeTools).Count'
        $r.Errors | Should -BeNullOrEmpty
        $r.Output | Should -Be @(2, (Import-PowerShellDataFile $manifest).CmdletsToExport.Count)
    }

    It 'formats a model the same after a second import' {
        $r = Invoke-Fresh 'param($m) Import-Module $m; $v = New-Vae -InputDim 2 -HiddenDim 4 -Seed 1; ($v | Out-String -Width 80); Import-Module $m -Force; ($v | Out-String -Width 80)'
        $r.Errors | Should -BeNullOrEmpty
        $r.Output.Count | Should -Be 2
        $r.Output[1] | Should -Be $r.Output[0]
        $r.Output[0] | Should -Match '2-4-20'
    }

    It 'removes its cmdlets with Remove-Module and brings them back on the next import' {
        $r = Invoke-Fresh @'
param($m)
Import-Module $m
$null = New-Vae -InputDim 2 -HiddenDim 4
Remove-Module VaeTools
[bool](Get-Module VaeTools)
[bool](Get-Command New-Vae -ErrorAction SilentlyContinue)
Import-Module $m
(New-Vae -InputDim 3 -HiddenDim 4).Config.InputDim
'@
        $r.Errors | Should -BeNullOrEmpty
        $r.Output | Should -Be @($false, $false, 3)
    }

    It 'works under Set-StrictMode -Version Latest' {
        $r = Invoke-Fresh 'param($m) Set-StrictMode -Version Latest; $ErrorActionPreference = "Stop"; Import-Module $m; $t = Get-VaeToyData -Count 50 -Seed 1; $v = $t | New-Vae -HiddenDim 4 -LatentDim 2 -Seed 1 | Invoke-VaeTraining -Data $t -Epochs 1 -BatchSize 25; ($v | Measure-ReconstructionError -Data $t).Count'
        $r.Errors | Should -BeNullOrEmpty
        $r.Output | Should -Be @(50)
    }

    It 'imports by name from a folder on PSModulePath' {
        $parent = Split-Path (Split-Path $manifest -Parent) -Parent # .../VaeTools/<version> -> ...
        $r = Invoke-Fresh ("param(`$m) `$env:PSModulePath = '" + (Split-Path $parent -Parent) + "' + [IO.Path]::PathSeparator + `$env:PSModulePath; Import-Module VaeTools; (Get-Module VaeTools).Version.ToString()")
        $r.Errors | Should -BeNullOrEmpty
        $r.Output | Should -Be @($source.ModuleVersion)
    }
}

Describe 'Names' {
    It '<Name> uses an approved verb' -ForEach $cmdlets {
        (Get-Command $Name).Verb | Should -BeIn (Get-Verb).Verb
    }

    It '<Name> has a singular noun' -ForEach $cmdlets {
        (Get-Command $Name).Noun | Should -Not -Match 's$'
    }
}

Describe '[OutputType]' {
    BeforeAll {
        $toy = Get-VaeToyData -Count 40 -Seed 1
        $model = $toy | New-Vae -HiddenDim 4 -LatentDim 2 -Seed 1 | Invoke-VaeTraining -Data $toy -Epochs 1 -BatchSize 20
        $model | Export-Vae -Path model.safetensors
    }

    It '<Cmdlet> declares <Declared> and emits only those types, each of them' -ForEach @(
        @{ Cmdlet = 'Get-MnistData'; Declared = 'VaeTools.Data.MnistDataset, VaeTools.PowerShell.ImageRecord'; NeedsData = $true
            Runs = { Get-MnistData -Subset Test -Count 2 -NoDownload }, { Get-MnistData -Subset Test -Count 2 -NoDownload -AsImage } }
        @{ Cmdlet = 'New-Vae'; Declared = 'VaeTools.Model.VaeModel'; Runs = , { New-Vae -InputDim 2 -HiddenDim 4 } }
        @{ Cmdlet = 'Invoke-VaeTraining'; Declared = 'VaeTools.Model.VaeModel'; Runs = , { New-Vae -InputDim 2 -HiddenDim 4 | Invoke-VaeTraining -Data $toy -Epochs 1 } }
        # -AsTensor on a Torch model: a TorchSharp tensor, declared by name (so that declaring it does not load TorchSharp).
        @{ Cmdlet = 'Get-VaeEncoding'; Declared = 'VaeTools.PowerShell.LatentCode, VaeTools.Engine.Tensor, TorchSharp.torch+Tensor'
            Runs = { $toy | Get-VaeEncoding -Model $model }, { $toy | Get-VaeEncoding -Model $model -AsTensor }, { $toy | Get-VaeEncoding -Model ($model | ConvertTo-Vae -Engine Torch) -AsTensor } }
        @{ Cmdlet = 'New-VaeSample'; Declared = 'VaeTools.PowerShell.ImageRecord, VaeTools.Engine.Tensor, TorchSharp.torch+Tensor'
            Runs = { $model | New-VaeSample -Count 2 }, { $model | New-VaeSample -Count 2 -AsTensor }, { $model | New-VaeSample -Grid 2 }, { $model | New-VaeSample -From 0 -To 1 -Data $toy -Steps 2 },
                { $model | ConvertTo-Vae -Engine Torch | New-VaeSample -Count 2 -AsTensor } }
        @{ Cmdlet = 'Measure-ReconstructionError'; Declared = 'VaeTools.Analysis.ReconstructionMetrics'; Runs = { $model | Measure-ReconstructionError -Data $toy }, { $model | Measure-ReconstructionError -Data $toy -ImportanceSamples 2 } }
        @{ Cmdlet = 'Export-Vae'; Declared = 'System.IO.FileInfo'; Runs = , { $model | Export-Vae -Path out.safetensors -PassThru } }
        @{ Cmdlet = 'Import-Vae'; Declared = 'VaeTools.Model.VaeModel'; Runs = , { Import-Vae model.safetensors } }
        @{ Cmdlet = 'Get-VaeToyData'; Declared = 'VaeTools.Data.TensorDataset'; Runs = { Get-VaeToyData -Count 3 }, { Get-VaeToyData -Count 3 -Rotated } }
        @{ Cmdlet = 'Measure-VaeLatent'; Declared = 'VaeTools.PowerShell.LatentDimension'; Runs = , { $model | Measure-VaeLatent -Data $toy } }
        @{ Cmdlet = 'Export-VaePlot'; Declared = 'System.IO.FileInfo'; Runs = { $model | Export-VaePlot LearningCurve c.svg -PassThru }, { $model | Export-VaePlot Samples s.png -PassThru } }
    ) {
        if ($_.ContainsKey('NeedsData') -and -not $haveData) { Set-ItResult -Skipped -Because 'MNIST is not on this machine'; return }
        $declared = @((Get-Command $Cmdlet).OutputType.Name) # the type's full name, also for a type declared by name
        $declared | Should -Be @($Declared -split ', ')
        $emitted = foreach ($run in $Runs) {
            $out = @(& $run)
            $out.Count | Should -BeGreaterThan 0
            $out | ForEach-Object { $_.GetType().FullName }
        }
        $emitted = @($emitted | Select-Object -Unique)
        $emitted | ForEach-Object { $_ | Should -BeIn $declared }
        $declared | ForEach-Object { $_ | Should -BeIn $emitted -Because "[OutputType] lists only what $Cmdlet emits" }
    }

    It 'the output types are the ones pipeline parameters take, so cmdlets chain' {
        # What one cmdlet emits, another takes: models, data sets and images bind by type.
        (Get-Command Invoke-VaeTraining).Parameters['Model'].ParameterType.FullName | Should -Be 'VaeTools.Model.VaeModel'
        (Get-Command Invoke-VaeTraining).Parameters['Data'].ParameterType.IsAssignableFrom([VaeTools.Data.MnistDataset]) | Should -BeTrue
        (Get-Command Invoke-VaeTraining).Parameters['Data'].ParameterType.IsAssignableFrom([VaeTools.Data.TensorDataset]) | Should -BeTrue
        (Get-Command Get-VaeEncoding).Parameters['Image'].ParameterType.GetElementType() | Should -Be ([VaeTools.PowerShell.ImageRecord])
    }
}

Describe '-WhatIf and -Confirm' {
    It '<Name> supports -WhatIf exactly when it writes files' -ForEach $cmdlets {
        $writes = $Name -in 'Export-Vae', 'Export-VaePlot', 'Invoke-VaeTraining', 'New-VaeSample'
        $p = (Get-Command $Name).Parameters
        $p.ContainsKey('WhatIf') | Should -Be $writes
        $p.ContainsKey('Confirm') | Should -Be $writes
    }
}

Describe 'Help for every parameter' {
    It '<Name> documents each of its parameters' -ForEach $cmdlets {
        $common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
        $actual = @((Get-Command $Name).Parameters.Keys | Where-Object { $_ -notin $common })
        $help = Get-Help $Name -Full
        $help.Description | Out-String | Should -Not -BeNullOrEmpty
        $documented = @($help.parameters.parameter)
        foreach ($parameter in $actual) {
            $entry = $documented | Where-Object name -EQ $parameter
            $entry | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name should be in its help"
            ($entry.description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$parameter of $Name should be described"
        }
        @($documented.name | Where-Object { $_ -notin $actual -and $_ -notin $common }) | Should -BeNullOrEmpty -Because 'the help documents no parameter that does not exist'
    }

    It '<Name>''s help gives each parameter''s position, pipeline input and whether it is required as the cmdlet has them' -ForEach $cmdlets {
        $command = Get-Command $Name
        foreach ($entry in @((Get-Help $Name -Full).parameters.parameter)) {
            if (-not $command.Parameters.ContainsKey($entry.name)) { continue }
            $sets = @($command.Parameters[$entry.name].ParameterSets.Values)
            $positions = @($sets | ForEach-Object { if ($_.Position -lt 0) { 'named' } else { [string]$_.Position } } | Select-Object -Unique)
            $positions | Should -Contain ([string]$entry.position) -Because "-$($entry.name) of $Name"
            $byValue = [bool]($sets | Where-Object ValueFromPipeline)
            $byName = [bool]($sets | Where-Object ValueFromPipelineByPropertyName)
            $expected = if ($byValue -and $byName) { 'true (ByValue, ByPropertyName)' } elseif ($byValue) { 'true (ByValue)' } elseif ($byName) { 'true (ByPropertyName)' } else { 'false' }
            $entry.pipelineInput | Should -Be $expected -Because "-$($entry.name) of $Name"
            $mandatory = @($sets | ForEach-Object IsMandatory | Select-Object -Unique)
            if ($mandatory.Count -eq 1) { [bool]::Parse($entry.required) | Should -Be $mandatory[0] -Because "-$($entry.name) of $Name" }
        }
    }
}
