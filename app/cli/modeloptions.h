#pragma once

#include "io/modelweights.h"
#include "runtime.h"

#include <optional>
#include <set>
#include <string>

namespace convscope::cli {

class Args;

/// Options that describe a model whose weight file lacks ConvScope metadata.
extern const std::set<std::string> kModelOptions;

/// For weight files without ConvScope metadata: --arch, --size, --classes a,b,c [--head].
std::optional<WeightsMetadata> fallbackMetadata(const Args& args);

/// The network of --arch: a built-in name, or a Keras model file (to_json() or a TF.js layers
/// model.json), with --cut-after LAYER --append SPEC on a Keras network; the input size from
/// --size, else a Keras model's fixed one, else `defaultSize`. Fills architecture, kerasModel,
/// cutAfter, append and inputSize of `m`. `arch`, when given, replaces --arch. A built-in
/// network to cut is turned into its Keras form (asKerasNetwork) by the caller, once its head
/// and flavour are known.
void networkFromArgs(const Args& args, ModelConfig& m, int defaultSize,
                     const std::optional<std::string>& arch = std::nullopt);

/// --kernel-layout auto|tensorflow|theano (default auto): how a Keras file's conv kernels and
/// the dense layer after Flatten are read (io/kernellayout.h).
KernelLayout kernelLayoutFromArgs(const Args& args);

/// --device (default auto: the GPU when there is one).
DeviceChoice deviceFromArgs(const Args& args);
/// --precision for inference commands; fp32 unless asked, so that results match the
/// reference frameworks exactly.
Precision inferencePrecisionFromArgs(const Args& args);

}  // namespace convscope::cli
