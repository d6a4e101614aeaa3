"""Real network, as a new user would fine-tune it: `convscope finetune DATA --weights
model.json --out RUN` on nsfwjs@4.4.0's Keras MobileNetV2 (kept unwrapped in
../shared/data), with no --arch or --flavour. Both phases must run: the file decides the
architecture, the Keras layer names, the 224x224 input and 'tf' preprocessing, and the
recipe, both phases and the final weights agree on them. Exit code 77 (a CTest skip) where
the shared copy is missing."""
import csv
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from test_finetune_cli import write_png  # noqa: E402

SKIP = 77


def main(binary, model_dir):
    model_json = os.path.join(model_dir, "model.json")
    if not os.path.exists(model_json):
        print(f"SKIPPED: {model_json} is missing (the shared copy of nsfwjs@4.4.0)",
              file=sys.stderr)
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        for i in range(8):
            write_png(os.path.join(data, "red", f"{i}.png"), 32, 32, (160 + 8 * i, 20, 30))
            write_png(os.path.join(data, "blue", f"{i}.png"), 32, 32, (20, 30, 160 + 8 * i))
        run_dir = os.path.join(tmp, "run")
        run = subprocess.run([binary, "finetune", data, "--weights", model_json, "--out", run_dir,
                              "--head-epochs", "2", "--finetune-epochs", "1", "--batch", "8"],
                             capture_output=True, text=True, timeout=600)
        print(run.stdout[-2000:], run.stderr[-2000:], file=sys.stderr)
        assert run.returncode == 0, run.stderr
        assert "Finished 3 epochs" in run.stdout, run.stdout

        with open(os.path.join(run_dir, "recipe.json")) as f:
            recipe = json.load(f)
        train = recipe["train"]
        assert train["architecture"] == "mobilenetv2", train
        assert train["flavour"] == "keras", train
        assert train["input_size"] == 224, train
        assert train["preprocessing"]["name"] == "tf", train["preprocessing"]
        assert recipe["last_block"].startswith("block_"), recipe["last_block"]
        for phase in ("head", "finetune"):
            with open(os.path.join(run_dir, phase, "config.json")) as f:
                config = json.load(f)
            assert config["flavour"] == "keras", (phase, config["flavour"])
            assert config["preprocessing"]["name"] == "tf", (phase, config["preprocessing"])

        with open(os.path.join(run_dir, "history.csv")) as f:
            phases = [row["phase"] for row in csv.DictReader(f)]
        assert phases == ["1", "1", "2"], phases

        image = os.path.join(data, "red", "0.png")
        predict = subprocess.run([binary, "predict", os.path.join(run_dir, "weights.h5"), image,
                                  "--json"], capture_output=True, text=True, timeout=300)
        assert predict.returncode == 0, predict.stderr
        result = json.loads(predict.stdout.splitlines()[0])
        assert sorted(result["probabilities"]) == ["blue", "red"], result
    print("both phases ran on the real MobileNetV2 with no extra options", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
