#include <gtest/gtest.h>

#include <cmath>
#include <string>
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

namespace {

TEST(VectorText, AcceptsEveryPostgresSpaceCharacter) {
    Parsed p = parse("\t[\n1,\r2\f,\v3 ]\n");
    ASSERT_TRUE(p.ok) << p.error.message;
    ASSERT_EQ(p.values.size(), 3u);
    EXPECT_EQ(p.values[2], 3.0f);
}

TEST(VectorText, RoundsLikeStrtof) {
    Parsed p = parse("[0.1,1e-46,-1e-46,3.4028235e38,1.4e-45]");
    ASSERT_TRUE(p.ok) << p.error.message;
    EXPECT_EQ(p.values[0], 0.1f);
    EXPECT_EQ(p.values[1], 0.0f);
    EXPECT_TRUE(std::signbit(p.values[2]));
    EXPECT_EQ(p.values[3], 3.4028235e38f);
    EXPECT_GT(p.values[4], 0.0f);
}

TEST(VectorText, MalformedMessagesMatchPgvector) {
    struct Case {
        const char *text;
        const char *detail;
    };
    const Case cases[] = {
        {"1,2,3", "Vector contents must start with \"[\"."},
        {"", "Vector contents must start with \"[\"."},
        {"[1,2,3]9", "Junk after closing right brace."},
        {"[1,2,3] ]", "Junk after closing right brace."},
        {"[1,2", ""},
        {"[ ", ""},
        {"[,", ""},
        {"[,]", ""},
        {"[1, ,3]", ""},
        {"[1a]", ""},
        {"[hello,1]", ""},
    };
    for (const Case &c : cases) {
        Parsed p = parse(c.text);
        ASSERT_FALSE(p.ok) << c.text;
        EXPECT_EQ(p.error.kind, SIM_ERR_INVALID_TEXT) << c.text;
        EXPECT_EQ(std::string(p.error.message),
                  std::string("invalid input syntax for type vector: \"") + c.text + "\"");
        EXPECT_STREQ(p.error.detail, c.detail) << c.text;
    }
}

TEST(VectorText, DataErrorMessages) {
    EXPECT_STREQ(parse("[ ]").error.message, "vector must have at least 1 dimension");
    EXPECT_STREQ(parse("[1,NaN]").error.message, "NaN not allowed in vector");
    EXPECT_STREQ(parse("[-inf]").error.message, "infinite value not allowed in vector");
    EXPECT_STREQ(parse("[Infinity]").error.message, "infinite value not allowed in vector");
}

TEST(VectorText, OutOfRangeNamesTheToken) {
    Parsed p = parse("[1, -4e38 ,2]");
    ASSERT_FALSE(p.ok);
    EXPECT_EQ(p.error.kind, SIM_ERR_OUT_OF_RANGE);
    EXPECT_STREQ(p.error.message, "\"-4e38\" is out of range for type vector");
}

TEST(VectorText, DimensionLimitIsInclusive) {
    std::string text = "[1";
    for (int i = 1; i < SIM_VECTOR_MAX_DIM; i++)
        text += ",1";
    text += "]";
    Parsed at_limit = parse(text.c_str());
    ASSERT_TRUE(at_limit.ok) << at_limit.error.message;
    EXPECT_EQ(at_limit.values.size(), static_cast<size_t>(SIM_VECTOR_MAX_DIM));

    text.insert(text.size() - 1, ",1");
    Parsed over_limit = parse(text.c_str());
    ASSERT_FALSE(over_limit.ok);
    EXPECT_EQ(over_limit.error.kind, SIM_ERR_PROGRAM_LIMIT);
    EXPECT_STREQ(over_limit.error.message, "vector cannot have more than 16000 dimensions");
}

}  // namespace
