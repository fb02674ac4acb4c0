// sha256.hpp
//
// SHA-256 (FIPS 180-4) of files, for model version strings.
#pragma once

#include "similarity/core_only.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace similarity::image {

class Sha256 {
public:
    Sha256();
    void update(const void *data, std::size_t size);
    std::string hex_digest();  // finishes the hash; call once

private:
    void compress(const uint8_t *block);
    uint32_t state_[8];
    uint8_t buffer_[64];
    std::size_t buffered_ = 0;
    uint64_t total_bytes_ = 0;
};

// Feed the whole file at path into hash.  Throws Error(SIM_ERR_SYSTEM).
void hash_file(Sha256 &hash, const std::string &path);

}  // namespace similarity::image
