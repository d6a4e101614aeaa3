#include "cli/args.h"
#include "cli/commands.h"

#include "error.h"
#include "runtime.h"
#include "util/buglog.h"
#include "util/text.h"

#ifdef CONVSCOPE_HAS_UI
#include "ui/mainwindow.h"
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

const char* kUsage =
    "usage: convscope [FOLDER]                 the workbench window, with FOLDER imported\n"
    "       convscope <command> [arguments]    headless\n"
    "\n"
    "commands:\n"
    "  scan DATA [--json] [--val-fraction F] [--seed N] [--decode [--size N]]\n"
    "      classes, counts, train/validation split and the import report of a folder\n"
    "  augment DATA|IMAGE --out DIR [--n 9] [--class NAME] [--seed N] [--size N]\n"
    "          [--rotation-range D] [--width-shift-range F] [--height-shift-range F]\n"
    "          [--shear-range D] [--zoom-range Z|LO,HI] [--horizontal-flip] [--vertical-flip]\n"
    "          [--brightness-range LO,HI] [--channel-shift-range C]\n"
    "          [--fill-mode constant|nearest|reflect|wrap] [--cval V]\n"
    "      writes augmented previews named <class>_<index>_<random>.jpeg\n"
    "  demo-data DIR [--per-class N] [--val-per-class N] [--source DIR]\n"
    "      exports Debian's Fashion-MNIST as class folders (train/ and validation/)\n"
    "  train DATA [--out RUN_DIR | --workspace DIR] [--arch small|vgg16|resnet18|mobilenetv2]\n"
    "        [--arch MODEL.json [--cut-after LAYER [--append SPEC]]] [--head "
    "flatten|gap|original]\n"
    "        [--size N] [--epochs N] [--batch N] [--optimizer sgd|adam|rmsprop] [--lr F]\n"
    "        [--momentum F] [--nesterov] [--weight-decay F] [--schedule "
    "constant|step|cosine|plateau]\n"
    "        [--early-stopping N] [--seed N] [--val-fraction F]\n"
    "        [--device auto|cpu|cuda|cuda:N] [--precision auto|fp32|bf16|fp16] [--batch N|auto]\n"
    "        [--weights FILE.h5|FILE.pth|model.json [--kernel-layout auto|tensorflow|theano]]\n"
    "        [--freeze-up-to LAYER]\n"
    "        [--flavour standard|keras] [--bn-momentum M] [--no-augment] [augmentation options]\n"
    "        [--json]  (--bn-momentum: every batch norm's, in Keras's terms, e.g. 0.99)\n"
    "        [--no-disk-cache]  (decode every image, without the decoded-image cache)\n"
    "        [--rescale F]  (pixels times F before the network; default 1/255)\n"
    "        [--bottleneck [--features-cache FILE.h5]]  (frozen backbone run once, head only)\n"
    "      --weights takes ConvScope/Keras HDF5 files, torchvision state_dict .pth files and\n"
    "      Keras VGG16/MobileNetV2 backbones (HDF5 or a TF.js model.json): these bring their\n"
    "      architecture, flavour and preprocessing, and get a new head for your classes\n"
    "      --arch MODEL.json: the network of a Keras model.to_json() file or a TF.js layers\n"
    "      model.json (its output dense layer becomes the head, one unit per class);\n"
    "      --cut-after LAYER drops what follows LAYER, --append adds layers after it, e.g.\n"
    "      conv:256:3,maxpool:2,gap,dense:128,dropout:0.5, then a dense layer per class\n"
    "  train ... --nproc-per-node N [--nnodes M --node-rank R --master-addr HOST\n"
    "        --master-port PORT] [--dist-timeout 60]\n"
    "      data-parallel on LibTorch's c10d (Gloo between CPU processes): N processes here,\n"
    "      M machines in all; --batch is per process. Workers started by torchrun, SLURM or\n"
    "      Kubernetes read RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT instead\n"
    "  train --resume RUN_DIR [--batch N] [--nproc-per-node N] [--json]\n"
    "      trains; RUN_DIR gets config.json, history.csv, checkpoint.pt and weights.h5.\n"
    "      --precision auto: bf16 autocast on GPUs with bf16 (else fp16 with loss scaling) and\n"
    "      on CPUs with AVX512_BF16 or AMX (else fp32); weights are always saved as float32.\n"
    "      --batch auto: the largest power of two that fits in 80% of free GPU memory (CPU: 32)\n"
    "  finetune DATA --out RUN_DIR --weights FILE.h5 [--arch A] [--head-epochs 10]\n"
    "           [--finetune-epochs 5] [--bottleneck] [--finetune-lr 1e-4] [--finetune-bn-train]\n"
    "           [train options]\n"
    "  finetune --resume RUN_DIR [--json]\n"
    "      two phases: the head on a frozen backbone (rmsprop), then the last block + head\n"
    "      (SGD lr 1e-4, momentum 0.9, batch norm kept in inference mode unless\n"
    "      --finetune-bn-train); RUN_DIR gets history.csv (with a phase column)\n"
    "      and weights.h5\n"
    "  (WEIGHTS: ConvScope or Keras HDF5, a torchvision state_dict .pth or a TF.js model.json)\n"
    "  (every command that reads a Keras WEIGHTS file, --weights included, takes\n"
    "   --kernel-layout auto|tensorflow|theano: auto reads what the file says (backend\n"
    "   'theano': flipped kernels; a Keras 1 file: (out, in, h, w) kernels where their shapes\n"
    "   tell, then (C, H, W) dense rows after Flatten); theano forces Theano's layout for\n"
    "   files that do not say, such as Keras 1 save_weights files; tensorflow forces ConvScope's)\n"
    "  runs [WORKSPACE] [--json]\n"
    "      every run folder in WORKSPACE (default ~/.local/share/convscope/runs): status\n"
    "      (running, finished, interrupted, failed or damaged), start, duration, data,\n"
    "      architecture, epochs, best and final validation accuracy, device\n"
    "  control RUN_DIR pause|continue|cancel\n"
    "      asks a run another process trains (on any rank's machine: rank 0 reads the\n"
    "      request in RUN_DIR/control.json and tells the others) to pause, go on or stop\n"
    "      after the current step; the window's Pause and Cancel do the same\n"
    "  report RUN_DIR --out REPORT.html [--misclassified 12] [--cam-per-class 2]\n"
    "         [--image-size 192] [--batch 32]\n"
    "      one self-contained HTML page (pictures embedded): settings, data summary, curves,\n"
    "      confusion matrix, per-class precision and recall, the most confidently\n"
    "      misclassified images and class activation maps; it evaluates the run's weights\n"
    "      on its validation split again where the data is still there\n"
    "  info [--json]\n"
    "      this build and machine: version, LibTorch, GPUs, CPU bf16, default precisions\n"
    "  cache [--json] | cache clear | cache limit SIZE\n"
    "      the decoded-image cache (train and finetune keep each dataset's decoded images\n"
    "      there, so later runs on unchanged files skip decoding; --no-disk-cache skips it):\n"
    "      its folder, size and datasets; clear empties it; limit sets its size (2G, 500M)\n"
    "  (evaluate, predict, filters, featuremaps and cam take [--device D] [--precision P] too)\n"
    "  evaluate WEIGHTS DATA [--split validation|train|all] [--json]\n"
    "      accuracy, per-class precision and recall, confusion matrix\n"
    "  predict WEIGHTS IMAGE...|FOLDER [--top-k 3] [--csv OUT.csv] [--json [--logits]]\n"
    "          [--arch A --size N --classes a,b,...]  (for weight files without ConvScope "
    "metadata)\n"
    "          [--classes a,b,... | --labels FILE]  (names for a torchvision .pth's classes)\n"
    "  summary ARCH|WEIGHTS|model.json [--size N] [--classes N] [--head flatten|gap|original]\n"
    "          [--cut-after LAYER [--append SPEC]]  (a Keras model.json)\n"
    "          [--flavour standard|keras] [--json]\n"
    "      layers with output shapes and parameter counts\n"
    "  export WEIGHTS --onnx OUT.onnx [--softmax] [--json]\n"
    "         [--arch A --size N --classes a,b,...]  (for weight files without ConvScope "
    "metadata)\n"
    "  export --keras-model MODEL.json [WEIGHTS.h5] --onnx OUT.onnx [--softmax] [--json]\n"
    "         (--kernel-layout does not apply: the model's layers are read as Keras 2 stores "
    "them)\n"
    "         [--size N] [--classes a,b,... | --labels FILE]\n"
    "         [--preprocessing rescale|tf|caffe|torchvision]\n"
    "      the network as an ONNX model (opset 17) for ONNX Runtime and other engines: input\n"
    "      \"input\" float [batch, 3, H, W], preprocessed as its metadata says; output \"logits\"\n"
    "      [batch, classes], or \"probabilities\" with --softmax; the batch size is free.\n"
    "      metadata_props (JSON): class_names, preprocessing, softmax_applied, model.\n"
    "      --keras-model: any Keras model config (to_json() or a TF.js model.json with its\n"
    "      own weights, else WEIGHTS.h5); Keras files do not say their preprocessing\n"
    "  filters WEIGHTS --layer NAME --out GRID.png [--channels auto|rgb|mean|per-input]\n"
    "          [--normalise filter|layer] [--tile PX] [--json]\n"
    "  filters WEIGHTS --layer NAME --maximize --out GRID.png [--steps 20] [--jitter PX]\n"
    "          [--blur-every N] [--octaves N] [--limit N] [--json]\n"
    "      a conv layer's kernels, or what each filter responds to (activation maximization)\n"
    "  featuremaps WEIGHTS IMAGE --layer NAME --out GRID.png [--colormap viridis|jet|grey]\n"
    "          [--shared-range] [--json]\n"
    "  cam WEIGHTS IMAGE [--class NAME] [--method cam|gradcam] [--layer NAME] --out OVERLAY.png\n"
    "          [--opacity 0.5] [--json]   class activation map, its peak and the 20% box\n";

int run(int argc, char** argv);

}  // namespace

int main(int argc, char** argv) {
    const int status = run(argc, argv);
    // Ends without the libraries' exit handlers: HDF5 1.10 keeps a half-opened file after some
    // failed opens of a damaged file, and its handler then prints "HDF5: infinite loop closing
    // library" and a long line of codes. Everything ConvScope writes is already on disk.
    std::cout.flush();
    std::fflush(nullptr);
    std::_Exit(status);
}

namespace {

int run(int argc, char** argv) {
    const std::map<std::string, std::function<int(const std::vector<std::string>&)>> commands{
        {"scan", convscope::cli::scanCommand},
        {"augment", convscope::cli::augmentCommand},
        {"demo-data", convscope::cli::demoDataCommand},
        {"train", convscope::cli::trainCommand},
        {"evaluate", convscope::cli::evaluateCommand},
        {"predict", convscope::cli::predictCommand},
        {"summary", convscope::cli::summaryCommand},
        {"filters", convscope::cli::filtersCommand},
        {"featuremaps", convscope::cli::featureMapsCommand},
        {"cam", convscope::cli::camCommand},
        {"finetune", convscope::cli::fineTuneCommand},
        {"info", convscope::cli::infoCommand},
        {"runs", convscope::cli::runsCommand},
        {"report", convscope::cli::reportCommand},
        {"export", convscope::cli::exportCommand},
        {"cache", convscope::cli::cacheCommand},
        {"control", convscope::cli::controlCommand},
    };
    if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
        std::printf("convscope %s\n", convscope::convscopeVersion());
        return 0;
    }
    const auto command = argc >= 2 ? commands.find(argv[1]) : commands.end();
    const bool folderOrNothing = argc < 2 || (argc == 2 && std::filesystem::is_directory(argv[1]));
    if (command == commands.end() && folderOrNothing) {
#ifdef CONVSCOPE_HAS_UI
        convscope::configureThreads();
        return convscope::ui::runWorkbench(argc, argv,
                                           argc >= 2 ? QString::fromLocal8Bit(argv[1]) : QString());
#else
        std::fputs(kUsage, stderr);
        return 2;
#endif
    }
    if (command == commands.end()) {
        std::fprintf(stderr, "convscope: unknown command '%s'\n\n%s", argv[1], kUsage);
        return 2;
    }
    std::string context = "convscope";
    for (int i = 1; i < argc; ++i)
        context += std::string(" ") + argv[i];
    convscope::installTerminateReporter(context);
    convscope::configureThreads();
    try {
        return command->second(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const convscope::cli::UsageError& e) {
        std::fprintf(stderr, "convscope %s: %s\n\n%s", argv[1], e.what(), kUsage);
        return 2;
    } catch (const convscope::Error& e) {
        // A name from a damaged file or a Latin-1 folder may hold bytes that are not UTF-8.
        std::fprintf(stderr, "convscope %s: %s\n", argv[1],
                     convscope::escapeInvalidUtf8(e.what()).c_str());
        return 1;
    } catch (...) {
        // Core throws only convscope::Error: anything else is a bug, kept in a report.
        std::fprintf(stderr, "convscope %s: %s\n", argv[1],
                     convscope::describeCurrentException(context).c_str());
        return 70;  // EX_SOFTWARE
    }
}

}  // namespace
