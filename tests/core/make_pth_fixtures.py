"""Writes small torch.save files for test_torchpth into OUTDIR. Exits 77 when torch is missing.

Every tensor's values follow from arange, so the C++ test knows them without reading anything
else. Files:
  small.pth            OrderedDict state_dict (with _metadata): float, int64, int32, float16,
                       float64 and bool tensors, an nn.Parameter, a 0-d int64, and views that
                       share one storage (a transpose, an offset slice)
  proto4.pth           the same with pickle_protocol=4
  checkpoint.pth       {"epoch": 3, "state_dict": ..., "note": "x"}
  dataparallel.pth     keys prefixed "module."
  legacy.pth           _use_new_zipfile_serialization=False
  module.pth           a whole nn.Module
  plain_tensor.pth     a tensor, not a dict
  truncated.pth        small.pth cut in half
  missing_storage.pth  small.pth without the record of storage 0
  text.pth             a text file
"""
import collections
import os
import sys
import zipfile

try:
    import torch
except ImportError:
    sys.exit(77)


def state_dict():
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    d = collections.OrderedDict()
    d["base"] = base
    d["transposed"] = base.t()  # stride (1, 6), same storage
    d["offset"] = base[1:3, 2:5]  # storage offset 8, stride (6, 1)
    d["longs"] = torch.tensor([-3, 0, 2 ** 40], dtype=torch.int64)
    d["ints"] = torch.tensor([7, -8], dtype=torch.int32)
    d["halves"] = torch.tensor([0.5, -2.0], dtype=torch.float16)
    d["doubles"] = torch.tensor([0.1, 1e300], dtype=torch.float64)
    d["flags"] = torch.tensor([True, False, True])
    d["bn.num_batches_tracked"] = torch.tensor(5)
    d["param"] = torch.nn.Parameter(torch.arange(3, dtype=torch.float32) + 0.25)
    d._metadata = collections.OrderedDict([("", {"version": 1}), ("bn", {"version": 2})])
    return d


def main(out):
    os.makedirs(out, exist_ok=True)
    path = lambda name: os.path.join(out, name)  # noqa: E731
    torch.save(state_dict(), path("small.pth"))
    torch.save(state_dict(), path("proto4.pth"), pickle_protocol=4)
    torch.save({"epoch": 3, "state_dict": state_dict(), "note": "x"}, path("checkpoint.pth"))
    torch.save(collections.OrderedDict(("module." + k, v) for k, v in state_dict().items()),
               path("dataparallel.pth"))
    torch.save(state_dict(), path("legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save(torch.nn.Linear(2, 3), path("module.pth"))
    torch.save(torch.zeros(3), path("plain_tensor.pth"))
    with open(path("small.pth"), "rb") as f:
        data = f.read()
    with open(path("truncated.pth"), "wb") as f:
        f.write(data[: len(data) // 2])
    with zipfile.ZipFile(path("small.pth")) as src, \
            zipfile.ZipFile(path("missing_storage.pth"), "w") as dst:
        for info in src.infolist():
            if not info.filename.endswith("/data/0"):
                dst.writestr(info, src.read(info))
    with open(path("text.pth"), "w") as f:
        f.write("these are not weights\n")


if __name__ == "__main__":
    main(sys.argv[1])
