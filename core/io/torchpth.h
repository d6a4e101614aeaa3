#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace convscope {

/// One entry of a state_dict.
struct TorchTensorEntry {
    std::string name;  ///< the key, e.g. "layer1.0.bn1.running_mean"
    std::vector<std::int64_t> shape;
    torch::ScalarType dtype = torch::kFloat32;
    torch::Tensor value;  ///< contiguous, on the CPU; undefined when read without values
};

/// A `torch.save(model.state_dict(), path)` file, in the file's order.
struct TorchStateDict {
    std::vector<TorchTensorEntry> tensors;

    const TorchTensorEntry* find(const std::string& name) const;
};

/// Reads a PyTorch state_dict saved by torch >= 1.6 (a zip archive holding `<name>/data.pkl`
/// and one raw storage per record under `<name>/data/`), without Python: the pickle is
/// interpreted by io/unpickler and each tensor is rebuilt from its storage, offset, size and
/// stride, so tensors that share a storage or are views into one come out right. A
/// checkpoint dict whose "state_dict", "model_state_dict" or "model" entry is the state_dict
/// is accepted too; a "module." prefix on every key (DataParallel) is removed. Non-tensor
/// entries are left out. withValues false reads names, shapes and dtypes only (the storages
/// are not read), which is fast for any file size.
/// Throws convscope::Error(path, reason) for: a legacy (pre-1.6) file (says how to re-save
/// it), a file that is not a zip archive, a damaged or truncated archive, a TorchScript
/// archive, a whole pickled module instead of a state_dict, an unsupported pickle opcode
/// (named), a missing or short storage record, a tensor reaching outside its storage, or no
/// tensors at all. Thread-safe.
TorchStateDict readTorchStateDict(const std::string& path, bool withValues = true);

/// Throws convscope::Error(path, reason) when the zip archive at `path` (a torch.save file or a
/// LibTorch checkpoint) lists a record larger than the whole file: LibTorch's reader allocates
/// each record's stated size, even while it opens the archive. Archives whose directory this
/// cannot follow are left to LibTorch's own checks. Returns the record names the directories
/// list, without the archive's top folder. Thread-safe.
std::vector<std::string> checkArchiveRecordSizes(const std::string& path);

/// Throws convscope::Error(path, reason) when a pickle in the LibTorch archive at `path` (a
/// record whose name ends in "pkl") states a string or bytes longer than the pickle: LibTorch's
/// unpickler reserves a stated length before reading. `recordNames` are what
/// checkArchiveRecordSizes returned; archives LibTorch cannot open are left to the caller's
/// reader. Thread-safe.
void checkArchivePickleLengths(const std::string& path,
                               const std::vector<std::string>& recordNames);

}  // namespace convscope
