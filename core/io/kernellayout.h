#pragma once

// How a Keras weight file lays out its convolution kernels and the dense layer after Flatten:
// TensorFlow's (ConvScope's own) or Theano's. Plain types, free of LibTorch, for front ends.

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

/// The kernel layout to read a Keras weight file with (the CLI's --kernel-layout).
enum class KernelLayout {
    /// As the file says: its root attribute backend "theano" means flipped kernels; a file
    /// without keras_version (or "1.x") is Keras 1, whose kernels are (out, in, h, w) where
    /// their shapes say so, and whose first dense layer then has rows in (C, H, W) order.
    /// Where neither attributes nor shapes tell, TensorFlow's layout (as before this option).
    Auto,
    /// Keras 2 and 3 with TensorFlow (and ConvScope): kernels (h, w, in, out) applied as
    /// cross-correlation, Flatten in (H, W, C) order. Whatever the file says.
    TensorFlow,
    /// Theano's: kernels applied as true convolution (so flipped in both spatial axes for
    /// ConvScope's cross-correlation), stored (out, in, h, w) in a Keras 1 file (Keras 2 always
    /// stored (h, w, in, out)), and the model channels_first, so the dense layer after Flatten
    /// has its rows in (C, H, W) order. Whatever the file says.
    Theano,
};

/// Whether a file whose keras_version attribute is `version` (empty when absent) is Keras 1's.
bool isKerasOneVersion(const std::string& version);

const char* kernelLayoutName(KernelLayout layout);  ///< "auto", "tensorflow", "theano"
/// Throws convscope::Error("kernel layout", "unknown 'x' (auto, tensorflow or theano)").
KernelLayout parseKernelLayout(const std::string& name);

/// How one file is read, once its attributes, the choice and the kernels' shapes are weighed.
struct ResolvedKernelLayout {
    bool outInHw = false;               ///< conv kernels stored (out, in, h, w)
    bool flipped = false;               ///< conv kernels flipped in both spatial axes
    bool channelsFirstFlatten = false;  ///< the dense layer after Flatten has (C, H, W) rows
    /// In words, for the load report: what was found and why ("Theano kernels: backend
    /// 'theano' in the file"). Empty when the file is read in TensorFlow's layout because
    /// nothing said otherwise (a Keras 2 or 3 file, or ConvScope's own).
    std::string note;
};

/// A convolution kernel to load: its shape in the file and the model's (out, in, h, w).
struct ConvKernelShapes {
    std::string layer;
    std::vector<std::int64_t> stored;
    std::vector<std::int64_t> model;
};

/// Decides how to read a Keras file whose root attributes are `kerasVersion` and `backend`
/// (empty when absent) and whose plain convolution kernels are `kernels`. Mirrors Keras 2's
/// preprocess_weights_for_loading (see the .cpp for where it differs). Throws
/// convscope::Error(source, reason) for a Keras 1 file some of whose kernels fit only
/// (out, in, h, w) and others only (h, w, in, out). Thread-safe; touches no file.
ResolvedKernelLayout resolveKernelLayout(const std::string& kerasVersion,
                                         const std::string& backend,
                                         const std::vector<ConvKernelShapes>& kernels,
                                         KernelLayout asked, const std::string& source);

}  // namespace convscope
