/*
 * vector_capi.h
 *	  C interface of the core's vector routines: text parsing and distance
 *	  kernels.  The kernels are noexcept and take no SimError.
 */
#ifndef SIMILARITY_VECTOR_CAPI_H
#define SIMILARITY_VECTOR_CAPI_H

#include "similarity/capi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest dimension count of a vector, the same as pgvector's. */
#define SIM_VECTOR_MAX_DIM 16000

/*
 * Parse pgvector's text form "[1, -2.5e3, 3]" into out[0 .. *dims - 1].
 * out must have room for max_dims values.  Rejects malformed text, NaN,
 * infinities, values outside float4 range, empty vectors and more than
 * max_dims elements, filling *error with the matching kind.
 */
bool		sim_vector_parse(const char *text, float *out, int max_dims,
							 int *dims, SimError *error);

/*
 * Distance kernels over n floats: AVX-512F, AVX2+FMA or scalar code, chosen
 * once per process for the CPU.  C++ code calls the same kernels through
 * similarity/distance.hpp, which also documents their accuracy.
 */
double		sim_l2_squared_distance(const float *a, const float *b, int n);
double		sim_inner_product(const float *a, const float *b, int n);
double		sim_l1_distance(const float *a, const float *b, int n);

/*
 * Cosine distance 1 - a.b / (|a| |b|), clamped to [0, 2].  Returns NaN when
 * either vector has zero norm, as pgvector does.
 */
double		sim_cosine_distance(const float *a, const float *b, int n);

/* Squared Euclidean norm of a, summed in double precision. */
double		sim_norm_squared(const float *a, int n);

/* Name of the kernel set chosen for this CPU ("avx512", "avx2", "scalar"). */
const char *sim_kernel_name(void);

#ifdef __cplusplus
}
#endif

#endif							/* SIMILARITY_VECTOR_CAPI_H */
