#include <gtest/gtest.h>

#include <vector>

#include "similarity/vector_capi.h"

namespace {

struct Parsed {
    bool ok;
    SimError error;
    std::vector<float> values;
};

Parsed parse(const char *text, int max_dims = SIM_VECTOR_MAX_DIM) {
    Parsed result;
    result.values.resize(max_dims);
    int dims = 0;
    sim_error_init(&result.error);
    result.ok = sim_vector_parse(text, result.values.data(), max_dims, &dims, &result.error);
    result.values.resize(result.ok ? dims : 0);
    return result;
}

TEST(VectorText, ParsesSpacesSignsExponents) {
    Parsed p = parse("  [ 1, -2.5 ,+3e2,4E-1 ]  ");
    ASSERT_TRUE(p.ok) << p.error.message;
    ASSERT_EQ(p.values.size(), 4u);
    EXPECT_EQ(p.values[0], 1.0f);
    EXPECT_EQ(p.values[1], -2.5f);
    EXPECT_EQ(p.values[2], 300.0f);
    EXPECT_EQ(p.values[3], 0.4f);
}

TEST(VectorText, RejectsMalformedText) {
    for (const char *text : {"", "1,2", "[1,2", "[1,,2]", "[1 2]", "[1]x", "[a]", "[1,]"}) {
        Parsed p = parse(text);
        EXPECT_FALSE(p.ok) << text;
        EXPECT_EQ(p.error.kind, SIM_ERR_INVALID_TEXT) << text;
    }
}

TEST(VectorText, RejectsNonFiniteValues) {
    for (const char *text : {"[NaN]", "[inf]", "[-Infinity]"}) {
        Parsed p = parse(text);
        EXPECT_FALSE(p.ok) << text;
        EXPECT_EQ(p.error.kind, SIM_ERR_DATA) << text;
    }
}

TEST(VectorText, RejectsOutOfRange) {
    Parsed p = parse("[1e39]");
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error.kind, SIM_ERR_OUT_OF_RANGE);
}

TEST(VectorText, RejectsEmptyVector) {
    Parsed p = parse("[]");
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error.kind, SIM_ERR_DATA);
}

TEST(VectorText, RejectsTooManyDimensions) {
    Parsed p = parse("[1,2,3]", 2);
    EXPECT_FALSE(p.ok);
    EXPECT_EQ(p.error.kind, SIM_ERR_PROGRAM_LIMIT);
}

}  // namespace
