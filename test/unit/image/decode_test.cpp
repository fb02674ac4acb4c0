// Decoding of unusual and broken images, with a corpus built at test time by
// OpenCV plus the small synthetic files in corpus/ (see corpus/make_corpus.py).
#include "similarity/core_only.hpp"

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include "similarity/error.hpp"
#include "similarity/image/decode.hpp"

using similarity::Error;
using namespace similarity::image;

namespace {

const int64_t kLimit = 40000000;

std::string corpus_path(const std::string &name) {
    std::string here = __FILE__;
    return here.substr(0, here.rfind('/')) + "/corpus/" + name;
}

std::vector<uint8_t> read_corpus(const std::string &name) {
    std::ifstream in(corpus_path(name), std::ios::binary);
    EXPECT_TRUE(in.good()) << corpus_path(name);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> encode(const cv::Mat &image, const std::string &ext) {
    std::vector<uint8_t> bytes;
    EXPECT_TRUE(cv::imencode(ext, image, bytes)) << ext;
    return bytes;
}

// A BGR test image: left half blue-ish, right half red-ish, with a gradient.
cv::Mat sample_bgr(int width = 40, int height = 30) {
    cv::Mat image(height, width, CV_8UC3);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            image.at<cv::Vec3b>(y, x) = x < width / 2 ? cv::Vec3b(200, uint8_t(4 * y), 10)
                                                      : cv::Vec3b(10, uint8_t(4 * y), 200);
    return image;
}

SimErrorKind decode_error(const std::vector<uint8_t> &bytes, int64_t limit = kLimit) {
    try {
        decode_image_rgb(bytes.data(), bytes.size(), limit);
    } catch (const Error &e) {
        return e.kind();
    }
    return SIM_OK;
}

std::vector<uint8_t> png_header(uint32_t width, uint32_t height) {
    std::vector<uint8_t> bytes = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n',
                                  0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (uint32_t value : {width, height})
        for (int shift = 24; shift >= 0; shift -= 8)
            bytes.push_back(uint8_t(value >> shift));
    for (uint8_t b : {8, 2, 0, 0, 0, 0, 0, 0, 0})
        bytes.push_back(b);
    return bytes;
}

// SOI, a baseline frame header of the given size, a scan header and EOI.
std::vector<uint8_t> jpeg_header(uint16_t width, uint16_t height) {
    return {0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08, uint8_t(height >> 8), uint8_t(height),
            uint8_t(width >> 8), uint8_t(width), 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
            0xFF, 0xDA, 0x00, 0x0C, 0x03, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3F, 0,
            0x12, 0x34, 0xFF, 0xD9};
}

}  // namespace

TEST(DecodeTest, FormatsRoundTrip) {
    cv::Mat bgr = sample_bgr();
    for (const char *ext : {".png", ".bmp", ".tiff", ".webp", ".jpg"}) {
        std::vector<uint8_t> bytes = encode(bgr, ext);
        cv::Mat rgb = decode_image_rgb(bytes.data(), bytes.size(), kLimit);
        ASSERT_EQ(rgb.type(), CV_8UC3) << ext;
        EXPECT_EQ(rgb.cols, 40) << ext;
        EXPECT_EQ(rgb.rows, 30) << ext;
        // RGB order: the left half is blue, so channel 2 dominates there.
        cv::Vec3b left = rgb.at<cv::Vec3b>(15, 5);
        EXPECT_GT(left[2], 150) << ext;
        EXPECT_LT(left[0], 60) << ext;
    }
}

TEST(DecodeTest, HeaderSizes) {
    cv::Mat bgr = sample_bgr(41, 17);
    for (const char *ext : {".png", ".bmp", ".tiff", ".webp", ".jpg"}) {
        std::vector<uint8_t> bytes = encode(bgr, ext);
        ImageHeader header = read_image_header(bytes.data(), bytes.size());
        EXPECT_EQ(header.width, 41) << ext;
        EXPECT_EQ(header.height, 17) << ext;
    }
}

TEST(DecodeTest, OnePixel) {
    cv::Mat pixel(1, 1, CV_8UC3, cv::Scalar(1, 2, 3));
    std::vector<uint8_t> bytes = encode(pixel, ".png");
    cv::Mat rgb = decode_image_rgb(bytes.data(), bytes.size(), kLimit);
    ASSERT_EQ(rgb.total(), 1u);
    EXPECT_EQ(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(3, 2, 1));
}

TEST(DecodeTest, SixteenBitPng) {
    cv::Mat deep(4, 4, CV_16UC3, cv::Scalar(65535, 32768, 0));
    std::vector<uint8_t> bytes = encode(deep, ".png");
    cv::Mat rgb = decode_image_rgb(bytes.data(), bytes.size(), kLimit);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    EXPECT_EQ(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 128, 255));
}

TEST(DecodeTest, AlphaPngDropsAlpha) {
    cv::Mat bgra(4, 4, CV_8UC4, cv::Scalar(10, 20, 30, 0));
    std::vector<uint8_t> bytes = encode(bgra, ".png");
    cv::Mat rgb = decode_image_rgb(bytes.data(), bytes.size(), kLimit);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    EXPECT_EQ(rgb.at<cv::Vec3b>(1, 1), cv::Vec3b(30, 20, 10));
}

TEST(DecodeTest, GrayPngBecomesRgb) {
    cv::Mat gray(5, 3, CV_8UC1, cv::Scalar(77));
    std::vector<uint8_t> bytes = encode(gray, ".png");
    cv::Mat rgb = decode_image_rgb(bytes.data(), bytes.size(), kLimit);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    EXPECT_EQ(rgb.at<cv::Vec3b>(2, 1), cv::Vec3b(77, 77, 77));
}

TEST(DecodeTest, PalettePng) {
    std::vector<uint8_t> bytes = read_corpus("palette.png");
    cv::Mat rgb = decode_image_rgb(bytes.data(), bytes.size(), kLimit);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    EXPECT_EQ(rgb.at<cv::Vec3b>(0, 0), cv::Vec3b(255, 0, 0));
    EXPECT_EQ(rgb.at<cv::Vec3b>(0, 2), cv::Vec3b(0, 255, 0));
    EXPECT_EQ(rgb.at<cv::Vec3b>(0, 4), cv::Vec3b(0, 0, 255));
}

TEST(DecodeTest, CmykJpegMatchesPil) {
    std::vector<uint8_t> bytes = read_corpus("cmyk.jpg");
    std::ifstream expected_file(corpus_path("cmyk.rgb.txt"));
    int r = 0, g = 0, b = 0;
    expected_file >> r >> g >> b;
    cv::Mat rgb = decode_image_rgb(bytes.data(), bytes.size(), kLimit);
    ASSERT_EQ(rgb.type(), CV_8UC3);
    cv::Vec3b pixel = rgb.at<cv::Vec3b>(8, 8);
    EXPECT_NEAR(pixel[0], r, 3);
    EXPECT_NEAR(pixel[1], g, 3);
    EXPECT_NEAR(pixel[2], b, 3);
}

TEST(DecodeTest, ExifOrientationApplied) {
    std::vector<uint8_t> bytes = read_corpus("exif_rotate90.jpg");
    ImageHeader header = read_image_header(bytes.data(), bytes.size());
    EXPECT_EQ(header.width, 16);  // stored size
    cv::Mat rgb = decode_image_rgb(bytes.data(), bytes.size(), kLimit);
    ASSERT_EQ(rgb.cols, 8);
    ASSERT_EQ(rgb.rows, 16);
    cv::Vec3b top = rgb.at<cv::Vec3b>(2, 4), bottom = rgb.at<cv::Vec3b>(13, 4);
    EXPECT_GT(top[0], 200);  // red on top
    EXPECT_LT(top[2], 60);
    EXPECT_GT(bottom[2], 200);  // blue at the bottom
    EXPECT_LT(bottom[0], 60);
}

TEST(DecodeTest, HugePngHeaderRejectedBeforeDecoding) {
    std::vector<uint8_t> bytes = png_header(20000, 20000);
    ImageHeader header = read_image_header(bytes.data(), bytes.size());
    EXPECT_EQ(header.width, 20000);
    EXPECT_EQ(header.height, 20000);
    EXPECT_EQ(decode_error(bytes), SIM_ERR_PROGRAM_LIMIT);
}

TEST(DecodeTest, HugeJpegHeaderRejectedBeforeDecoding) {
    std::vector<uint8_t> bytes = jpeg_header(20000, 20000);
    ImageHeader header = read_image_header(bytes.data(), bytes.size());
    EXPECT_EQ(header.format, ImageFormat::Jpeg);
    EXPECT_EQ(header.width, 20000);
    EXPECT_EQ(decode_error(bytes), SIM_ERR_PROGRAM_LIMIT);
}

TEST(DecodeTest, MaximalPngHeaderSizeRejected) {
    // 0xFFFFFFFF x 0xFFFFFFFF overflowed the pixel-count product once.
    std::vector<uint8_t> bytes = png_header(0xFFFFFFFFu, 0xFFFFFFFFu);
    EXPECT_EQ(decode_error(bytes), SIM_ERR_PROGRAM_LIMIT);
}

TEST(DecodeTest, PixelLimitIsInclusive) {
    std::vector<uint8_t> bytes = encode(sample_bgr(10, 10), ".png");
    EXPECT_EQ(decode_error(bytes, 100), SIM_OK);
    EXPECT_EQ(decode_error(bytes, 99), SIM_ERR_PROGRAM_LIMIT);
    EXPECT_EQ(decode_error(bytes, 0), SIM_OK);  // 0 means no limit
}

TEST(DecodeTest, EmptyInput) {
    EXPECT_EQ(decode_error({}), SIM_ERR_INVALID_IMAGE);
}

TEST(DecodeTest, WrongMagic) {
    std::vector<uint8_t> bytes = encode(sample_bgr(), ".png");
    bytes[1] = 'X';
    EXPECT_EQ(decode_error(bytes), SIM_ERR_INVALID_IMAGE);
    std::vector<uint8_t> text = {'h', 'e', 'l', 'l', 'o'};
    EXPECT_EQ(decode_error(text), SIM_ERR_INVALID_IMAGE);
}

TEST(DecodeTest, ZeroSizeHeader) {
    EXPECT_EQ(decode_error(png_header(0, 10)), SIM_ERR_INVALID_IMAGE);
    EXPECT_EQ(decode_error(jpeg_header(10, 0)), SIM_ERR_INVALID_IMAGE);
}

TEST(DecodeTest, TruncatedFiles) {
    cv::Mat bgr = sample_bgr(64, 48);
    for (const char *ext : {".png", ".jpg", ".webp", ".bmp", ".tiff"}) {
        std::vector<uint8_t> bytes = encode(bgr, ext);
        for (double fraction : {0.1, 0.5, 0.9}) {
            std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(bytes.size() * fraction));
            EXPECT_EQ(decode_error(cut), SIM_ERR_INVALID_IMAGE) << ext << " cut at " << fraction;
        }
    }
}

TEST(DecodeTest, CorruptBodiesNeverCrash) {
    cv::Mat bgr = sample_bgr(64, 48);
    for (const char *ext : {".png", ".jpg", ".webp", ".bmp", ".tiff"}) {
        std::vector<uint8_t> bytes = encode(bgr, ext);
        for (std::size_t step = 7; step < 40; step += 11) {
            std::vector<uint8_t> damaged = bytes;
            for (std::size_t i = 40; i < damaged.size(); i += step)
                damaged[i] ^= 0x5A;
            SimErrorKind kind = decode_error(damaged);
            EXPECT_TRUE(kind == SIM_OK || kind == SIM_ERR_INVALID_IMAGE ||
                        kind == SIM_ERR_PROGRAM_LIMIT)
                << ext << " kind " << kind;
        }
    }
}
