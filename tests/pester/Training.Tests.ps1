#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }
# Pester 5 tests of training as a scheduled job (issue 13; issue 11 items 2, 7, 8): checkpoints that cannot be lost,
# real SIGINT/SIGTERM sent to a child `pwsh -File`, locks across processes, -WhatIf, messages. docs/reliability.md
# lists which test covers which item. Nothing here needs MNIST: the data are made in memory.

BeforeDiscovery {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $script:canSignal = -not $IsWindows -and (Test-Path /bin/kill)
}

BeforeAll {
    $root = Split-Path (Split-Path $PSScriptRoot -Parent) -Parent
    . (Join-Path $PSScriptRoot 'Support.ps1')
    $manifest = Import-VaeToolsUnderTest
    $work = Enter-TestFolder 'vaetools-training'
    # The pwsh that runs these tests, as one process that signals reach: installed as a dotnet global tool, pwsh is
    # dotnet running pwsh.dll (its `pwsh` shim is a second process that does not pass signals on), so start that.
    $pwshPath = [Environment]::ProcessPath
    $pwshArgs = @()
    if ([System.IO.Path]::GetFileNameWithoutExtension($pwshPath) -eq 'dotnet') { $pwshArgs = @([Environment]::GetCommandLineArgs()[0]) }

    # Small MNIST-shaped data made in memory (random pixels in [0, 1]).
    function New-Data([int] $Count, [int] $Seed = 1) {
        $t = [VaeTools.Engine.Tensor]::new($Count, 784)
        $r = [System.Random]::new($Seed)
        for ($i = 0; $i -lt $Count; $i++) { for ($j = 0; $j -lt 784; $j += 7) { $t[$i, $j] = [float]$r.NextDouble() } }
        [VaeTools.Data.TensorDataset]::new($t)
    }
    $data = New-Data 200

    # A job script for a child pwsh: trains with a checkpoint until it is stopped, and records how it ended.
    # -PauseAfterFirstEpoch: after epoch 1 (its checkpoint written) an -OnEpoch hook writes NAME.paused and sleeps for
    # ten minutes, so a test controls when the child is between signals.
    function New-JobScript([string] $Name, [string] $Checkpoint, [int] $BatchSize = 100, [int] $Hidden = 16, [switch] $PauseAfterFirstEpoch) {
        $path = Join-Path $work $Name
        $hook = if ($PauseAfterFirstEpoch) { "-OnEpoch { if (`$args[1].Epoch -eq 1) { 'paused' | Set-Content '$path.paused'; Start-Sleep -Seconds 600 }; `$true }" } else { '' }
        @"
`$ErrorActionPreference = 'Stop'
Import-Module '$manifest'
`$t = [VaeTools.Engine.Tensor]::new(2000, 784)
for (`$i = 0; `$i -lt 2000; `$i++) { for (`$j = 0; `$j -lt 784; `$j += 5) { `$t[`$i, `$j] = [float]((`$i * 7 + `$j) % 11) / 10 } }
`$data = [VaeTools.Data.TensorDataset]::new(`$t)
try {
    New-Vae -HiddenDim $Hidden -LatentDim 2 -Seed 3 |
        Invoke-VaeTraining -Data `$data -Epochs 100000 -BatchSize $BatchSize -ThrottleLimit 1 -CheckpointPath '$Checkpoint' -Resume -WarningVariable w $hook | Out-Null
    'FINISHED' | Set-Content '$path.outcome'
}
catch {
    "CAUGHT|`$(`$_.CategoryInfo.Category)|`$(`$_.FullyQualifiedErrorId)|`$(`$w -join ' ')" | Set-Content '$path.outcome'
    exit 2
}
finally { 'FINALLY' | Add-Content '$path.finally' }
"@ | Set-Content $path
        $path
    }

    function Start-Child([string] $Script) {
        Start-Process -FilePath $pwshPath -ArgumentList ($pwshArgs + @('-NoProfile', '-NonInteractive', '-File', $Script)) -PassThru `
            -RedirectStandardOutput "$Script.out" -RedirectStandardError "$Script.err"
    }

    # Waits (up to two minutes on a loaded machine) for a file: the first epoch's checkpoint is the marker.
    function Wait-File([string] $Path, [int] $Seconds = 120) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not (Test-Path $Path)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "'$Path' did not appear within $Seconds s" }
            Start-Sleep -Milliseconds 100
        }
    }

    # Waits for a line matching a pattern in a file (the child's stderr).
    function Wait-Line([string] $Path, [string] $Pattern, [int] $Seconds = 120) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not ((Test-Path $Path) -and (Get-Content $Path -Raw) -match $Pattern)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "'$Path' did not show /$Pattern/ within $Seconds s (it has: $(Get-Content $Path -Raw -ErrorAction SilentlyContinue))" }
            Start-Sleep -Milliseconds 100
        }
    }

    function Stop-Child($Process) { if (-not $Process.HasExited) { $Process.Kill(); $Process.WaitForExit(10000) | Out-Null } }
}

AfterAll {
    Pop-Location
    Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Signals to a pwsh -File training (issue 13 item 5)' -Skip:(-not $canSignal) {
    It 'stops cleanly on <_>: keeps the last completed epoch in the checkpoint, warns, and the script catches a terminating error' -ForEach @('TERM', 'INT') {
        $ck = Join-Path $work "signal-$_.safetensors"
        $job = New-JobScript "signal-$_.ps1" $ck
        $p = Start-Child $job
        try {
            Wait-File $ck
            & /bin/kill "-$_" $p.Id
            $p.WaitForExit(60000) | Should -BeTrue -Because 'the training stops after the current batch'
        }
        finally { Stop-Child $p }
        $p.ExitCode | Should -Be 2 -Because "the script's catch block ran (stderr: $(Get-Content "$job.err" -Raw))"
        Get-Content "$job.finally" | Should -Be 'FINALLY'
        $outcome = (Get-Content "$job.outcome" -Raw).Split('|')
        $outcome[0] | Should -Be 'CAUGHT'
        $outcome[1] | Should -Be 'OperationStopped'
        $outcome[2] | Should -Be 'TrainingStoppedBySignal,VaeTools.PowerShell.Commands.InvokeVaeTrainingCommand'
        $outcome[3] | Should -Match "stopped by SIG$_"
        $kept = Import-Vae $ck
        $kept.History.Count | Should -BeGreaterOrEqual 1
        $outcome[3] | Should -Match "after epoch $($kept.History.Count), which the checkpoint"
        Test-Path "$ck.lock" | Should -BeFalse
        @(Get-ChildItem $work -Force -Filter '.vt-*.tmp').Count | Should -Be 0
    }
}

Describe 'A second signal to a pwsh -File training (issue 13 item 5)' -Skip:(-not $canSignal) {
    # The kernel delivers a standard signal once when it is sent again while still pending, so two signals sent back to
    # back may arrive as one: the second is sent only after the child has announced the first on stderr. The child then
    # sits in its -OnEpoch hook for ten minutes; only the second signal can end it promptly.
    It 'ends the process at once on a second <_.Signal>, exit code <_.ExitCode>, without running the catch block, leaving the last completed epoch and no temporary file' -ForEach @(
        @{ Signal = 'TERM'; ExitCode = 143 }, @{ Signal = 'INT'; ExitCode = 130 }) {
        $ck = Join-Path $work "second-$Signal.safetensors"
        $job = New-JobScript "second-$Signal.ps1" $ck -PauseAfterFirstEpoch
        $p = Start-Child $job
        try {
            Wait-File "$job.paused"
            & /bin/kill "-$Signal" $p.Id
            Wait-Line "$job.err" "SIG$Signal received; stopping after the current batch"
            $p.HasExited | Should -BeFalse -Because 'the first signal only asks the training to stop after its batch (here: after the hook)'
            & /bin/kill "-$Signal" $p.Id
            $p.WaitForExit(60000) | Should -BeTrue -Because 'the second signal ends the process at once (the hook would hold it for ten minutes)'
        }
        finally { Stop-Child $p }
        $p.ExitCode | Should -Be $ExitCode -Because "the process ended by SIG$Signal itself, 128 + its number (stderr: $(Get-Content "$job.err" -Raw))"
        Test-Path "$job.outcome" | Should -BeFalse -Because 'neither the catch block nor the code after the training ran'
        Test-Path "$job.finally" | Should -BeFalse -Because 'the finally block did not run either'
        (Import-Vae $ck).History.Count | Should -Be 1 -Because 'the checkpoint holds the last completed epoch, whole'
        @(Get-ChildItem $work -Force -Filter '.vt-*.tmp').Count | Should -Be 0
        # The lock file that the killed process leaves holds no lock: the rerun resumes from epoch 1.
        $resumed = New-Vae -HiddenDim 16 -LatentDim 2 -Seed 3 | Invoke-VaeTraining -Data $data -Epochs 1 -BatchSize 100 -CheckpointPath $ck -Resume
        $resumed.History.Count | Should -Be 2
    }
}

Describe 'One training per checkpoint, across processes (issue 13 item 2)' -Skip:($IsWindows) {
    It 'refuses a second training on a checkpoint another process trains, naming it; after kill -9 the next run goes on' {
        $ck = Join-Path $work 'shared.safetensors'
        $job = New-JobScript 'holder.ps1' $ck
        $p = Start-Child $job
        try {
            Wait-File $ck
            $m = New-Vae -HiddenDim 16 -LatentDim 2 -Seed 3
            $out = $m | Invoke-VaeTraining -Data $data -Epochs 1 -CheckpointPath $ck -Resume -ErrorVariable problems -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            $problems[0].FullyQualifiedErrorId | Should -Be 'CheckpointInUse,VaeTools.PowerShell.Commands.InvokeVaeTrainingCommand'
            $problems[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
            $problems[0].TargetObject | Should -Be $ck
            $problems[0].Exception.Message | Should -Match ([regex]::Escape("process $($p.Id) ("))
            $m.History.Count | Should -Be 0
        }
        finally {
            & /bin/kill -9 $p.Id
            $p.WaitForExit(10000) | Out-Null
        }
        # kill -9 leaves the lock file (no lock) and maybe a temporary file; neither blocks or stays.
        $before = (Import-Vae $ck).History.Count
        $resumed = New-Vae -HiddenDim 16 -LatentDim 2 -Seed 3 | Invoke-VaeTraining -Data $data -Epochs 1 -BatchSize 100 -CheckpointPath $ck -Resume
        $resumed.History.Count | Should -Be ($before + 1)
        Test-Path "$ck.lock" | Should -BeFalse
        @(Get-ChildItem $work -Force -Filter '.vt-*.tmp').Count | Should -Be 0
    }
}

Describe 'Checkpoints that cannot be lost (issue 13 items 1, 3, 4)' {
    It 'refuses to overwrite an existing checkpoint without -Resume, naming the file and both ways on' {
        New-Vae -HiddenDim 8 -Seed 1 | Invoke-VaeTraining -Data $data -Epochs 3 -BatchSize 50 -CheckpointPath c.safetensors | Out-Null
        $m = New-Vae -HiddenDim 8 -Seed 1
        $out = $m | Invoke-VaeTraining -Data $data -Epochs 1 -CheckpointPath c.safetensors -ErrorVariable problems -ErrorAction SilentlyContinue
        $out | Should -BeNullOrEmpty
        $problems[0].FullyQualifiedErrorId | Should -Be 'CheckpointExists,VaeTools.PowerShell.Commands.InvokeVaeTrainingCommand'
        $problems[0].CategoryInfo.Category | Should -Be 'ResourceExists'
        $problems[0].TargetObject | Should -Be (Join-Path $PWD 'c.safetensors')
        $problems[0].Exception.Message | Should -Match '-Resume'
        $problems[0].Exception.Message | Should -Match '-Force'
        (Import-Vae c.safetensors).History.Count | Should -Be 3
        # -Force starts over.
        New-Vae -HiddenDim 8 -Seed 1 | Invoke-VaeTraining -Data $data -Epochs 1 -BatchSize 50 -CheckpointPath c.safetensors -Force | Out-Null
        (Import-Vae c.safetensors).History.Count | Should -Be 1
    }

    It 'trains until -UntilEpoch in total; a rerun of the finished job trains nothing and says so' {
        $job = { New-Vae -HiddenDim 8 -Seed 1 | Invoke-VaeTraining -Data $data -UntilEpoch 3 -BatchSize 50 -CheckpointPath job.safetensors -Resume -WarningVariable w; $w }
        $first = & $job
        ($first | Where-Object { $_ -is [VaeTools.Model.VaeModel] }).History.Count | Should -Be 3
        $stamp = (Get-Item job.safetensors).LastWriteTimeUtc
        $again = & $job 3>$null
        ($again | Where-Object { $_ -is [VaeTools.Model.VaeModel] }).History.Count | Should -Be 3
        "$($again | Where-Object { $_ -isnot [VaeTools.Model.VaeModel] })" | Should -Match 'Nothing to train'
        (Get-Item job.safetensors).LastWriteTimeUtc | Should -Be $stamp
    }

    It 'refuses -Epochs together with -UntilEpoch' {
        { New-Vae -HiddenDim 8 | Invoke-VaeTraining -Data $data -Epochs 2 -UntilEpoch 3 } |
            Should -Throw -ErrorId 'EpochsWithUntilEpoch,VaeTools.PowerShell.Commands.InvokeVaeTrainingCommand'
    }

    It 'trains the piped model itself with -Resume, so exporting it exports the trained model' {
        New-Vae -HiddenDim 8 -Seed 1 | Invoke-VaeTraining -Data $data -Epochs 2 -BatchSize 50 -CheckpointPath inplace.safetensors | Out-Null
        $m = New-Vae -HiddenDim 8 -Seed 1
        $out = $m | Invoke-VaeTraining -Data $data -Epochs 1 -BatchSize 50 -CheckpointPath inplace.safetensors -Resume
        [object]::ReferenceEquals($out, $m) | Should -BeTrue
        $m.History.Count | Should -Be 3
        $m | Export-Vae -Path exported.safetensors
        (Import-Vae exported.safetensors).History.Count | Should -Be 3
    }
}

Describe 'Concurrent trainings and thread counts (issue 11 items 7, 8)' {
    It 'fails a second training of a model another runspace is training' {
        $m = New-Vae -HiddenDim 16 -Seed 2
        $big = New-Data 2000
        $iss = [initialsessionstate]::CreateDefault()
        $iss.ImportPSModule($manifest)
        $ps = [powershell]::Create()
        $ps.Runspace = [runspacefactory]::CreateRunspace($iss)
        $ps.Runspace.Open()
        $null = $ps.AddCommand('Invoke-VaeTraining').AddParameter('Model', $m).AddParameter('Data', $big).AddParameter('Epochs', 100000).AddParameter('ThrottleLimit', 1)
        $async = $ps.BeginInvoke()
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not $m.IsTraining -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            $m.IsTraining | Should -BeTrue
            $out = $m | Invoke-VaeTraining -Data $data -Epochs 1 -ErrorVariable problems -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            $problems[0].FullyQualifiedErrorId | Should -Be 'ModelInUse,VaeTools.PowerShell.Commands.InvokeVaeTrainingCommand'
            $problems[0].CategoryInfo.Category | Should -Be 'ResourceBusy'
        }
        finally {
            $ps.Stop()
            $ps.Runspace.Dispose()
            $ps.Dispose()
        }
        $m.IsTraining | Should -BeFalse
        $epochs = @($m.History | ForEach-Object Epoch)
        for ($i = 0; $i -lt $epochs.Count; $i++) { $epochs[$i] | Should -Be ($i + 1) } # whatever the other run completed, in order: never 1 1 2 2
    }

    It 'gives the same model for one seed on 1, 2 and 3 threads' {
        $runs = foreach ($threads in 1, 2, 3) {
            $m = New-Vae -HiddenDim 16 -Seed 4 | Invoke-VaeTraining -Data $data -Epochs 2 -BatchSize 50 -ThrottleLimit $threads
            ($m.History | ForEach-Object { $_.TrainLoss.ToString('R') }) -join ' '
        }
        $runs[1] | Should -Be $runs[0]
        $runs[2] | Should -Be $runs[0]
    }
}

Describe '-WhatIf trains nothing (issue 11 item 2)' {
    It 'says what would be trained, and trains and writes nothing, with and without a checkpoint' {
        $m = New-Vae -HiddenDim 8 -Seed 1
        $text = & $pwshPath @pwshArgs -NoProfile -NonInteractive -Command "Import-Module '$manifest'; `$m = New-Vae -HiddenDim 8; `$d = [VaeTools.Data.TensorDataset]::new([VaeTools.Engine.Tensor]::new(10, 784)); `$m | Invoke-VaeTraining -Data `$d -Epochs 2 -WhatIf; 'EPOCHS=' + `$m.History.Count" 2>&1
        "$text" | Should -Match 'What if: .*Train for 2 epochs'
        "$text" | Should -Match 'EPOCHS=0'
        $out = $m | Invoke-VaeTraining -Data $data -Epochs 1 -CheckpointPath whatif.safetensors -WhatIf
        $out | Should -BeNullOrEmpty
        $m.History.Count | Should -Be 0
        Test-Path whatif.safetensors | Should -BeFalse
        Test-Path whatif.safetensors.lock | Should -BeFalse
    }
}

Describe 'Atomic writes (issue 13 item 6)' {
    It 'writes a model under a 230-character name' {
        $name = ('m' * 218) + '.safetensors'
        New-Vae -HiddenDim 8 | Export-Vae -Path $name
        (Import-Vae $name).Config.HiddenDims | Should -Be @(8)
    }

    It 'leaves only a temporary file when a writer is killed mid-write (kill -9), and the next write of that file removes it' -Skip:(-not $canSignal) {
        $target = Join-Path $work 'killed-write.safetensors'
        New-Vae -HiddenDim 8 -Seed 1 | Export-Vae -Path $target
        $before = [System.IO.File]::ReadAllBytes($target)
        $writer = Join-Path $work 'killed-write.ps1'
        # A child writes 1 MB of the target through AtomicFile, says so, and waits there until it is killed.
        @"
Import-Module '$manifest'
[VaeTools.IO.AtomicFile]::Write('$target', [Action[System.IO.Stream]] {
    param(`$stream)
    `$stream.Write([byte[]]::new(1MB), 0, 1MB)
    `$stream.Flush()
    'writing' | Set-Content '$writer.writing'
    Start-Sleep -Seconds 600
})
"@ | Set-Content $writer
        $p = Start-Child $writer
        try {
            Wait-File "$writer.writing"
            & /bin/kill -9 $p.Id
            $p.WaitForExit(60000) | Should -BeTrue
        }
        finally { Stop-Child $p }
        $stem = [VaeTools.IO.AtomicFile]::TempStem($target)
        $left = @(Get-ChildItem $work -Force -Filter "$($stem)*.tmp")
        $left.Count | Should -Be 1 -Because 'the killed writer leaves its temporary file (what the issue saw: an 88 MB hidden file)'
        $left[0].Length | Should -Be 1MB
        [System.IO.File]::ReadAllBytes($target) | Should -Be $before -Because 'the target is untouched by a write that never finished'
        New-Vae -HiddenDim 8 -Seed 2 | Export-Vae -Path $target
        @(Get-ChildItem $work -Force -Filter "$($stem)*.tmp").Count | Should -Be 0 -Because 'the next write of the target removes it'
        (Import-Vae $target).Config.Seed | Should -Be 2
    }

    It 'removes a temporary file that a killed write left, on the next write of that file' {
        New-Vae -HiddenDim 8 | Export-Vae -Path target.safetensors
        $stem = [VaeTools.IO.AtomicFile]::TempStem((Join-Path $PWD 'target.safetensors'))
        [System.IO.File]::WriteAllBytes((Join-Path $PWD "$($stem)deadbeef.tmp"), [byte[]]::new(4096))
        New-Vae -HiddenDim 8 | Export-Vae -Path target.safetensors
        Test-Path (Join-Path $PWD "$($stem)deadbeef.tmp") | Should -BeFalse
    }
}

Describe 'Messages in PowerShell terms (issue 13 item 7)' {
    It 'names -NoDownload, not the C# option' {
        $empty = New-Item -ItemType Directory -Path (Join-Path $work 'no-mnist')
        Get-MnistData -Path $empty -NoDownload -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].Exception.Message | Should -Match '-NoDownload'
        $problems[0].Exception.Message | Should -Not -Match 'MnistLoadOptions|AllowDownload'
    }

    It 'calls a folder given to Import-Vae a folder' {
        $folder = New-Item -ItemType Directory -Path (Join-Path $work 'dir.safetensors')
        Import-Vae $folder -ErrorVariable problems -ErrorAction SilentlyContinue
        $problems[0].Exception.Message | Should -Match 'is a folder'
        $problems[0].Exception.Message | Should -Not -Match 'does not exist'
    }
}
