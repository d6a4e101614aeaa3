#include "data/datasetindex.h"

#include "error.h"
#include "util/random.h"
#include "util/text.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

namespace convscope {

namespace fs = std::filesystem;

namespace {

struct Candidate {
    std::string path;
    int label;
    Split split;
};

struct Walker {
    const fs::path& root;
    ImportReport& report;
    std::set<fs::path> visited;  // canonical folders already walked

    std::string rel(const fs::path& p) const { return p.lexically_relative(root).generic_string(); }

    void skip(const fs::path& p, std::string reason) {
        report.skipped.push_back({rel(p), std::move(reason)});
    }

    static std::vector<fs::directory_entry> sortedEntries(const fs::path& dir,
                                                          std::error_code& ec) {
        std::vector<fs::directory_entry> entries;
        fs::directory_iterator it(dir, ec);
        for (; !ec && it != fs::directory_iterator(); it.increment(ec))
            entries.push_back(*it);
        std::sort(entries.begin(), entries.end(),
                  [](const auto& a, const auto& b) { return a.path() < b.path(); });
        return entries;
    }

    // Collects every regular file under `dir`, following folder links but never in a loop.
    void collect(const fs::path& dir, int label, Split split, std::vector<fs::path>& ancestors,
                 std::vector<Candidate>& out) {
        std::error_code ec;
        const fs::path canonicalDir = fs::canonical(dir, ec);
        if (ec) {
            skip(dir, "cannot open folder (" + ec.message() + ")");
            return;
        }
        visited.insert(canonicalDir);
        ancestors.push_back(canonicalDir);
        const auto entries = sortedEntries(dir, ec);
        if (ec) {
            skip(dir, ec.value() == EACCES ? "cannot list folder (permission denied)"
                                           : "cannot list folder (" + ec.message() + ")");
        }
        for (const auto& entry : entries) {
            const fs::path& p = entry.path();
            std::error_code sec;
            const bool isLink = entry.is_symlink(sec);
            const fs::file_status st = fs::status(p, sec);
            if (sec) {
                if (sec.value() == ELOOP)
                    skip(p, "symbolic link loop");
                else if (isLink && sec.value() == ENOENT)
                    skip(p, "broken symbolic link (target missing)");
                else
                    skip(p, "cannot read (" + sec.message() + ")");
                continue;
            }
            if (fs::is_directory(st)) {
                const fs::path target = fs::canonical(p, sec);
                if (sec) {
                    skip(p, "cannot open folder (" + sec.message() + ")");
                } else if (std::find(ancestors.begin(), ancestors.end(), target) !=
                           ancestors.end()) {
                    skip(p, "symbolic link loop (points back to an enclosing folder)");
                } else if (visited.count(target)) {
                    skip(p, "folder already scanned through another path");
                } else {
                    collect(p, label, split, ancestors, out);
                }
            } else if (fs::is_regular_file(st)) {
                out.push_back({p.string(), label, split});
            } else if (!fs::exists(st)) {
                skip(p, "broken symbolic link (target missing)");
            } else {
                skip(p, "not a regular file");
            }
        }
        ancestors.pop_back();
    }

    // Sub-folders of `dir` as classes; anything else there is reported.
    std::vector<std::pair<std::string, fs::path>> classFolders(const fs::path& dir) {
        std::vector<std::pair<std::string, fs::path>> folders;
        std::error_code ec;
        for (const auto& entry : sortedEntries(dir, ec)) {
            const std::string name = entry.path().filename().string();
            std::error_code sec;
            if (entry.is_directory(sec)) {
                if (name.rfind('.', 0) == 0)
                    skip(entry.path(), "hidden folder (not a class)");
                else
                    folders.emplace_back(name, entry.path());
            } else {
                skip(entry.path(), "not inside a class folder");
            }
        }
        if (ec)
            throw Error(dir.string(), "cannot list folder (" + ec.message() + ")");
        return folders;
    }
};

const char* validationFolderName(const fs::path& root) {
    for (const char* name : {"validation", "val", "valid"}) {
        std::error_code ec;
        if (fs::is_directory(root / name, ec))
            return name;
    }
    return nullptr;
}

}  // namespace

const char* splitName(Split split) {
    return split == Split::Train ? "train" : "validation";
}

DatasetIndex DatasetIndex::scan(const std::string& rootPath, const ScanOptions& options) {
    return atBoundary(rootPath, [&] {
        std::error_code ec;
        const fs::path root = fs::path(rootPath).lexically_normal();
        if (!fs::exists(root, ec))
            throw Error(rootPath, "folder not found");
        if (!fs::is_directory(root, ec))
            throw Error(rootPath, "not a folder");

        DatasetIndex index;
        index.m_root = root.string();
        Walker walker{root, index.m_report, {}};
        std::vector<Candidate> candidates;
        std::vector<fs::path> ancestors{fs::canonical(root, ec)};

        const char* valName = validationFolderName(root);
        std::map<std::string, std::vector<std::pair<fs::path, Split>>> classDirs;
        if (fs::is_directory(root / "train", ec) && valName) {
            index.m_layout = DatasetLayout::TrainValidationFolders;
            for (const auto& [split, sub] :
                 {std::pair{Split::Train, "train"}, {Split::Validation, valName}}) {
                for (auto& [name, dir] : walker.classFolders(root / sub))
                    classDirs[name].emplace_back(dir, split);
            }
            std::error_code lec;
            for (const auto& entry : Walker::sortedEntries(root, lec)) {
                const std::string name = entry.path().filename().string();
                if (name != "train" && name != valName)
                    walker.skip(entry.path(), "outside train/ and " + std::string(valName) + "/");
            }
        } else {
            index.m_layout = DatasetLayout::ClassFolders;
            for (auto& [name, dir] : walker.classFolders(root))
                classDirs[name].emplace_back(dir, Split::Train);
        }

        std::vector<std::string> names;
        for (const auto& [name, dirs] : classDirs) {
            const int label = int(names.size());
            names.push_back(name);
            for (const auto& [dir, split] : dirs)
                walker.collect(dir, label, split, ancestors, candidates);
        }

        std::vector<ImageProbe> probes(candidates.size());
        parallelFor(
            candidates.size(), options.threads,
            [&](std::size_t i) {
                probes[i] = probeImageFile(candidates[i].path, options.maxPixels);
            },
            options.cancel, options.progress);
        if (options.cancel && options.cancel->load())
            throw Error(rootPath, "scan cancelled");

        // Keep only classes that hold at least one image; relabel densely.
        std::vector<std::size_t> perClass(names.size(), 0);
        for (std::size_t i = 0; i < candidates.size(); ++i) {
            if (probes[i].ok())
                ++perClass[std::size_t(candidates[i].label)];
            else
                walker.skip(candidates[i].path, probes[i].problem);
        }
        std::vector<int> newLabel(names.size(), -1);
        for (std::size_t c = 0; c < names.size(); ++c) {
            if (perClass[c] == 0) {
                for (const auto& [dir, split] : classDirs[names[c]])
                    walker.skip(dir, "empty class folder (no usable images)");
                continue;
            }
            newLabel[c] = int(index.m_classNames.size());
            // A folder name that is not UTF-8 is shown, recorded and compared escaped.
            index.m_classNames.push_back(escapeInvalidUtf8(names[c]));
        }
        for (std::size_t i = 0; i < candidates.size(); ++i) {
            if (!probes[i].ok())
                continue;
            Sample s;
            s.path = candidates[i].path;
            s.label = newLabel[std::size_t(candidates[i].label)];
            s.split = candidates[i].split;
            s.width = probes[i].width;
            s.height = probes[i].height;
            index.m_samples.push_back(std::move(s));
        }
        std::sort(index.m_report.skipped.begin(), index.m_report.skipped.end(),
                  [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });

        if (index.m_classNames.empty())
            throw Error(rootPath, "no class folder with an image in it");
        if (index.m_classNames.size() == 1) {
            index.m_report.warnings.push_back("only one class (" + index.m_classNames[0] +
                                              "): a classifier needs at least two");
        }

        if (index.m_layout == DatasetLayout::ClassFolders) {
            if (!(options.validationFraction >= 0 && options.validationFraction < 1))
                throw Error("validation fraction",
                            std::to_string(options.validationFraction) + " is not in [0, 1)");
            const double fraction = options.validationFraction;
            for (int label = 0; label < int(index.m_classNames.size()); ++label) {
                std::vector<std::size_t> members;
                for (std::size_t i = 0; i < index.m_samples.size(); ++i)
                    if (index.m_samples[i].label == label)
                        members.push_back(i);
                Rng rng(mixSeed(options.seed, std::uint64_t(label)));
                rng.shuffle(members);
                std::size_t nVal = std::size_t(std::lround(double(members.size()) * fraction));
                if (fraction > 0 && nVal == 0 && members.size() >= 2)
                    nVal = 1;
                if (nVal >= members.size() && fraction < 1)
                    nVal = members.size() - 1;
                for (std::size_t k = 0; k < nVal; ++k)
                    index.m_samples[members[k]].split = Split::Validation;
            }
        } else {
            for (int label = 0; label < int(index.m_classNames.size()); ++label) {
                for (Split split : {Split::Train, Split::Validation}) {
                    if (index.count(label, split) == 0)
                        index.m_report.warnings.push_back(
                            "class " + index.m_classNames[std::size_t(label)] + " has no " +
                            splitName(split) + " images");
                }
            }
        }
        return index;
    });
}

std::vector<std::size_t> DatasetIndex::indices(Split split) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < m_samples.size(); ++i)
        if (m_samples[i].usable && m_samples[i].split == split)
            out.push_back(i);
    return out;
}

std::size_t DatasetIndex::count(int label, Split split) const {
    return std::size_t(std::count_if(m_samples.begin(), m_samples.end(), [&](const Sample& s) {
        return s.usable && s.label == label && s.split == split;
    }));
}

std::size_t DatasetIndex::usableCount() const {
    return std::size_t(std::count_if(m_samples.begin(), m_samples.end(),
                                     [](const Sample& s) { return s.usable; }));
}

void DatasetIndex::markUnusable(std::size_t sampleIndex, const std::string& reason) {
    Sample& s = m_samples.at(sampleIndex);
    if (!s.usable)
        return;
    s.usable = false;
    m_report.skipped.push_back({relativePath(s.path), reason});
}

void DatasetIndex::addWarning(const std::string& text) {
    m_report.warnings.push_back(text);
}

std::string DatasetIndex::relativePath(const std::string& path) const {
    return fs::path(path).lexically_relative(m_root).generic_string();
}

}  // namespace convscope
