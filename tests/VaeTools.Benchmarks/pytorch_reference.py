#!/usr/bin/env python3
"""PyTorch reference for the side-by-side VAE benchmark (the classic pytorch/examples "vae").

Usage:
    /usr/bin/python3 pytorch_reference.py --data DIR --epochs 10 --batch-size 128 \
        --hidden 400 --latent 20 --lr 1e-3 --seed 1 [--threads N] [--limit N]

Model and objective (identical to what the C# engine runs):
    encoder  fc1 784->hidden ReLU, fc21 hidden->latent (mu), fc22 hidden->latent (log sigma^2)
    z        mu + exp(0.5 * logvar) * eps, eps ~ N(0, I) (sampled in training AND in test,
             as the example's test() calls model(data))
    decoder  fc3 latent->hidden ReLU, fc4 hidden->784 logits
    init     nn.Linear default (uniform +-1/sqrt(fan_in) for weight and bias)
    loss     per batch: sum over pixels and images of BCE-with-logits (mathematically the
             example's sigmoid + BCE, but numerically stable) + KL, with
             KL = -0.5 * sum(1 + logvar - mu^2 - exp(logvar)).
             The backward pass and Adam(lr) work on that batch SUM, exactly as the example.
    report   train_loss / test_loss in nats per image (sum over the epoch / number of images).
             The train loss is the running sum during the epoch (parameters change), as in
             the example.

Data: the raw IDX files are read with numpy; the whole training set lives in memory as one
float32 tensor scaled by 1/255. Each epoch draws torch.randperm from a torch.Generator seeded
with --seed and cuts batches with index_select; the last partial batch is kept. There is no
torchvision and no DataLoader (no worker processes, no per-sample Python calls, no collation):
this is the FAIR, fast way to run PyTorch on a small in-memory data set, so the C# engine is
compared with PyTorch at its best rather than with DataLoader overhead.

Threads: --threads N calls torch.set_num_threads(N) and, because Debian's torch runs its GEMMs
in the system OpenBLAS (which keeps its own pthread pool and ignores torch's setting), also
openblas_set_num_threads(N) (--blas-threads M overrides the OpenBLAS count). Without them both
keep their defaults. OpenBLAS kernels and OpenMP waiting: see configure_native_libraries (--openblas-coretype,
--omp-wait-policy): by default AVX-512 OpenBLAS kernels and passive OpenMP waiting.

stdout: one JSON object per line per epoch
    {"impl":"pytorch","epoch":1,"train_loss":..,"test_loss":..,"epoch_seconds":..,"test_seconds":..,
     "epoch_cpu_seconds":..,"loadavg_1min":..}
where epoch_seconds is the wall time of the training pass only (the test pass is test_seconds),
epoch_cpu_seconds the process CPU time of the training pass and loadavg_1min the machine's load
after the epoch (to spot a noisy, shared machine); then one summary line
    {"impl":"pytorch","summary":true,"epochs":..,"mean_epoch_seconds":..,"final_test_loss":..,
     "threads":..,"torch_version":..,"peak_rss_mb":..,"blas_threads":..,"blas_core":..,...}
Nothing else goes to stdout; diagnostics go to stderr.
"""

import argparse
import ctypes
import gzip
import json
import os
import resource
import sys
import time

AVX512_FLAGS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}


def cpu_flags():
    """The CPU feature flags from /proc/cpuinfo (empty set when unreadable)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def configure_native_libraries(argv):
    """Set the environment read once by OpenBLAS and libgomp when they load, so this must run
    BEFORE numpy/torch are imported. Returns (forced OpenBLAS core type or None, OMP_WAIT_POLICY).

    OpenBLAS kernels: Debian's OpenBLAS 0.3.21 does not know newer Xeons (e.g. family 6 model
    207, Emerald Rapids) and silently falls back to its "Prescott" SSE3 kernels, which run sgemm
    6-9x slower than its AVX-512 ("SkylakeX") kernels on such a CPU (fixed upstream in 0.3.25,
    OpenBLAS PR #4268). A benchmark against that would not be fair to PyTorch.
    --openblas-coretype auto (default) keeps OPENBLAS_CORETYPE if the caller set it, otherwise
    picks SkylakeX on CPUs with AVX-512 (F/CD/BW/DQ/VL) and Haswell on CPUs with AVX2+FMA;
    "system" leaves OpenBLAS's own detection alone; any other value is passed as is.

    OpenMP waiting: with torch.set_num_threads(2) on a 2-core machine that other processes also
    use, libgomp's default spin-waiting made epochs 10-15x slower than one thread; passive
    waiting removes that. --omp-wait-policy passive (default) sets OMP_WAIT_POLICY=PASSIVE unless
    the caller set it; "system" leaves it alone; "active" forces spinning.
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--openblas-coretype", default="auto")
    pre.add_argument("--omp-wait-policy", default="passive")
    known = pre.parse_known_args(argv)[0]

    if known.omp_wait_policy in ("passive", "active"):
        if known.omp_wait_policy == "active" or not os.environ.get("OMP_WAIT_POLICY"):
            os.environ["OMP_WAIT_POLICY"] = known.omp_wait_policy.upper()
    wait_policy = os.environ.get("OMP_WAIT_POLICY", "libgomp default")

    choice = known.openblas_coretype
    if choice == "system":
        return None, wait_policy
    if choice == "auto":
        if os.environ.get("OPENBLAS_CORETYPE"):
            return os.environ["OPENBLAS_CORETYPE"], wait_policy
        flags = cpu_flags()
        if AVX512_FLAGS <= flags:
            choice = "SkylakeX"
        elif {"avx2", "fma"} <= flags:
            choice = "Haswell"
        else:
            return None, wait_policy
    os.environ["OPENBLAS_CORETYPE"] = choice
    return choice, wait_policy


if __name__ == "__main__":
    configure_native_libraries(sys.argv[1:])

import numpy as np  # noqa: E402  (after configure_native_libraries on purpose)
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

IMAGE_PIXELS = 28 * 28


def log(message):
    """Diagnostics go to stderr so stdout stays machine-readable."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

def find_idx_file(directory, stem):
    """Return the path of an IDX file named stem (plain or .gz, '-idx' or '.idx' spelling)."""
    candidates = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
    for name in candidates:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"--data {directory!r}: no MNIST file {stem!r} (tried {', '.join(candidates)})")


def read_idx_images(path):
    """Read an IDX3 uint8 image file (big-endian header: magic 0x00000803, count, rows, cols).

    Returns a float32 numpy array [count, rows*cols] scaled to [0, 1].
    """
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 16:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX3 header (16 bytes)")
    magic, count, rows, cols = np.frombuffer(raw, dtype=">u4", count=4)
    if magic != 0x00000803:
        raise ValueError(f"{path}: IDX magic {magic:#010x}, expected 0x00000803 (uint8, 3 dims)")
    expected = 16 + int(count) * int(rows) * int(cols)
    if len(raw) != expected:
        raise ValueError(f"{path}: {len(raw)} bytes, expected {expected} for {count}x{rows}x{cols}")
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(int(count), int(rows) * int(cols))
    return pixels.astype(np.float32) / np.float32(255.0)


def load_mnist(directory, limit=None):
    """Return (train, test) float32 tensors [N, 784] in [0, 1]; limit keeps the first N train images."""
    train = read_idx_images(find_idx_file(directory, "train-images-idx3-ubyte"))
    test = read_idx_images(find_idx_file(directory, "t10k-images-idx3-ubyte"))
    for name, data in (("train", train), ("test", test)):
        if data.shape[1] != IMAGE_PIXELS:
            raise ValueError(f"{name} images have {data.shape[1]} pixels, expected {IMAGE_PIXELS}")
    if limit is not None:
        if limit < 1 or limit > train.shape[0]:
            raise ValueError(f"--limit {limit}: expected 1..{train.shape[0]}")
        train = train[:limit]
    return torch.from_numpy(np.ascontiguousarray(train)), torch.from_numpy(np.ascontiguousarray(test))


# ---------------------------------------------------------------------------------------------
# Model and loss
# ---------------------------------------------------------------------------------------------

class VAE(nn.Module):
    """784-hidden-latent ReLU MLP VAE with a Bernoulli (logit) decoder."""

    def __init__(self, hidden=400, latent=20):
        super().__init__()
        self.fc1 = nn.Linear(IMAGE_PIXELS, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, IMAGE_PIXELS)

    def encode(self, x):                    # x [B, 784]
        h1 = F.relu(self.fc1(x))            # [B, hidden]
        return self.fc21(h1), self.fc22(h1)  # mu, logvar [B, latent]

    def reparameterize(self, mu, logvar):   # always samples, as in the example
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std               # [B, latent]

    def decode(self, z):                    # z [B, latent]
        h3 = F.relu(self.fc3(z))            # [B, hidden]
        return self.fc4(h3)                 # logits [B, 784]

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


class ConvVAE(nn.Module):
    """VaeTools' -Architecture Conv: Conv2d layers (stride 2, padding 1, ReLU), linear heads; a linear layer, then
    ConvTranspose2d layers back to 1 x 28 x 28 (output padding where a size was odd), Bernoulli logits."""

    def __init__(self, channels=(32, 64), kernel=4, latent=20):
        super().__init__()
        sizes, c, convs = [28], 1, []
        for out in channels:
            convs.append(nn.Conv2d(c, out, kernel, stride=2, padding=1))
            sizes.append((sizes[-1] + 2 - kernel) // 2 + 1)
            c = out
        self.conv = nn.ModuleList(convs)
        self.shape = (c, sizes[-1], sizes[-1])
        flat = c * sizes[-1] * sizes[-1]
        self.mean = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent)
        self.input = nn.Linear(latent, flat)
        outs = list(reversed([1] + list(channels[:-1])))
        deconvs = []
        for i, out in enumerate(outs):
            small, big = sizes[-1 - i], sizes[-2 - i]
            op = big - ((small - 1) * 2 - 2 + kernel)
            deconvs.append(nn.ConvTranspose2d(c, out, kernel, stride=2, padding=1, output_padding=op))
            c = out
        self.deconv = nn.ModuleList(deconvs)

    def encode(self, x):                    # x [B, 784]
        h = x.view(-1, 1, 28, 28)
        for conv in self.conv:
            h = F.relu(conv(h))
        h = h.flatten(1)
        return self.mean(h), self.logvar(h)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        h = F.relu(self.input(z)).view(-1, *self.shape)
        for i, deconv in enumerate(self.deconv):
            h = deconv(h)
            if i < len(self.deconv) - 1:
                h = F.relu(h)
        return h.flatten(1)                 # logits [B, 784]

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(logits, x, mu, logvar):
    """Batch SUM of BCE-with-logits over pixels and images plus the KL to N(0, I) (nats)."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def train_epoch(model, optimizer, train, batch_size, generator):
    """One shuffled pass over train; returns the mean loss per image (running, as in the example)."""
    model.train()
    count = train.shape[0]
    perm = torch.randperm(count, generator=generator)
    total = 0.0
    for start in range(0, count, batch_size):
        x = train.index_select(0, perm[start:start + batch_size])  # [B, 784], last batch may be short
        optimizer.zero_grad(set_to_none=True)
        logits, mu, logvar = model(x)
        loss = loss_function(logits, x, mu, logvar)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / count


def test_epoch(model, test, batch_size):
    """Loss per image over test in batches of batch_size, z sampled as in the example's test()."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, test.shape[0], batch_size):
            x = test[start:start + batch_size]
            logits, mu, logvar = model(x)
            total += loss_function(logits, x, mu, logvar).item()
    return total / test.shape[0]


# ---------------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------------

def openblas_library():
    """The OpenBLAS already loaded by torch (dlopen returns the same handle), or None."""
    for name in ("libopenblas.so.0", "libopenblas.so"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_num_threads.restype = ctypes.c_int
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib
        except (OSError, AttributeError):
            continue
    return None


def loaded_blas_libraries():
    """Shared libraries of this process whose name mentions blas (from /proc/self/maps)."""
    found = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "blas" in os.path.basename(path).lower():
                    found.add(path)
    except OSError:
        pass
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description="PyTorch reference VAE (pytorch/examples vae) for the benchmark.")
    p.add_argument("--data", required=True, help="directory with the raw MNIST IDX files")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--arch", default="mlp", choices=("mlp", "conv"))
    p.add_argument("--conv-channels", default="32,64", help="conv: channels per Conv2d layer")
    p.add_argument("--kernel", type=int, default=4, help="conv: kernel size")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="torch and OpenBLAS threads (default: their defaults)")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="OpenBLAS threads if they should differ from --threads")
    p.add_argument("--openblas-coretype", default="auto",
                   help="auto (default), system, or an OpenBLAS core name such as SkylakeX; "
                        "see configure_native_libraries")
    p.add_argument("--omp-wait-policy", default="passive", choices=("passive", "active", "system"),
                   help="OpenMP waiting of torch's intra-op threads; see configure_native_libraries")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--epoch-gate", action="store_true",
                   help="before each epoch print {\"ready_for_epoch\": N} and wait for a line on stdin "
                        "(the benchmark's --interleave runs one VaeTools epoch between PyTorch's)")
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "hidden", "latent"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} {getattr(args, name)}: expected a positive integer")
    for name in ("threads", "blas_threads", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} {value}: expected a positive integer")
    if not args.lr > 0:
        p.error(f"--lr {args.lr}: expected a positive number")
    return args


def emit(record):
    print(json.dumps(record), flush=True)


def main(argv=None):
    args = parse_args(argv)
    blas = openblas_library()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    blas_threads_wanted = args.blas_threads if args.blas_threads is not None else args.threads
    if blas is not None and blas_threads_wanted is not None:
        blas.openblas_set_num_threads(blas_threads_wanted)
    blas_threads = blas.openblas_get_num_threads() if blas is not None else None
    blas_core = blas.openblas_get_corename().decode() if blas is not None else None
    if blas_core is not None and blas_core.lower() in ("prescott", "core2", "nehalem", "unknown") \
            and "avx2" in cpu_flags():
        log(f"WARNING: OpenBLAS runs its {blas_core} kernels on an AVX2/AVX-512 CPU; GEMMs will be slow "
            f"(use --openblas-coretype auto or set OPENBLAS_CORETYPE)")

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    train, test = load_mnist(args.data, args.limit)
    model = (ConvVAE(tuple(int(c) for c in args.conv_channels.split(",")), args.kernel, args.latent)
             if args.arch == "conv" else VAE(args.hidden, args.latent))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    log(f"torch {torch.__version__}, torch threads {torch.get_num_threads()}, "
        f"OpenBLAS threads {blas_threads}, OpenBLAS core {blas_core} "
        f"(OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}), "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}, "
        f"OpenBLAS config {blas.openblas_get_config().decode() if blas is not None else 'not loaded'}, "
        f"BLAS libraries mapped: {', '.join(loaded_blas_libraries()) or 'none'}; "
        f"train {tuple(train.shape)}, test {tuple(test.shape)}")

    epoch_seconds = []
    test_loss = None
    for epoch in range(1, args.epochs + 1):
        if args.epoch_gate:
            emit({"impl": "pytorch", "ready_for_epoch": epoch})
            if not sys.stdin.readline():
                log("stdin closed before epoch %d; stopping" % epoch)
                return
        t0 = time.perf_counter()
        c0 = time.process_time()
        train_loss = train_epoch(model, optimizer, train, args.batch_size, generator)
        t1 = time.perf_counter()
        c1 = time.process_time()
        test_loss = test_epoch(model, test, args.batch_size)
        t2 = time.perf_counter()
        epoch_seconds.append(t1 - t0)
        emit({"impl": "pytorch", "epoch": epoch, "train_loss": train_loss, "test_loss": test_loss,
              "epoch_seconds": t1 - t0, "test_seconds": t2 - t1,
              "epoch_cpu_seconds": c1 - c0, "loadavg_1min": os.getloadavg()[0]})

    emit({"impl": "pytorch", "summary": True, "epochs": args.epochs,
          "mean_epoch_seconds": sum(epoch_seconds) / len(epoch_seconds),
          "final_test_loss": test_loss,
          "threads": torch.get_num_threads(),
          "blas_threads": blas_threads,
          "blas_core": blas_core,
          "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
          "min_epoch_seconds": min(epoch_seconds),
          "torch_version": torch.__version__,
          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
          "train_images": int(train.shape[0]), "batch_size": args.batch_size,
          "hidden": args.hidden, "latent": args.latent, "lr": args.lr, "seed": args.seed})


if __name__ == "__main__":
    main()
