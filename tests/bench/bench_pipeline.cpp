// The data pipeline alone, no training: scan a folder, decode every image once to 150x150,
// then two epochs of shuffled, augmented (Keras blog settings) float batches of 32 over all
// of train/ + validation/. Epoch 1 is what a first epoch costs (import + decode + augment +
// batch); epoch 2 is the steady state, served from the filled cache. A third, diagnostic epoch
// without augmentation separates the warp from the batch assembly. Two diagnostic passes
// follow: libjpeg-turbo's entropy (Huffman) decoding alone of every JPEG, on as many threads
// (no pipeline that decodes with libjpeg-turbo's Huffman decoder can take less time); and the
// decode to 150x150 again, alternately with ConvScope's Huffman decoder and libjpeg-turbo's
// (the faster of two passes each). Prints one JSON object; run_pipeline_bench.sh sets it
// beside reference_pipeline.py.
#include "train/batchloader.h"
#include "data/datasetindex.h"
#include "data/imagedecoder.h"
#include "data/imagecache.h"
#include "runtime.h"
#include "util/atomicfile.h"
#include "util/parallel.h"

#include <torch/torch.h>

#include <opencv2/core.hpp>

#include <jpeglib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace convscope;
using Clock = std::chrono::steady_clock;

namespace {

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

struct EpochResult {
    double seconds = 0;
    std::int64_t images = 0;
    std::int64_t batches = 0;
    double checksum = 0;
};

/// Takes every batch of one epoch and reads from it, as a training loop would, so no stage
/// can be skipped or deferred.
EpochResult runEpoch(BatchLoader& loader, int epoch) {
    EpochResult r;
    const auto start = Clock::now();
    loader.startEpoch(epoch);
    while (std::optional<Batch> batch = loader.next()) {
        const torch::Tensor& images = batch->images;
        const float* first = images.data_ptr<float>();
        r.checksum += double(first[0]) + double(first[images.numel() - 1]) +
                      double(batch->labels.sum().item<std::int64_t>());
        r.images += images.size(0);
        ++r.batches;
    }
    r.seconds = secondsSince(start);
    return r;
}

struct JpegFailure {
    jpeg_error_mgr manager;
    std::jmp_buf jump;
};

[[noreturn]] void jumpOut(j_common_ptr info) {
    std::longjmp(reinterpret_cast<JpegFailure*>(info->err)->jump, 1);
}

/// Runs libjpeg-turbo's entropy decoding of one file's bytes into DCT coefficients, with no
/// inverse DCT, upsampling, colour conversion or resizing. Returns false for bytes that are
/// not a JPEG or that libjpeg refuses. Only plain C objects live across the setjmp.
bool entropyDecode(const unsigned char* bytes, std::size_t size) {
    if (size < 3 || bytes[0] != 0xFF || bytes[1] != 0xD8)
        return false;
    jpeg_decompress_struct info{};
    JpegFailure failure{};
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jumpOut;
    if (setjmp(failure.jump)) {
        jpeg_destroy_decompress(&info);
        return false;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, bytes, static_cast<unsigned long>(size));
    jpeg_read_header(&info, TRUE);
    jpeg_read_coefficients(&info);
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return true;
}

/// Wall time of entropy decoding every JPEG in `paths`, each read from disk, on `threads`
/// threads shared out as ImageCache::decodeAll shares its files. `decoded` counts the JPEGs.
double entropyOnlySeconds(const std::vector<std::string>& paths, int threads,
                          std::size_t& decoded) {
    std::atomic<std::size_t> count{0};
    const auto start = Clock::now();
    parallelFor(paths.size(), threads, [&](std::size_t i) {
        try {
            const std::string bytes = readTextFile(paths[i]);
            if (entropyDecode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()))
                ++count;
        } catch (const std::exception&) {
            // an unreadable file is left out of the count, as a file that is not a JPEG is
        }
    });
    decoded = count;
    return secondsSince(start);
}

/// Wall time of decoding every file in `paths` to 150x150 on `threads` threads, shared out as
/// the decode stage shares them, each thread into one buffer of its own; with libjpeg-turbo's
/// Huffman decoder or ConvScope's.
double decodePassSeconds(const std::vector<std::string>& paths, int threads, bool libjpegHuffman) {
    const auto start = Clock::now();
    parallelFor(paths.size(), threads, [&](std::size_t i) {
        thread_local std::vector<std::uint8_t> slot(150 * 150 * 3);
        DecodeOptions options;
        options.width = options.height = 150;
        options.into = slot.data();
        options.libjpegHuffman = libjpegHuffman;
        try {
            decodeImageFile(paths[i], options);
        } catch (const std::exception&) {
            // the decode stage skips such files too
        }
    });
    return secondsSince(start);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_pipeline DATA [threads]\n");
        return 2;
    }
    const std::string data = argv[1];
    const int threads = argc > 2 ? std::atoi(argv[2]) : 0;
    try {
        configureThreads(threads);

        auto start = Clock::now();
        ScanOptions scanOptions;
        scanOptions.threads = threads;
        DatasetIndex index = DatasetIndex::scan(data, scanOptions);
        const double scanSeconds = secondsSince(start);

        start = Clock::now();
        CacheOptions cacheOptions;
        cacheOptions.width = 150;
        cacheOptions.height = 150;
        cacheOptions.threads = threads;
        ImageCache cache(index, cacheOptions);
        cache.decodeAll();
        const double decodeSeconds = secondsSince(start);

        std::vector<std::size_t> samples = index.indices(Split::Train);
        for (std::size_t i : index.indices(Split::Validation))
            samples.push_back(i);

        AugmentParams augment;
        augment.rotationRange = 40;
        augment.widthShiftRange = 0.2;
        augment.heightShiftRange = 0.2;
        augment.shearRange = 20;
        augment.setZoomRange(0.2);
        augment.horizontalFlip = true;
        augment.fillMode = FillMode::Nearest;

        LoaderOptions loaderOptions;
        loaderOptions.batchSize = 32;
        loaderOptions.shuffle = true;
        loaderOptions.workers = threads;
        BatchLoader loader(cache, samples, augment, loaderOptions);
        const EpochResult first = runEpoch(loader, 0);
        const EpochResult second = runEpoch(loader, 1);

        loaderOptions.augment = false;
        BatchLoader plain(cache, samples, augment, loaderOptions);
        const EpochResult unaugmented = runEpoch(plain, 0);

        std::vector<std::string> paths;
        for (std::size_t i : samples)
            paths.push_back(index.samples()[i].path);
        std::size_t entropyFiles = 0;
        const double entropySeconds = entropyOnlySeconds(paths, torchThreadCount(), entropyFiles);
        double ownHuffman = 1e30, libjpegHuffman = 1e30;
        for (int pass = 0; pass < 2; ++pass) {
            ownHuffman = std::min(ownHuffman, decodePassSeconds(paths, torchThreadCount(), false));
            libjpegHuffman =
                std::min(libjpegHuffman, decodePassSeconds(paths, torchThreadCount(), true));
        }

        const double epoch1Seconds = scanSeconds + decodeSeconds + first.seconds;
        const auto n = double(samples.size());
        std::printf(
            "{\"images\": %zu, \"classes\": %zu, \"skipped\": %zu, \"cached\": %zu, "
            "\"batches_per_epoch\": %lld, \"threads\": %d, "
            "\"scan_seconds\": %.4f, \"decode_seconds\": %.4f, \"augment_batch_seconds\": %.4f, "
            "\"epoch1_seconds\": %.4f, \"epoch1_images_per_second\": %.1f, "
            "\"epoch2_seconds\": %.4f, \"epoch2_images_per_second\": %.1f, "
            "\"batch_only_seconds\": %.4f, \"decode_images_per_second\": %.1f, "
            "\"entropy_only_seconds\": %.4f, \"entropy_only_files\": %zu, "
            "\"decode_own_huffman_seconds\": %.4f, \"decode_libjpeg_huffman_seconds\": %.4f, "
            "\"checksum\": %.3f}\n",
            samples.size(), index.classNames().size(), index.report().skipped.size(),
            cache.cachedCount(), static_cast<long long>(first.batches), torchThreadCount(),
            scanSeconds, decodeSeconds, first.seconds, epoch1Seconds, n / epoch1Seconds,
            second.seconds, double(second.images) / second.seconds, unaugmented.seconds,
            n / decodeSeconds, entropySeconds, entropyFiles, ownHuffman, libjpegHuffman,
            first.checksum + second.checksum + unaugmented.checksum);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_pipeline: %s\n", e.what());
        return 1;
    }
}
