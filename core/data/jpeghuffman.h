#pragma once

// Internal to core: ConvScope's own Huffman decoding of baseline JPEG scans, in place of
// libjpeg-turbo's, with everything else (inverse DCT, upsampling, colour) left to libjpeg.

#include <memory>

struct jpeg_decompress_struct;

namespace convscope {

/// Decodes the Huffman-coded coefficients of one baseline JPEG scan for libjpeg-turbo: it
/// replaces the decode_mcu method of libjpeg's entropy decoder (jpegint.h) for one
/// decompression. The coefficients are the ones libjpeg's decoder gives, so the pixels are
/// the same to the bit. The whole decode at half scale takes about a quarter less time: most
/// codes come with their value bits from one table lookup, often two codes at once, read
/// from a copy of the scan with the stuffed bytes taken out, without branches on the bit
/// buffer.
/// Uses the decompression's client_data. One object per decompression, on one thread.
class JpegHuffmanDecoder {
public:
    JpegHuffmanDecoder();
    ~JpegHuffmanDecoder();
    JpegHuffmanDecoder(const JpegHuffmanDecoder&) = delete;
    JpegHuffmanDecoder& operator=(const JpegHuffmanDecoder&) = delete;

    /// Call after jpeg_start_decompress on a source made by jpeg_mem_src. Takes over the
    /// scan's Huffman decoding when it is one this decoder handles (sequential, Huffman-coded,
    /// 8-bit, every component in one scan, tables with symbols 8-bit data can have, a scan
    /// ending in a marker); returns whether it did. Otherwise libjpeg decodes as usual.
    bool install(jpeg_decompress_struct& cinfo);

    /// True once the scan held something this decoder does not decode as libjpeg would
    /// (damaged or truncated data, restart markers missing or out of order): the rows from
    /// then on are not the file's, and the caller must decode the file again without it,
    /// letting libjpeg report and repair the damage its own way.
    bool failed() const;

    struct State;

private:
    std::unique_ptr<State> m_state;
};

}  // namespace convscope
