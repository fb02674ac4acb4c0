/*
 * vector.h
 *	  The vector type: pgvector's on-disk and wire layout.
 */
#ifndef SIM_VECTOR_H
#define SIM_VECTOR_H

#include "fmgr.h"

#include "similarity/vector_capi.h"

#define VECTOR_MAX_DIM SIM_VECTOR_MAX_DIM

/* The varlena layout pgvector uses, so stored values and binary I/O match. */
typedef struct Vector
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int16		dim;			/* number of dimensions */
	int16		unused;			/* reserved for future use, always zero */
	float		x[FLEXIBLE_ARRAY_MEMBER];
} Vector;

#define VECTOR_SIZE(dim)		(offsetof(Vector, x) + sizeof(float) * (dim))
#define DatumGetVector(x)		((Vector *) PG_DETOAST_DATUM(x))
#define PG_GETARG_VECTOR_P(x)	DatumGetVector(PG_GETARG_DATUM(x))
#define PG_RETURN_VECTOR_P(x)	PG_RETURN_POINTER(x)

/*
 * Allocate a zeroed vector of dim dimensions.  Inline, so the modules that
 * build vectors (similarity_pca.so, similarity_embed.so) need no symbol
 * from similarity.so.
 */
static inline Vector *
InitVector(int dim)
{
	Vector	   *result = (Vector *) palloc0(VECTOR_SIZE(dim));

	SET_VARSIZE(result, VECTOR_SIZE(dim));
	result->dim = dim;
	return result;
}

extern void CheckVectorDim(int dim);
extern void CheckExpectedDim(int32 typmod, int dim);
extern void CheckSameDims(const Vector *a, const Vector *b);
extern void CheckVectorElement(float value);

#endif							/* SIM_VECTOR_H */
