@{
    # The binary module; build.ps1 -Task Build copies it with VaeTools.Core.dll next to this manifest.
    RootModule           = 'VaeTools.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '46cae403-744c-4419-8a4d-44477c226117'
    Author               = 'VaeTools contributors'
    CompanyName          = 'VaeTools'
    Copyright            = '(c) VaeTools contributors. MIT License.'
    Description          = 'Train and analyse variational autoencoders (VAEs) on MNIST from PowerShell: data loading, training with progress and checkpoints, encodings, samples, latent grids and interpolations, reconstruction error and log-likelihood, latent-unit analysis, plots (SVG/PNG), and model files in the safetensors format.'
    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'
    # Loaded before the types file, which names their classes (the serialization property and converter).
    RequiredAssemblies   = @('VaeTools.Core.dll', 'VaeTools.PowerShell.dll')
    TypesToProcess       = @('VaeTools.Types.ps1xml')
    FormatsToProcess     = @('VaeTools.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-MnistData'
        'Get-Cifar10Data'
        'New-Vae'
        'Invoke-VaeTraining'
        'Get-VaeEncoding'
        'New-VaeSample'
        'New-PpcaModel'
        'Measure-ReconstructionError'
        'Export-Vae'
        'Import-Vae'
        'ConvertTo-Vae'
        'Get-VaeToyData'
        'Measure-VaeLatent'
        'Export-VaePlot'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('VAE', 'VariationalAutoencoder', 'MachineLearning', 'MNIST', 'DeepLearning', 'safetensors', 'PSEdition_Core')
            LicenseUri   = 'https://github.com/vaetools/vaetools/blob/main/LICENSE'
            ProjectUri   = 'https://github.com/vaetools/vaetools'
            ReleaseNotes = 'First release: Get-MnistData, New-Vae (Bernoulli and Gaussian likelihoods, Laplace prior, decoder-only models), Invoke-VaeTraining (ELBO or IWAE, KL warm-up), Get-VaeEncoding, New-VaeSample (prior samples, latent grids, interpolations), Measure-ReconstructionError (with importance-sampled log-likelihood), Measure-VaeLatent, Get-VaeToyData, Export-VaePlot, Export-Vae and Import-Vae.'
        }
    }
}
