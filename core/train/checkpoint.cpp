#include "train/checkpoint.h"

#include "error.h"
#include "io/torchpth.h"
#include "util/atomicfile.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstring>

#include <limits>
#include <stdexcept>

namespace convscope {

namespace {

std::string stateToJson(const TrainingState& s) {
    nlohmann::json history = nlohmann::json::array();
    for (const EpochEnd& e : s.history) {
        history.push_back({e.epoch, e.trainLoss, e.trainAccuracy, e.validationLoss,
                           e.validationAccuracy, e.learningRate, e.seconds});
    }
    const nlohmann::json j{
        {"epochs_completed", s.epochsCompleted},
        {"learning_rate", s.learningRate},
        {"best_validation_loss", std::isfinite(s.bestValidationLoss) ? s.bestValidationLoss : -1.0},
        {"epochs_since_best", s.epochsSinceBest},
        {"history", history}};
    return j.dump();
}

// A count from the file: nlohmann converts a number such as 4e19 to int without a range check.
int count(const nlohmann::json& value) {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
        value.get<std::int64_t>() > std::numeric_limits<int>::max())
        throw std::out_of_range("a count in the training state is not a whole number in range");
    return int(value.get<std::int64_t>());
}

TrainingState stateFromJson(const std::string& text) {
    const nlohmann::json j = nlohmann::json::parse(text);
    TrainingState s;
    s.epochsCompleted = count(j.at("epochs_completed"));
    s.learningRate = j.at("learning_rate");
    const double best = j.at("best_validation_loss");
    s.bestValidationLoss = best < 0 ? std::numeric_limits<double>::infinity() : best;
    s.epochsSinceBest = count(j.at("epochs_since_best"));
    for (const auto& row : j.at("history")) {
        EpochEnd e;
        e.epoch = count(row.at(0));
        e.trainLoss = row.at(1);
        e.trainAccuracy = row.at(2);
        e.validationLoss = row.at(3);
        e.validationAccuracy = row.at(4);
        e.learningRate = row.at(5);
        e.seconds = row.at(6);
        s.history.push_back(e);
    }
    return s;
}

}  // namespace

void saveCheckpoint(const std::string& path, ClassifierImpl& model,
                    torch::optim::Optimizer& optimizer, const TrainingState& state) {
    replaceFileAtomically(path, [&](const std::string& temp) {
        try {
            torch::serialize::OutputArchive archive;
            torch::serialize::OutputArchive modelArchive;
            model.save(modelArchive);
            archive.write("model", modelArchive);
            torch::serialize::OutputArchive optimizerArchive;
            optimizer.save(optimizerArchive);
            archive.write("optimizer", optimizerArchive);
            // As bytes in a string: a tensor read back from a damaged archive may claim more
            // bytes than its record holds, and LibTorch's set_state reads them unchecked.
            const torch::Tensor rng = at::detail::getDefaultCPUGenerator().get_state().contiguous();
            archive.write("rng_state",
                          c10::IValue(std::string(static_cast<const char*>(rng.data_ptr()),
                                                  std::size_t(rng.numel()))));
            archive.write("state", c10::IValue(stateToJson(state)));
            FileWriter out(temp, path);
            archive.save_to([&](const void* data, std::size_t size) {
                out.write(data, size);
                return size;  // a short count would abort the process (see FileWriter)
            });
            out.finish();
        } catch (const c10::Error& e) {
            throw Error(
                path, std::string("cannot write checkpoint (") + e.what_without_backtrace() + ")");
        }
    });
}

TrainingState loadCheckpoint(const std::string& path, ClassifierImpl& model,
                             torch::optim::Optimizer& optimizer) {
    try {
        checkArchivePickleLengths(path, checkArchiveRecordSizes(path));
        torch::serialize::InputArchive archive;
        archive.load_from(path);
        torch::serialize::InputArchive modelArchive;
        archive.read("model", modelArchive);
        model.load(modelArchive);
        torch::serialize::InputArchive optimizerArchive;
        archive.read("optimizer", optimizerArchive);
        try {
            optimizer.load(optimizerArchive);
        } catch (const c10::Error&) {
            throw Error(path,
                        "its optimizer state does not fit this run's optimizer (was the "
                        "optimizer in config.json changed?)");
        }
        // The random state as bytes (checkpoints before 0.2 kept it as a tensor, whose bytes a
        // damaged archive can make LibTorch read past its record: those resume with the
        // current random state instead, which only changes the augmentation draws).
        c10::IValue rngState;
        if (archive.try_read("rng_state", rngState)) {
            at::Generator generator = at::detail::getDefaultCPUGenerator();
            const std::int64_t stateBytes = generator.get_state().numel();
            if (!rngState.isString() || std::int64_t(rngState.toStringRef().size()) != stateBytes)
                throw Error(path, "damaged checkpoint (its random generator state is not one)");
            torch::Tensor rng = torch::empty({stateBytes}, torch::kByte);
            std::memcpy(rng.data_ptr(), rngState.toStringRef().data(), std::size_t(stateBytes));
            generator.set_state(rng);
        }
        c10::IValue state;
        archive.read("state", state);
        return stateFromJson(state.toStringRef());
    } catch (const c10::Error& e) {
        throw Error(path,
                    "damaged checkpoint (" + readableReason(e.what_without_backtrace()) + ")");
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, std::string("damaged checkpoint state (") + e.what() + ")");
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        // LibTorch's TorchScript importer throws its own types too (torch::jit::ErrorReport
        // for damaged code in the archive), which are not c10::Error.
        const std::string what = e.what();
        throw Error(path, "cannot read checkpoint (" + what.substr(0, what.find('\n')) + ")");
    }
}

}  // namespace convscope
