// decode.cpp
//
// Header parsing and OpenCV decoding of JPEG, PNG, WebP, BMP and TIFF.
//
// The pixel limit is checked on sizes read from the file header by the
// parsers below, before OpenCV allocates anything: OpenCV 4.6 has no public
// call that reads only the header of an in-memory image.
#include "similarity/core_only.hpp"

#include "similarity/image/decode.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "similarity/error.hpp"

namespace similarity::image {
namespace {

[[noreturn]] void invalid(const std::string &message, const std::string &detail = {}) {
    throw Error(SIM_ERR_INVALID_IMAGE, message, detail);
}

uint32_t be16(const uint8_t *p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t le16(const uint8_t *p) { return (uint32_t(p[1]) << 8) | p[0]; }
uint32_t be32(const uint8_t *p) { return (be16(p) << 16) | be16(p + 2); }
uint32_t le32(const uint8_t *p) { return (le16(p + 2) << 16) | le16(p); }
uint32_t le24(const uint8_t *p) { return (uint32_t(p[2]) << 16) | le16(p); }

bool starts_with(const uint8_t *data, std::size_t size, const char *magic, std::size_t length) {
    return size >= length && std::memcmp(data, magic, length) == 0;
}

ImageFormat sniff_format(const uint8_t *data, std::size_t size) {
    if (starts_with(data, size, "\xFF\xD8\xFF", 3))
        return ImageFormat::Jpeg;
    if (starts_with(data, size, "\x89PNG\r\n\x1A\n", 8))
        return ImageFormat::Png;
    if (size >= 12 && starts_with(data, size, "RIFF", 4) && std::memcmp(data + 8, "WEBP", 4) == 0)
        return ImageFormat::WebP;
    if (starts_with(data, size, "BM", 2))
        return ImageFormat::Bmp;
    if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4))
        return ImageFormat::Tiff;
    return ImageFormat::Unknown;
}

// Walk the JPEG marker segments up to the first start-of-frame marker.  Also
// require an end-of-image marker after the first scan: libjpeg only warns on
// a truncated file and returns grey rows, which must not become an embedding.
void read_jpeg_size(const uint8_t *data, std::size_t size, ImageHeader &header) {
    std::size_t pos = 2;
    bool have_frame = false;
    while (pos + 4 <= size) {
        if (data[pos] != 0xFF)
            invalid("invalid JPEG data", "A marker was expected at byte " + std::to_string(pos) + ".");
        uint8_t marker = data[pos + 1];
        if (marker == 0xFF) {  // fill byte
            pos++;
            continue;
        }
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {  // no length field
            pos += 2;
            continue;
        }
        if (marker == 0xD9)
            break;
        std::size_t length = be16(data + pos + 2);
        if (length < 2 || pos + 2 + length > size)
            break;
        bool is_frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 &&
                        marker != 0xC8 && marker != 0xCC;
        if (is_frame && !have_frame) {
            if (length < 7)
                invalid("invalid JPEG data", "The frame header is too short.");
            header.height = be16(data + pos + 5);
            header.width = be16(data + pos + 7);
            have_frame = true;
        }
        if (marker == 0xDA) {  // start of scan: entropy-coded data follows
            if (!have_frame)
                invalid("invalid JPEG data", "A scan starts before the frame header.");
            // In entropy-coded data 0xFF is always followed by 0x00 or a
            // restart/marker byte, so the first FF D9 from here is the EOI.
            static const uint8_t eoi[2] = {0xFF, 0xD9};
            const uint8_t *scan = data + pos;
            const uint8_t *end = data + size;
            if (std::search(scan, end, eoi, eoi + 2) == end)
                invalid("truncated JPEG data", "The file ends before its end-of-image marker.");
            return;
        }
        pos += 2 + length;
    }
    invalid(have_frame ? "truncated JPEG data" : "invalid JPEG data",
            have_frame ? "The file ends before its first scan."
                       : "No frame header was found before the end of the file.");
}

void read_png_size(const uint8_t *data, std::size_t size, ImageHeader &header) {
    if (size < 24 || std::memcmp(data + 12, "IHDR", 4) != 0)
        invalid("invalid PNG data", "The IHDR chunk is missing or truncated.");
    header.width = be32(data + 16);
    header.height = be32(data + 20);
}

void read_webp_size(const uint8_t *data, std::size_t size, ImageHeader &header) {
    if (size < 30)
        invalid("invalid WebP data", "The file is shorter than a WebP header.");
    const uint8_t *chunk = data + 12;
    if (std::memcmp(chunk, "VP8 ", 4) == 0) {
        if (data[23] != 0x9D || data[24] != 0x01 || data[25] != 0x2A)
            invalid("invalid WebP data", "The VP8 start code is missing.");
        header.width = le16(data + 26) & 0x3FFF;
        header.height = le16(data + 28) & 0x3FFF;
    } else if (std::memcmp(chunk, "VP8L", 4) == 0) {
        if (data[20] != 0x2F)
            invalid("invalid WebP data", "The VP8L signature is missing.");
        uint32_t bits = le32(data + 21);
        header.width = (bits & 0x3FFF) + 1;
        header.height = ((bits >> 14) & 0x3FFF) + 1;
    } else if (std::memcmp(chunk, "VP8X", 4) == 0) {
        header.width = int64_t(le24(data + 24)) + 1;
        header.height = int64_t(le24(data + 27)) + 1;
    } else {
        invalid("invalid WebP data", "The first chunk is not VP8, VP8L or VP8X.");
    }
}

void read_bmp_size(const uint8_t *data, std::size_t size, ImageHeader &header) {
    if (size < 26)
        invalid("invalid BMP data", "The file is shorter than a BMP header.");
    uint32_t info_size = le32(data + 14);
    if (info_size == 12) {  // OS/2 BITMAPCOREHEADER, 16-bit sizes
        header.width = le16(data + 18);
        header.height = le16(data + 20);
    } else {
        header.width = int32_t(le32(data + 18));
        header.height = int32_t(le32(data + 22));
        if (header.height < 0)  // top-down bitmap
            header.height = -header.height;
    }
}

// Read ImageWidth (256) and ImageLength (257) from the first IFD.
void read_tiff_size(const uint8_t *data, std::size_t size, ImageHeader &header) {
    bool little = data[0] == 'I';
    auto u16 = [&](std::size_t at) { return little ? le16(data + at) : be16(data + at); };
    auto u32 = [&](std::size_t at) { return little ? le32(data + at) : be32(data + at); };
    if (size < 8)
        invalid("invalid TIFF data", "The file is shorter than a TIFF header.");
    std::size_t ifd = u32(4);
    if (ifd + 2 > size)
        invalid("invalid TIFF data", "The first IFD lies beyond the end of the file.");
    std::size_t entries = u16(ifd);
    for (std::size_t i = 0; i < entries; i++) {
        std::size_t entry = ifd + 2 + 12 * i;
        if (entry + 12 > size)
            invalid("truncated TIFF data", "The first IFD is cut off.");
        uint32_t tag = u16(entry);
        uint32_t type = u16(entry + 2);
        int64_t value = type == 3 ? u16(entry + 8) : u32(entry + 8);  // SHORT or LONG
        if (tag == 256)
            header.width = value;
        else if (tag == 257)
            header.height = value;
    }
}

}  // namespace

const char *format_name(ImageFormat format) {
    switch (format) {
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Png: return "PNG";
    case ImageFormat::WebP: return "WebP";
    case ImageFormat::Bmp: return "BMP";
    case ImageFormat::Tiff: return "TIFF";
    case ImageFormat::Unknown: break;
    }
    return "unknown";
}

ImageHeader read_image_header(const uint8_t *data, std::size_t size) {
    if (size == 0)
        invalid("invalid image data", "The image is empty (0 bytes).");

    ImageHeader header;
    header.format = sniff_format(data, size);
    switch (header.format) {
    case ImageFormat::Jpeg: read_jpeg_size(data, size, header); break;
    case ImageFormat::Png: read_png_size(data, size, header); break;
    case ImageFormat::WebP: read_webp_size(data, size, header); break;
    case ImageFormat::Bmp: read_bmp_size(data, size, header); break;
    case ImageFormat::Tiff: read_tiff_size(data, size, header); break;
    case ImageFormat::Unknown: {
        char first[64];
        std::size_t shown = size < 8 ? size : 8;
        std::string hex;
        for (std::size_t i = 0; i < shown; i++) {
            std::snprintf(first, sizeof(first), "%s%02x", i ? " " : "", data[i]);
            hex += first;
        }
        invalid("invalid image data: unrecognized image format",
                "The first bytes are " + hex + ". Supported formats: JPEG, PNG, WebP, BMP, TIFF.");
    }
    }

    if (header.width <= 0 || header.height <= 0)
        invalid(std::string("invalid ") + format_name(header.format) + " data",
                "The header gives a size of " + std::to_string(header.width) + "x" +
                    std::to_string(header.height) + " pixels.");
    return header;
}

cv::Mat decode_image_rgb(const uint8_t *data, std::size_t size, int64_t max_pixels) {
    ImageHeader header = read_image_header(data, size);
    auto check_pixels = [&](int64_t width, int64_t height) {
        // Divide instead of multiplying: two 32-bit header sizes overflow int64.
        if (max_pixels > 0 && width > max_pixels / height)
            throw Error(SIM_ERR_PROGRAM_LIMIT,
                        "image of " + std::to_string(width) + "x" + std::to_string(height) +
                            " pixels exceeds the limit of " + std::to_string(max_pixels) +
                            " pixels",
                        {}, "Raise similarity.max_image_pixels, or shrink the image.");
    };
    check_pixels(header.width, header.height);

    const std::string format = format_name(header.format);
    cv::Mat decoded;
    try {
        cv::Mat buffer(1, int(size), CV_8UC1, const_cast<uint8_t *>(data));
        // IMREAD_COLOR converts to 8-bit BGR and applies the EXIF orientation.
        decoded = cv::imdecode(buffer, cv::IMREAD_COLOR);
    } catch (const cv::Exception &e) {
        invalid("invalid " + format + " data: the decoder failed", e.what());
    }
    if (decoded.empty() || decoded.type() != CV_8UC3)
        invalid("invalid " + format + " data: the decoder failed",
                "OpenCV could not decode the " + std::to_string(size) + "-byte " + format +
                    " image; it is truncated or corrupt.");
    check_pixels(decoded.cols, decoded.rows);

    cv::Mat rgb;
    cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
    return rgb;
}

}  // namespace similarity::image
