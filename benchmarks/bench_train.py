"""Time for `cnndsl train` to bring LeNet-5 to 95% validation accuracy on scikit-learn's digits.

    python benchmarks/bench_train.py                    # 10 epochs, batch 32, lr 0.05, all threads
    python benchmarks/bench_train.py --threads 1 --plot docs/images/train_lenet5_digits.png

The 1,797 8x8 digits are written as an image folder upscaled to 32x32 (as tests/train_data.py
does), then `cnndsl train lenet5` runs in a fresh process. Printed: the whole command's wall
time, the training time (the sum of metrics.csv's per-epoch seconds, validation included) up to
the first epoch at or above 95% validation accuracy, and that epoch. --plot copies the run's
metrics.png (needs matplotlib) to the given path.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from train_data import write_image_folder  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--plot", type=Path, help="copy metrics.png here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = write_image_folder(Path(folder) / "digits")
        run = Path(folder) / "run"
        command = [sys.executable, "-m", "cnndsl", "train", "lenet5", "--data", str(data), "-o", str(run)]
        command += ["--epochs", str(args.epochs), "--batch", "32", "--lr", "0.05"]
        if args.threads:
            command += ["--threads", str(args.threads)]
        began = time.perf_counter()
        subprocess.run(command, check=True)
        wall = time.perf_counter() - began
        with (run / "metrics.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        elapsed, reached = 0.0, None
        for row in rows:
            elapsed += float(row["seconds"])
            if float(row["val_accuracy"]) >= 0.95:
                reached = int(row["epoch"])
                break
        best = max(float(row["val_accuracy"]) for row in rows)
        print(f"whole command: {wall:.1f} s for {len(rows)} epochs; best validation accuracy {best:.1%}")
        if reached is None:
            print("95% validation accuracy was not reached")
        else:
            print(f"95% validation accuracy after epoch {reached}: {elapsed:.1f} s of training")
        if args.plot and (run / "metrics.png").is_file():
            shutil.copyfile(run / "metrics.png", args.plot)
            print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
