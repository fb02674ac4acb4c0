// vector_text.cpp
//
// Parser for pgvector's text form of a vector.
#include "similarity/core_only.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include "similarity/error.hpp"
#include "similarity/vector_capi.h"

namespace {

using similarity::Error;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

const char *skip_spaces(const char *p) {
    while (is_space(*p))
        p++;
    return p;
}

[[noreturn]] void throw_malformed(const char *text, const std::string &detail) {
    throw Error(SIM_ERR_INVALID_TEXT,
                std::string("invalid input syntax for type vector: \"") + text + "\"",
                detail);
}

// Parse the text into out and return the dimension count.
int parse(const char *text, float *out, int max_dims) {
    const char *p = skip_spaces(text);

    if (*p != '[')
        throw_malformed(text, "Vector contents must start with \"[\".");
    p = skip_spaces(p + 1);

    if (*p == ']')
        throw Error(SIM_ERR_DATA, "vector must have at least 1 dimension");

    int dims = 0;
    for (;;) {
        if (dims == max_dims)
            throw Error(SIM_ERR_PROGRAM_LIMIT,
                        "vector cannot have more than " + std::to_string(max_dims) +
                            " dimensions");

        // strtof accepts "nan", "inf" and hex floats; the checks below reject
        // the first two, and hex floats are harmless.
        char *end = nullptr;
        errno = 0;
        float value = std::strtof(p, &end);
        if (end == p)
            throw_malformed(text, "");

        std::string token(p, end - p);
        if (errno == ERANGE && std::isinf(value))
            throw Error(SIM_ERR_OUT_OF_RANGE,
                        "\"" + token + "\" is out of range for type vector");
        if (std::isnan(value))
            throw Error(SIM_ERR_DATA, "NaN not allowed in vector");
        if (std::isinf(value))
            throw Error(SIM_ERR_DATA, "infinite value not allowed in vector");

        out[dims++] = value;

        p = skip_spaces(end);
        if (*p == ',') {
            p = skip_spaces(p + 1);
            continue;
        }
        if (*p == ']') {
            p++;
            break;
        }
        throw_malformed(text, "");
    }

    p = skip_spaces(p);
    if (*p != '\0')
        throw_malformed(text, "Junk after closing right brace.");
    return dims;
}

}  // namespace

extern "C" bool sim_vector_parse(const char *text, float *out, int max_dims, int *dims,
                                 SimError *error) {
    return similarity::guard(error, [&] { *dims = parse(text, out, max_dims); });
}
