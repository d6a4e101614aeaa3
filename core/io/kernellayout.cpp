#include "io/kernellayout.h"

#include "error.h"
#include "util/enumnames.h"
#include "util/text.h"

namespace convscope {

namespace {

const EnumName<KernelLayout> kNames[] = {{KernelLayout::Auto, "auto"},
                                         {KernelLayout::TensorFlow, "tensorflow"},
                                         {KernelLayout::Theano, "theano"}};

std::vector<std::int64_t> hwioOf(const std::vector<std::int64_t>& oihw) {
    return {oihw[2], oihw[3], oihw[1], oihw[0]};
}

/// Which storage the kernels' shapes allow: the layers that fit only (out, in, h, w), only
/// (h, w, in, out), and whether any fits both (a 3x3 kernel from 3 to 3 channels).
struct ShapeEvidence {
    std::vector<std::string> outInHwOnly;
    std::vector<std::string> hwioOnly;
    std::vector<std::string> both;
};

ShapeEvidence weigh(const std::vector<ConvKernelShapes>& kernels) {
    ShapeEvidence e;
    for (const ConvKernelShapes& k : kernels) {
        if (k.model.size() != 4)
            continue;
        const bool asHwio = k.stored == hwioOf(k.model);
        const bool asOutInHw = k.stored == k.model;
        if (asHwio && asOutInHw)
            e.both.push_back(k.layer);
        else if (asOutInHw)
            e.outInHwOnly.push_back(k.layer);
        else if (asHwio)
            e.hwioOnly.push_back(k.layer);
    }
    return e;
}

std::string firstFew(const std::vector<std::string>& names) {
    std::string s;
    for (std::size_t i = 0; i < names.size() && i < 4; ++i)
        s += (i ? ", " : "") + names[i];
    if (names.size() > 4)
        s += ", ...";
    return s;
}

}  // namespace

// Keras 2 and 3 take a file without keras_version for Keras 1 (original_keras_version = '1')
// and compare with '1' exactly. Keras 1.x's model.save wrote keras_version "1.2.2" at the
// root only, never in model_weights, so Keras's rule sees those files as Keras 1 too; a
// "1.x" next to the layer names (a hand-made file) is taken for Keras 1 here as well.
bool isKerasOneVersion(const std::string& version) {
    return version.empty() || version == "1" || version.rfind("1.", 0) == 0;
}

const char* kernelLayoutName(KernelLayout layout) {
    return enumName(layout, kNames);
}

KernelLayout parseKernelLayout(const std::string& name) {
    return parseEnum(name, kNames, "kernel layout");
}

// Keras 2's rules (keras/engine/saving.py, preprocess_weights_for_loading and
// _need_convert_kernel), and where ConvScope differs:
// - Kernels are flipped (convert_kernel) when the file's backend attribute names a backend
//   that convolves (Theano) and the loading one correlates (TensorFlow; ConvScope too); a
//   missing or unknown backend means no flip. Same here.
// - A Keras 1 file's Conv2D kernel is transposed from (out, in, h, w) when the layer it is
//   loaded into is channels_first: Keras trusts the model the user built. A ConvScope model is
//   always channels_last, so the kernels' shapes decide instead, and --kernel-layout where they
//   fit both ways. Keras 1 files store no dim ordering; (out, in, h, w) storage is what 'th'
//   ordering wrote, so it also says the Flatten ran over (C, H, W) (Keras's
//   convert_dense_weights_data_format, which Keras leaves to the user to call).
// - Keras 3 (legacy_h5_format.py) reads keras_version and backend and converts nothing.
ResolvedKernelLayout resolveKernelLayout(const std::string& kerasVersion,
                                         const std::string& backend,
                                         const std::vector<ConvKernelShapes>& kernels,
                                         KernelLayout asked, const std::string& source) {
    ResolvedKernelLayout r;
    if (asked == KernelLayout::TensorFlow) {
        if (backend == "theano")
            r.note =
                "kernels read in TensorFlow's layout as asked, although the file says "
                "backend 'theano'";
        return r;
    }
    const bool keras1 = isKerasOneVersion(kerasVersion);
    const ShapeEvidence e = weigh(kernels);
    if (keras1 && !e.outInHwOnly.empty() && !e.hwioOnly.empty())
        throw Error(source, "its kernels are stored in two layouts: " + firstFew(e.outInHwOnly) +
                                " only fit (out, in, h, w), " + firstFew(e.hwioOnly) +
                                " only (h, w, in, out)");
    const std::string version =
        kerasVersion.empty() ? "a Keras 1 file (no keras_version)" : "Keras " + kerasVersion;

    if (asked == KernelLayout::Theano) {
        r.flipped = true;
        r.channelsFirstFlatten = true;
        // Keras 2 and later always stored (h, w, in, out); so did Keras 1 with 'tf' ordering.
        r.outInHw = keras1 && e.hwioOnly.empty();
        r.note = std::string("Theano kernels as asked: flipped, stored ") +
                 (r.outInHw ? "(out, in, h, w)" : "(h, w, in, out)") +
                 ", dense rows after Flatten in (C, H, W) order";
        return r;
    }

    r.flipped = backend == "theano";
    r.outInHw = keras1 && !e.outInHwOnly.empty();
    r.channelsFirstFlatten = r.outInHw;
    std::vector<std::string> said;
    if (r.outInHw)
        said.push_back("kernels stored (out, in, h, w) as " + version +
                       " with Theano dim ordering wrote them (" + firstFew(e.outInHwOnly) +
                       "), dense rows after Flatten in (C, H, W) order");
    if (r.flipped)
        said.push_back("kernels flipped for Theano's convolution (backend 'theano' in the file)");
    if (keras1 && e.outInHwOnly.empty() && e.hwioOnly.empty() && !e.both.empty())
        said.push_back(version +
                       " whose kernel shapes fit both (h, w, in, out) and (out, in, "
                       "h, w): read as (h, w, in, out); give --kernel-layout theano "
                       "if it was written with Theano dim ordering");
    else if (r.outInHw && !r.flipped)
        said.push_back(
            "the file does not say which backend trained it: kernels not flipped; "
            "give --kernel-layout theano if Theano did");
    for (std::size_t i = 0; i < said.size(); ++i)
        r.note += (i ? "; " : "") + said[i];
    return r;
}

}  // namespace convscope
