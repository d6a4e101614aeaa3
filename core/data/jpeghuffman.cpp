#include "data/jpeghuffman.h"

#include <cstddef>
#include <cstdio>
#include <jpeglib.h>
// After jpeglib.h: the entropy decoder and input controller structures.
#include <jpegint.h>

#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

namespace convscope {

namespace {

// Bits looked up at once. 10 and 11 took the same time on the bench files; 12 was slower
// (bigger tables to build and keep in cache).
constexpr int kLookupBits = 10;

// Bytes of zeros after the scan: reads run ahead of the decoding by up to 8 bytes, and a
// damaged MCU of ten blocks can consume at most 10 x (27 + 63 x 26) bits before the check
// that follows each MCU.
constexpr std::size_t kPadding = 2560;

// AC table entries. With kHasValue: bits 0-5 the code's length plus its value bits, bits 8-11
// the run of zeros before the coefficient, bit 12 set for an end of block, bits 16-31 the
// coefficient. Without it: bits 0-4 the code's length (0 when longer than kLookupBits) and
// bits 16-23 its symbol, whose value bits are read separately. DC entries: bits 0-4 the
// length, bits 8-11 the number of value bits.
constexpr std::uint32_t kHasValue = 1u << 6;
constexpr std::uint32_t kEndOfBlock = 1u << 12;

// AC pair entries (HuffmanTable::pairs), for the codes of the one-lookup kind above: bits 0-5
// the bits to consume, kHasValue, bits 8-11 the first coefficient's run, bits 12-15 the bits
// of the first code and its value alone, bits 16-20 the distance from the first coefficient
// to the second (0 when the entry holds one), kPair when it holds two, kPairEnd when the
// block ends after it, bits 32-47 the first coefficient and bits 48-63 the second (the first
// again when there is one). Without kHasValue the lookup table decides.
constexpr std::uint64_t kPair = 1u << 21;
constexpr std::uint64_t kPairEnd = 1u << 22;

// Zigzag order to row-major order. Positions 64 to 95 are reached only in damaged data, which
// is then decoded again by libjpeg; they land on the DC coefficient so no write leaves the block.
constexpr std::array<std::uint8_t, 96> makeNaturalOrder() {
    constexpr std::uint8_t zigzag[64] = {
        0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
        41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
        30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};
    std::array<std::uint8_t, 96> order{};
    for (int k = 0; k < 64; ++k)
        order[std::size_t(k)] = zigzag[k];
    return order;
}
constexpr std::array<std::uint8_t, 96> kNaturalOrder = makeNaturalOrder();

// JPEG's EXTEND (F.2.2.1): the coefficient that `bits`, s bits long, stand for.
int extend(unsigned bits, int s) {
    return s == 0 ? 0 : bits < (1u << (s - 1)) ? int(bits) - (1 << s) + 1 : int(bits);
}

// The same for the s bits at the top of `window`, without a branch; 0 for s == 0.
inline int extendTop(std::uint64_t window, int s) {
    const auto bits = std::int64_t((window >> (63 - s)) >> 1);
    const std::int64_t positive = std::int64_t(window) >> 63;  // all ones when the top bit is 1
    return int(bits + (~positive & ((std::int64_t(-1) << s) + 1)));
}

struct HuffmanTable {
    std::array<std::uint32_t, 1 << kLookupBits> lookup{};
    std::array<std::uint64_t, 1 << kLookupBits> pairs{};  // AC tables only
    std::array<std::int32_t, 18> maxCode{};  // the largest code of each length, -1 for none
    std::array<std::int32_t, 17> offset{};   // symbol index minus code, by length
    std::array<std::uint8_t, 256> symbols{};
    bool dc = false;

    // False for tables libjpeg would refuse or with symbols 8-bit data cannot have.
    bool build(const JHUFF_TBL& table, bool isDc) {
        dc = isDc;
        lookup.fill(0);
        int code = 0, k = 0;
        for (int length = 1; length <= 16; ++length) {
            const int count = table.bits[length];
            maxCode[std::size_t(length)] = count ? code + count - 1 : -1;
            offset[std::size_t(length)] = k - code;
            for (int i = 0; i < count; ++i, ++code, ++k) {
                if (k > 255)
                    return false;
                const int symbol = table.huffval[k];
                symbols[std::size_t(k)] = std::uint8_t(symbol);
                if (dc ? symbol > 11 : (symbol & 15) > 10)
                    return false;
                if (length > kLookupBits)
                    continue;
                const int spare = kLookupBits - length;
                for (int fill = 0; fill < (1 << spare); ++fill) {
                    const int index = (code << spare) | fill;
                    lookup[std::size_t(index)] = entry(length, symbol, index);
                }
            }
            if (code > (1 << length))  // more codes than the length allows
                return false;
            code <<= 1;
        }
        maxCode[17] = 0x7fffffff;
        if (!dc)
            buildPairs();
        return true;
    }

    // Where the bits after a code with its value hold the next code with its value too, one
    // lookup gives both: on the bench files 62% of such codes were followed by one that fit.
    void buildPairs() {
        constexpr int mask = (1 << kLookupBits) - 1;
        for (int index = 0; index <= mask; ++index) {
            const std::uint32_t first = lookup[std::size_t(index)];
            if (!(first & kHasValue)) {
                pairs[std::size_t(index)] = 0;
                continue;
            }
            const std::uint64_t bits = first & 63, value = first >> 16;
            std::uint64_t pair = bits | kHasValue | (first & 0xF00) | bits << 12 | value << 32 |
                                 value << 48 | (first & kEndOfBlock ? kPairEnd : 0);
            const std::uint32_t second = lookup[std::size_t((index << bits) & mask)];
            if (!(first & kEndOfBlock) && (second & kHasValue) &&
                (second & 63) <= kLookupBits - bits) {
                const bool end = (second & kEndOfBlock) != 0;
                const std::uint64_t distance = 1 + ((second >> 8) & 15);  // 1 for an end
                pair = (bits + (second & 63)) | kHasValue | (first & 0xF00) | bits << 12 |
                       distance << 16 | kPair | (end ? kPairEnd : 0) | value << 32 |
                       std::uint64_t(second >> 16) << 48;
            }
            pairs[std::size_t(index)] = pair;
        }
    }

    // The entry for a code of `length` bits standing for `symbol`; `index` is the lookup
    // index it is stored at (then its value bits are known when they fit), or -1.
    std::uint32_t entry(int length, int symbol, int index) const {
        if (dc)
            return std::uint32_t(length) | std::uint32_t(symbol) << 8;
        const int s = symbol & 15;
        if (index >= 0 && length + s <= kLookupBits) {
            const int spare = kLookupBits - length - s;
            const unsigned bits = unsigned(index >> spare) & ((1u << s) - 1);
            // As in libjpeg, s == 0 ends the block unless the run is 15 (sixteen zeros).
            const bool end = s == 0 && symbol != 0xF0;
            return std::uint32_t(length + s) | kHasValue |
                   (end ? kEndOfBlock : std::uint32_t(symbol >> 4) << 8) |
                   std::uint32_t(std::uint16_t(extend(bits, s))) << 16;
        }
        return std::uint32_t(length) | std::uint32_t(symbol) << 16;
    }

    // The entry of a code longer than kLookupBits at the top of `window`; 0 for none.
    std::uint32_t longEntry(std::uint64_t window) const {
        for (int length = kLookupBits + 1; length <= 16; ++length) {
            const auto code = std::int32_t(window >> (64 - length));
            if (code <= maxCode[std::size_t(length)]) {
                const std::int32_t at = offset[std::size_t(length)] + code;
                return at < 0 || at > 255 ? 0 : entry(length, symbols[std::size_t(at)], -1);
            }
        }
        return 0;
    }
};

// The tables most recently built on this thread, by their contents: most files use the
// standard tables, and building four 1,024-entry tables for each file took 2% of the decode.
// A scan uses at most eight tables, so with eight slots one not used by the current scan is
// always free to replace.
class TableCache {
public:
    /// Starts a scan: the tables found from now on stay until the next call.
    void startScan() { ++m_scan; }

    const HuffmanTable* find(const JHUFF_TBL& table, bool dc) {
        for (Slot& slot : m_slots) {
            if (slot.built && slot.table.dc == dc && std::memcmp(slot.bits, table.bits, 17) == 0 &&
                std::memcmp(slot.values, table.huffval, 256) == 0) {
                slot.scan = m_scan;
                return &slot.table;
            }
        }
        Slot* free = &m_slots[0];
        for (Slot& slot : m_slots)
            if (slot.scan != m_scan && (free->scan == m_scan || slot.scan < free->scan))
                free = &slot;
        free->built = free->table.build(table, dc);
        free->scan = m_scan;
        if (!free->built)
            return nullptr;
        std::memcpy(free->bits, table.bits, 17);
        std::memcpy(free->values, table.huffval, 256);
        return &free->table;
    }

private:
    struct Slot {
        bool built = false;
        std::uint64_t scan = 0;  // the last scan that used it
        std::uint8_t bits[17] = {};
        std::uint8_t values[256] = {};
        HuffmanTable table;
    };
    std::array<Slot, 8> m_slots;
    std::uint64_t m_scan = 0;
};

thread_local TableCache t_tables;

// Reads the scan most significant bit first: the top `count` bits of `window` are the next
// ones. Each refill leaves 56 to 63 bits, enough for two codes with their value bits.
struct BitReader {
    const std::uint8_t* next = nullptr;
    std::uint64_t window = 0;
    int count = 0;

    void refill() {
        std::uint64_t bytes;
        std::memcpy(&bytes, next, 8);
        window |= __builtin_bswap64(bytes) >> count;
        next += (63 - count) >> 3;
        count |= 56;
    }
    void skip(int bits) {
        window <<= bits;
        count -= bits;
    }
};

// One block's coefficients into `block` (zeroed by libjpeg). False for data no valid scan has.
inline bool decodeBlock(BitReader& reader, const HuffmanTable& dc, const HuffmanTable& ac,
                        int& predictor, JCOEF* block) {
    BitReader in = reader;  // in registers for the loop
    in.refill();
    std::uint32_t e = dc.lookup[std::size_t(in.window >> (64 - kLookupBits))];
    if (__builtin_expect((e & 31) == 0, 0)) {
        e = dc.longEntry(in.window);
        if (e == 0)
            return false;
    }
    const int dcLength = int(e & 31), dcBits = int(e >> 8) & 15;
    // A DC sum beyond an int (only damaged data has one) is left to libjpeg.
    const long long dcValue = (long long)predictor + extendTop(in.window << dcLength, dcBits);
    if (dcValue > INT_MAX || dcValue < INT_MIN)
        return false;
    predictor = int(dcValue);
    block[0] = JCOEF(predictor);  // wraps as libjpeg's store does
    in.skip(dcLength + dcBits);

    unsigned k = 1;
    for (;;) {
        in.refill();
        for (int code = 0; code < 2; ++code) {
            const std::size_t index = std::size_t(in.window >> (64 - kLookupBits));
            const std::uint64_t pair = ac.pairs[index];
            bool end;
            if (__builtin_expect(pair & kHasValue, 1)) {
                const unsigned first = k + unsigned(pair >> 8 & 15);
                block[kNaturalOrder[first]] = JCOEF(std::int16_t(pair >> 32));
                if (__builtin_expect(first >= 63, 0) && (pair & kPair)) {
                    // The first coefficient fills the block: the second code is the next
                    // block's.
                    in.skip(int(pair >> 12 & 15));
                    k = first + 1;
                    end = false;
                } else {
                    const unsigned second = first + unsigned(pair >> 16 & 31);
                    block[kNaturalOrder[second]] = JCOEF(std::int16_t(pair >> 48));
                    k = second + 1;
                    in.skip(int(pair & 63));
                    end = (pair & kPairEnd) != 0;
                }
            } else {
                e = ac.lookup[index];
                if ((e & 31) == 0) {
                    e = ac.longEntry(in.window);
                    if (e == 0)
                        return false;
                }
                const int length = int(e & 31), symbol = int(e >> 16) & 255, s = symbol & 15;
                end = s == 0 && symbol != 0xF0;
                if (!end) {
                    k += unsigned(symbol >> 4);
                    block[kNaturalOrder[k]] = JCOEF(extendTop(in.window << length, s));
                }
                in.skip(length + s);
                ++k;
            }
            if (end || k >= 64) {
                reader = in;
                return end || k == 64;
            }
        }
    }
}

}  // namespace

struct JpegHuffmanDecoder::State {
    // A stretch of the scan between markers: a restart interval, or all of a scan without
    // them. Restart markers split the scan whether or not the file declares intervals.
    struct Interval {
        std::size_t start = 0;                      // where its data starts in `scan`
        int restart = -1;                           // the RSTn before it, -1 for the first
        const std::uint8_t* markerAfter = nullptr;  // the marker that ends it, in the file
    };
    std::vector<std::uint8_t> scan;  // the scan without stuffed bytes, then kPadding zeros
    std::vector<Interval> intervals;
    const HuffmanTable* dcTables[D_MAX_BLOCKS_IN_MCU] = {};
    const HuffmanTable* acTables[D_MAX_BLOCKS_IN_MCU] = {};
    int componentOf[D_MAX_BLOCKS_IN_MCU] = {};
    int predictors[MAX_COMPS_IN_SCAN] = {};
    BitReader reader;
    std::size_t interval = 0;
    unsigned restartsLeft = 0;
    long mcusLeft = 0;
    bool failed = false;

    // Copies the scan at `p` without its stuffed bytes and notes the restart intervals. False
    // when no marker other than RSTn ends it before `end`.
    bool unstuff(const std::uint8_t* p, const std::uint8_t* end) {
        scan.clear();
        scan.reserve(std::size_t(end - p) + kPadding);
        intervals.assign(1, Interval{});
        for (;;) {
            const auto* ff =
                static_cast<const std::uint8_t*>(std::memchr(p, 0xFF, std::size_t(end - p)));
            if (!ff)
                return false;
            scan.insert(scan.end(), p, ff);
            const std::uint8_t* q = ff + 1;
            while (q < end && *q == 0xFF)  // fill bytes before a marker
                ++q;
            if (q >= end)
                return false;
            if (*q == 0x00) {
                // FF FF ... 00 is not valid JPEG. libjpeg-turbo's pixels for it are not those
                // of reading it as one FF byte (its fast path takes FF FF for a marker), so
                // such scans are left to it.
                if (q != ff + 1)
                    return false;
                scan.push_back(0xFF);
            } else {
                intervals.back().markerAfter = ff;
                if (*q < 0xD0 || *q > 0xD7)  // not RSTn: the end of the scan
                    break;
                intervals.push_back({scan.size(), *q - 0xD0, nullptr});
            }
            p = q + 1;
        }
        scan.resize(scan.size() + kPadding, 0);
        return true;
    }

    void startInterval(std::size_t which) {
        interval = which;
        reader = BitReader{scan.data() + intervals[which].start, 0, 0};
        for (int& p : predictors)
            p = 0;
    }

    std::size_t bitsUsed() const {
        return std::size_t(reader.next - scan.data()) * 8 - std::size_t(reader.count);
    }
    std::size_t intervalEnd() const {
        return interval + 1 < intervals.size() ? intervals[interval + 1].start
                                               : scan.size() - kPadding;
    }
    // Past the end of the current interval's data.
    bool overran() const { return bitsUsed() > intervalEnd() * 8; }
    // The current interval's codes end in its last byte. libjpeg warns about bytes left over
    // ("extraneous bytes before marker"), so scans with them are left to it.
    bool endsExactly() const { return (bitsUsed() + 7) / 8 == intervalEnd(); }
};

namespace {

boolean decodeMcu(j_decompress_ptr cinfo, JBLOCKROW* blocks) {
    auto& s = *static_cast<JpegHuffmanDecoder::State*>(cinfo->client_data);
    if (s.failed)
        return TRUE;  // the caller stops at the end of this row
    if (cinfo->restart_interval) {
        if (s.restartsLeft == 0) {
            const std::size_t next = s.interval + 1;
            if (next >= s.intervals.size() || s.intervals[next].restart != int((next - 1) & 7) ||
                !s.endsExactly()) {
                s.failed = true;
                return TRUE;
            }
            s.startInterval(next);
            s.restartsLeft = cinfo->restart_interval;
        }
        --s.restartsLeft;
    }
    BitReader reader = s.reader;
    for (int b = 0; b < cinfo->blocks_in_MCU; ++b) {
        if (!decodeBlock(reader, *s.dcTables[b], *s.acTables[b], s.predictors[s.componentOf[b]],
                         blocks[b][0])) {
            s.failed = true;
            return TRUE;
        }
    }
    s.reader = reader;
    if (s.overran()) {
        s.failed = true;
        return TRUE;
    }
    if (--s.mcusLeft == 0) {
        if (!s.endsExactly()) {
            s.failed = true;
            return TRUE;
        }
        // Leave the source at the marker after the last interval decoded, where libjpeg's
        // decoder leaves it: a restart marker there (one too many, or any in a scan without
        // intervals) is libjpeg's to read, with whatever follows it.
        jpeg_source_mgr& src = *cinfo->src;
        const JOCTET* end = src.next_input_byte + src.bytes_in_buffer;
        const std::uint8_t* marker = s.intervals[s.interval].markerAfter;
        src.next_input_byte = marker;
        src.bytes_in_buffer = std::size_t(end - marker);
    }
    return TRUE;
}

}  // namespace

JpegHuffmanDecoder::JpegHuffmanDecoder() = default;
JpegHuffmanDecoder::~JpegHuffmanDecoder() = default;

bool JpegHuffmanDecoder::install(jpeg_decompress_struct& cinfo) {
    if (cinfo.progressive_mode || cinfo.arith_code || cinfo.data_precision != 8 ||
        cinfo.inputctl->has_multiple_scans || cinfo.comps_in_scan != cinfo.num_components ||
        cinfo.comps_in_scan > MAX_COMPS_IN_SCAN || cinfo.blocks_in_MCU > D_MAX_BLOCKS_IN_MCU ||
        cinfo.Ss != 0 || cinfo.Se != 63 || cinfo.Ah != 0 || cinfo.Al != 0 ||
        cinfo.output_scanline != 0)
        return false;
    auto state = std::make_unique<State>();
    t_tables.startScan();
    for (int b = 0; b < cinfo.blocks_in_MCU; ++b) {
        const int c = cinfo.MCU_membership[b];
        const jpeg_component_info& component = *cinfo.cur_comp_info[c];
        const int dc = component.dc_tbl_no, ac = component.ac_tbl_no;
        if (dc < 0 || dc >= NUM_HUFF_TBLS || ac < 0 || ac >= NUM_HUFF_TBLS ||
            !cinfo.dc_huff_tbl_ptrs[dc] || !cinfo.ac_huff_tbl_ptrs[ac])
            return false;
        state->dcTables[b] = t_tables.find(*cinfo.dc_huff_tbl_ptrs[dc], true);
        state->acTables[b] = t_tables.find(*cinfo.ac_huff_tbl_ptrs[ac], false);
        if (!state->dcTables[b] || !state->acTables[b])
            return false;
        state->componentOf[b] = c;
    }
    const jpeg_source_mgr& src = *cinfo.src;
    if (!state->unstuff(src.next_input_byte, src.next_input_byte + src.bytes_in_buffer))
        return false;
    state->startInterval(0);
    state->restartsLeft = cinfo.restart_interval;
    state->mcusLeft = long(cinfo.MCUs_per_row) * long(cinfo.MCU_rows_in_scan);
    m_state = std::move(state);
    cinfo.client_data = m_state.get();
    cinfo.entropy->decode_mcu = decodeMcu;
    return true;
}

bool JpegHuffmanDecoder::failed() const {
    return m_state && m_state->failed;
}

}  // namespace convscope
