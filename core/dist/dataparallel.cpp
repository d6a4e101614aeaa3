// The one file that includes LibTorch's c10d headers. ProcessGroupGloo.hpp includes Gloo's own
// headers, which PyTorch's wheel does not ship although its libtorch_cpu holds Gloo: the
// build takes them from Debian's libgloo-dev, as declarations only (nothing of Debian's Gloo
// is linked; the Gloo that runs is the wheel's). Debian's Gloo is older than the wheel's, so no
// Gloo type leaves this file and nothing here calls into a Gloo object: only the transport
// device's shared_ptr is handed to c10d.
#include "dist/dataparallel.h"

#include "error.h"

#if CONVSCOPE_HAVE_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/comm.hpp>
#include <torch/csrc/distributed/c10d/reducer.hpp>
#endif
#if CONVSCOPE_HAVE_GLOO
#include "cuda/cudamodule.h"
#endif
#include <torch/torch.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace convscope {

namespace {

std::string where(const DistributedSetup& s) {
    return "rank " + std::to_string(s.rank) + " of " + std::to_string(s.worldSize);
}

/// `lost`: which rank went quiet, when the heartbeats tell (else "").
Error brokenGroup(const DistributedSetup& s, const std::string& during, const std::string& why,
                  const std::string& lost = {}) {
    if (!lost.empty())
        return Error(where(s), "the data-parallel group broke during " + during + ": " + lost +
                                   ". LibTorch said: " + readableReason(why));
    return Error(where(s), "the data-parallel group broke during " + during +
                               " (another rank stopped, hung for more than " +
                               std::to_string(s.timeoutSeconds) +
                               " s or cannot be reached): " + readableReason(why));
}

}  // namespace

#if CONVSCOPE_HAVE_GLOO

namespace {

/// The local address that reaches `host`: the interface Gloo must listen on for the other
/// ranks (a UDP "connection" sends nothing; it only picks the route).
std::string localAddressTowards(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found)
        throw Error("MASTER_ADDR", "'" + host + "' is no address or host name this machine knows");
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in local{};
    socklen_t length = sizeof local;
    const bool routed = fd >= 0 && ::connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0;
    ::freeaddrinfo(found);
    if (fd >= 0)
        ::close(fd);
    if (!routed)
        throw Error("MASTER_ADDR", "no route from this machine to '" + host + "'");
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
    return text;
}

constexpr auto kHeartbeat = std::chrono::milliseconds(500);
/// How long a rank's heartbeat must stand still for it to count as lost.
constexpr auto kQuiet = std::chrono::milliseconds(1600);
/// The longest a survivor spends finding out who went quiet.
constexpr auto kProbeLimit = std::chrono::seconds(6);

std::string aliveKey(int rank) {
    return "alive/" + std::to_string(rank);
}

std::string asText(const std::vector<std::uint8_t>& bytes) {
    return std::string(bytes.begin(), bytes.end());
}

std::string masterText(const DistributedSetup& setup) {
    return setup.masterAddress + ":" + std::to_string(setup.masterPort);
}

/// A new connection to rank 0's store, which gives up after `timeout`.
c10::intrusive_ptr<c10d::Store> connectToStore(const DistributedSetup& setup,
                                               std::chrono::milliseconds timeout) {
    c10d::TCPStoreOptions options;
    options.port = std::uint16_t(setup.masterPort);
    options.isServer = false;
    options.timeout = timeout;
    return c10::make_intrusive<c10d::PrefixStore>(
        "convscope/", c10::make_intrusive<c10d::TCPStore>(setup.masterAddress, options));
}

/// Which ranks went quiet: the heartbeats that stood still for kQuiet, with each rank's
/// process and host; or that rank 0's store cannot be reached. "" when every rank still beats.
std::string quietRanks(const DistributedSetup& setup) {
    try {
        auto probe = connectToStore(setup, std::chrono::seconds(2));
        std::vector<std::int64_t> before;
        for (int r = 0; r < setup.worldSize; ++r)
            before.push_back(probe->add(aliveKey(r), 0));
        std::this_thread::sleep_for(kQuiet);
        std::string quiet;
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.1f", double(kQuiet.count()) / 1000);
        for (int r = 0; r < setup.worldSize; ++r) {
            if (r == setup.rank || probe->add(aliveKey(r), 0) != before[std::size_t(r)])
                continue;
            quiet += std::string(quiet.empty() ? "" : "; ") + "rank " + std::to_string(r) + " (" +
                     asText(probe->get("who/" + std::to_string(r))) +
                     ") went quiet: no heartbeat for " + seconds +
                     " s (it stopped, hung or lost its network)";
        }
        return quiet;
    } catch (const std::exception& e) {
        if (setup.rank == 0)
            return "";
        return "rank 0's rendezvous at " + masterText(setup) +
               " cannot be reached (rank 0 stopped, or the network to it is down: " +
               readableReason(e.what()) + ")";
    }
}

/// Something done on a thread of its own that the caller waits for at most `limit`: a call
/// stuck on a dead connection is left behind. Its state is shared, so it never outlives it.
template <class Result, class Work>
std::optional<Result> within(std::chrono::milliseconds limit, Work work) {
    struct Outcome {
        std::mutex mutex;
        std::condition_variable done;
        std::optional<Result> result;
    };
    auto outcome = std::make_shared<Outcome>();
    std::thread([outcome, work = std::move(work)] {
        Result r = work();
        std::lock_guard lock(outcome->mutex);
        outcome->result = std::move(r);
        outcome->done.notify_all();
    }).detach();
    std::unique_lock lock(outcome->mutex);
    outcome->done.wait_for(lock, limit, [&] { return outcome->result.has_value(); });
    return outcome->result;
}

/// Counts up "alive/<rank>" in rank 0's store every kHeartbeat on a connection of its own, so
/// that a survivor of a broken group can name the rank that went quiet on any machine (a
/// launcher sees only its own node's processes). The thread shares its state: a beat stuck on
/// a dead connection is left behind when the heartbeat ends.
class Heartbeat {
public:
    explicit Heartbeat(const DistributedSetup& setup) : m_state(std::make_shared<State>()) {
        auto beats = connectToStore(setup, std::chrono::seconds(2));
        const std::string key = aliveKey(setup.rank);
        beats->add(key, 1);
        m_thread = std::thread([state = m_state, beats, key] {
            std::unique_lock lock(state->mutex);
            while (!state->wake.wait_for(lock, kHeartbeat, [&] { return state->stopping; })) {
                lock.unlock();
                try {
                    beats->add(key, 1);
                } catch (const std::exception&) {
                    lock.lock();
                    break;  // the store is gone: the training thread finds out and says so
                }
                lock.lock();
            }
            state->stopped = true;
            state->wake.notify_all();
        });
    }
    ~Heartbeat() {
        std::unique_lock lock(m_state->mutex);
        m_state->stopping = true;
        m_state->wake.notify_all();
        const bool stopped =
            m_state->wake.wait_for(lock, std::chrono::seconds(1), [&] { return m_state->stopped; });
        lock.unlock();
        if (stopped)
            m_thread.join();
        else
            m_thread.detach();
    }
    Heartbeat(const Heartbeat&) = delete;
    Heartbeat& operator=(const Heartbeat&) = delete;

private:
    struct State {
        std::mutex mutex;
        std::condition_variable wake;
        bool stopping = false, stopped = false;
    };
    std::shared_ptr<State> m_state;
    std::thread m_thread;
};

}  // namespace

struct DataParallel::Impl {
    DistributedSetup setup;
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroup> group;
    std::unique_ptr<c10d::Reducer> reducer;
    std::vector<torch::Tensor> buffers;
    std::unique_ptr<Heartbeat> heartbeat;

    /// After the group broke: who went quiet (quietRanks), found within kProbeLimit.
    std::string whoWentQuiet() const {
        return within<std::string>(kProbeLimit, [s = setup] { return quietRanks(s); }).value_or("");
    }
    /// Runs a collective; a broken group becomes an Error that says what broke.
    template <class Body>
    decltype(auto) collective(const char* what, Body&& body) {
        try {
            return body();
        } catch (const c10::Error& e) {
            throw brokenGroup(setup, what, e.what_without_backtrace(), whoWentQuiet());
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {  // Gloo's own (a barrier's timeout, for one)
            throw brokenGroup(setup, what, e.what(), whoWentQuiet());
        }
    }

    void joinStore() {
        const std::string master = masterText(setup);
        c10d::TCPStoreOptions options;
        options.port = std::uint16_t(setup.masterPort);
        options.isServer = setup.rank == 0;
        options.numWorkers = setup.worldSize;
        options.waitWorkers = false;
        options.timeout = std::chrono::seconds(setup.timeoutSeconds);
        try {
            auto tcp = c10::make_intrusive<c10d::TCPStore>(setup.masterAddress, options);
            store = c10::make_intrusive<c10d::PrefixStore>("convscope/", tcp);
        } catch (const c10::Error& e) {
            const std::string reason = readableReason(e.what_without_backtrace());
            if (setup.rank == 0)
                throw Error(master,
                            "rank 0 cannot listen there (is the port in use, or the "
                            "address not this machine's?): " +
                                reason);
            throw Error(master, where(setup) + " cannot reach rank 0 there within " +
                                    std::to_string(setup.timeoutSeconds) + " s: " + reason);
        }
        // Every rank must agree on the world: rank 0's size is the truth.
        try {
            char host[256] = {};
            ::gethostname(host, sizeof host - 1);
            const std::string who =
                "process " + std::to_string(::getpid()) + " on " + std::string(host);
            store->set("who/" + std::to_string(setup.rank),
                       std::vector<std::uint8_t>(who.begin(), who.end()));
            const std::string mine = std::to_string(setup.worldSize);
            store->set("size/" + std::to_string(setup.rank),
                       std::vector<std::uint8_t>(mine.begin(), mine.end()));
            const auto theirs = store->get("size/0");
            const std::string zero(theirs.begin(), theirs.end());
            if (zero != mine)
                throw Error(master, where(setup) + " was started with WORLD_SIZE " + mine +
                                        ", rank 0 with " + zero);
            if (setup.rank == 0)
                for (int r = 1; r < setup.worldSize; ++r) {
                    const auto value = store->get("size/" + std::to_string(r));
                    const std::string other(value.begin(), value.end());
                    if (other != mine)
                        throw Error(master, "rank " + std::to_string(r) +
                                                " was started with WORLD_SIZE " + other +
                                                ", rank 0 with " + mine);
                }
        } catch (const c10::Error& e) {
            throw Error(master, where(setup) + ": not every rank joined within " +
                                    std::to_string(setup.timeoutSeconds) +
                                    " s (a rank missing, or ranks started with different "
                                    "WORLD_SIZE values): " +
                                    readableReason(e.what_without_backtrace()));
        }
    }

    void joinGroup() {
        auto options = c10d::ProcessGroupGloo::Options::create(
            std::chrono::milliseconds(std::int64_t(setup.timeoutSeconds) * 1000));
        if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface && *interface)
            options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
        else
            options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(
                localAddressTowards(setup.masterAddress, setup.masterPort)));
        auto gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
            c10::make_intrusive<c10d::PrefixStore>("gloo/", store), setup.rank, setup.worldSize,
            options);
        group = c10::make_intrusive<c10d::ProcessGroup>(store, setup.rank, setup.worldSize);
        group->setDefaultBackend(c10d::ProcessGroup::BackendType::GLOO);
        group->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::GLOO, gloo);
        if (setup.gpu >= 0)
            joinGpus();
        group->setGroupName("convscope");
    }

    /// NCCL between the GPUs, for the tensors on them (the weights, gradients and batch-norm
    /// statistics); Gloo stays the backend of CPU tensors (metrics, counts, barriers). NCCL is
    /// in LibTorch's CUDA library, which only the CUDA module links (cuda/cudamodule.h).
    void joinGpus() {
        const CudaModuleApi* cuda = cudaModule();
        if (!cuda)
            throw Error(where(setup),
                        "cannot train data-parallel on GPUs: LibTorch's CUDA "
                        "libraries are not loaded (" +
                            cudaModuleStatus().detail + "); use --device cpu");
        if (!cuda->makeNcclBackend)
            throw Error(where(setup),
                        "this build of ConvScope cannot train data-parallel on GPUs: its CUDA "
                        "module was built without NCCL's header (nccl.h, which PyTorch's CUDA "
                        "wheel ships in nvidia/nccl/include); use --device cpu");
        auto nccl = cuda->makeNcclBackend(
            store, setup.rank, setup.worldSize, setup.gpu,
            std::chrono::milliseconds(std::int64_t(setup.timeoutSeconds) * 1000));
        group->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::NCCL, nccl);
    }
};

DataParallel::DataParallel(const DistributedSetup& setup) : m_impl(std::make_unique<Impl>()) {
    m_impl->setup = setup;
    m_impl->joinStore();
    m_impl->collective("the rendezvous", [&] {
        m_impl->heartbeat = std::make_unique<Heartbeat>(setup);
        m_impl->joinGroup();
        m_impl->group->barrier()->wait();
    });
}

void DataParallel::attach(const std::vector<torch::Tensor>& parameters,
                          const std::vector<torch::Tensor>& buffers) {
    Impl& d = *m_impl;
    d.collective("the first broadcast of the weights", [&] {
        torch::NoGradGuard noGrad;
        std::vector<torch::Tensor> all = parameters;
        all.insert(all.end(), buffers.begin(), buffers.end());
        c10d::broadcast_coalesced(d.group, all, std::size_t(250) << 20, 0);
    });
    d.buffers = buffers;
    std::vector<torch::Tensor> trained;
    for (const torch::Tensor& p : parameters)
        if (p.requires_grad())
            trained.push_back(p);
    if (trained.empty())
        return;
    // DDP's defaults: a 1 MiB first bucket (the last layers, whose gradients come first),
    // then 25 MiB; buckets in the reverse order of the parameters.
    const std::int64_t firstBucket = std::int64_t(1) << 20, bucket = std::int64_t(25) << 20;
    auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
        trained, {std::size_t(firstBucket), std::size_t(bucket)},
        std::vector<bool>(trained.size(), false));
    std::reverse(buckets.begin(), buckets.end());
    std::reverse(limits.begin(), limits.end());
    d.reducer = std::make_unique<c10d::Reducer>(
        trained, buckets, d.group, std::vector<bool>(trained.size(), false), bucket,
        /*find_unused_parameters=*/false, /*gradient_as_bucket_view=*/false,
        std::unordered_map<std::size_t, std::string>{}, firstBucket,
        /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
        std::vector<std::int64_t>(limits.begin(), limits.end()));
}

void DataParallel::beforeForward() {
    Impl& d = *m_impl;
    d.collective("the broadcast of batch-norm statistics", [&] {
        if (d.reducer)
            d.reducer->rebuild_buckets();
        if (!d.buffers.empty()) {
            torch::NoGradGuard noGrad;
            c10d::broadcast_coalesced(d.group, d.buffers, std::size_t(250) << 20, 0);
        }
    });
}

void DataParallel::beforeBackward() {
    Impl& d = *m_impl;
    // The Reducer finishes the last step's work here.
    d.collective("the gradient allreduce", [&] {
        if (d.reducer)
            d.reducer->prepare_for_backward({});
    });
}

std::vector<double> DataParallel::sum(const std::vector<double>& values) {
    Impl& d = *m_impl;
    return d.collective("a sum of metrics", [&] {
        torch::Tensor t = torch::tensor(values, torch::kFloat64);
        std::vector<torch::Tensor> ts{t};
        d.group->allreduce(ts)->wait();
        return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
    });
}

void DataParallel::sumInPlace(torch::Tensor& values) {
    Impl& d = *m_impl;
    d.collective("a sum of tensors", [&] {
        values = values.contiguous();
        std::vector<torch::Tensor> ts{values};
        d.group->allreduce(ts)->wait();
    });
}

bool DataParallel::any(bool mine) {
    return sum({mine ? 1.0 : 0.0}).front() > 0;
}

void DataParallel::barrier() {
    // On CPU tensors (Gloo) whatever the devices: NCCL's barrier needs a GPU of its own.
    m_impl->collective("a barrier",
                       [&] { m_impl->group->getBackend(c10::DeviceType::CPU)->barrier()->wait(); });
}

bool dataParallelAvailable() {
    return true;
}

bool dataParallelOnGpusAvailable() {
    const CudaModuleApi* cuda = cudaModule();
    return cuda && cuda->makeNcclBackend;
}

#else

struct DataParallel::Impl {
    DistributedSetup setup;
    std::string whoWentQuiet() const { return ""; }
};

DataParallel::DataParallel(const DistributedSetup& setup) : m_impl(std::make_unique<Impl>()) {
    m_impl->setup = setup;
    throw Error(where(setup),
                "this build of ConvScope cannot train data-parallel: it was built without "
                "Gloo's headers (Debian's libgloo-dev), which LibTorch's Gloo backend needs and "
                "PyTorch's wheel does not ship");
}

void DataParallel::attach(const std::vector<torch::Tensor>&, const std::vector<torch::Tensor>&) {}
void DataParallel::beforeForward() {}
void DataParallel::beforeBackward() {}
std::vector<double> DataParallel::sum(const std::vector<double>& values) {
    return values;
}
void DataParallel::sumInPlace(torch::Tensor&) {}
bool DataParallel::any(bool mine) {
    return mine;
}
void DataParallel::barrier() {}

bool dataParallelAvailable() {
    return false;
}

bool dataParallelOnGpusAvailable() {
    return false;
}

#endif

DataParallel::~DataParallel() = default;

void DataParallel::broken(const std::string& during, const std::string& reason) const {
    throw brokenGroup(m_impl->setup, during, reason, m_impl->whoWentQuiet());
}

const DistributedSetup& DataParallel::setup() const {
    return m_impl->setup;
}

}  // namespace convscope
