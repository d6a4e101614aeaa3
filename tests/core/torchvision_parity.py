"""Writes what test_torchvision_parity compares against: for ARCH (vgg16, resnet18,
mobilenetv2), torchvision's model built with torch.manual_seed(0) and weights=None, its
batch-norm layers given random non-trivial statistics and affine parameters, in eval mode:
  OUTDIR/model.pth    torch.save(model.state_dict())
  OUTDIR/input.f32    a fixed random input [2, 3, 224, 224], float32, C order
  OUTDIR/logits.f32   the model's logits for it [2, 1000], float32
Exits 77 when torch or torchvision is missing (the environment scripts/common.sh makes has both)."""
import os
import sys

try:
    import torch
    import torchvision
except ImportError:
    sys.exit(77)


def main(arch, out):
    builders = {"vgg16": torchvision.models.vgg16, "resnet18": torchvision.models.resnet18,
                "mobilenetv2": torchvision.models.mobilenet_v2}
    torch.manual_seed(0)
    model = builders[arch](weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.num_batches_tracked.fill_(7)
    model.eval()
    os.makedirs(out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(x)
    x.numpy().tofile(os.path.join(out, "input.f32"))
    logits.numpy().tofile(os.path.join(out, "logits.f32"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
