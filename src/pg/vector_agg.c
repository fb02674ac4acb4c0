/*
 * vector_agg.c
 *	  The avg(vector) aggregate: transition, combine and final functions.
 *
 * The transition state is a float8[] of dim + 1 elements: the count of
 * rows, then the running sum of each dimension.  The initial state '{0}'
 * has no dimensions yet, and the first vector sets them.  pgvector 0.8.6
 * uses the same layout.  sum(vector) needs no state of its own because its
 * transition and combine function is vector_add.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/float.h"

#include "vector.h"

/* Dimensions recorded in a state array (0 for the initial state). */
#define STATE_DIMS(state) (ARR_DIMS(state)[0] - 1)

/*
 * Check that an argument is a state array and return its values.  Only a
 * direct call with a hand-written array can fail here.
 */
static float8 *
CheckStateArray(ArrayType *state, const char *caller)
{
	if (ARR_NDIM(state) != 1 ||
		ARR_DIMS(state)[0] < 1 ||
		ARR_HASNULL(state) ||
		ARR_ELEMTYPE(state) != FLOAT8OID)
		elog(ERROR, "%s: expected state array", caller);
	return (float8 *) ARR_DATA_PTR(state);
}

/* Build a state array from count and the dim sums in sums. */
static ArrayType *
MakeState(float8 count, const float8 *sums, int dim)
{
	Datum	   *elements = palloc(sizeof(Datum) * (dim + 1));
	ArrayType  *result;

	elements[0] = Float8GetDatum(count);
	for (int i = 0; i < dim; i++)
		elements[i + 1] = Float8GetDatum(sums[i]);

	result = construct_array(elements, dim + 1, FLOAT8OID, sizeof(float8),
							 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	pfree(elements);
	return result;
}

/* Add one vector to the state: vector_accum(state, vector). */
PG_FUNCTION_INFO_V1(vector_accum);
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *value = PG_GETARG_VECTOR_P(1);
	float8	   *values = CheckStateArray(state, "vector_accum");
	int			dim = STATE_DIMS(state);

	if (dim == 0)
	{
		float8	   *sums = palloc(sizeof(float8) * value->dim);
		ArrayType  *result;

		for (int i = 0; i < value->dim; i++)
			sums[i] = value->x[i];
		result = MakeState(values[0] + 1.0, sums, value->dim);
		pfree(sums);
		PG_RETURN_ARRAYTYPE_P(result);
	}

	CheckExpectedDim(dim, value->dim);

	/*
	 * Inside an aggregate the state belongs to the aggregate's memory
	 * context and to this function alone, so it can be updated in place,
	 * as float8_accum does; a direct call gets a new array.
	 */
	if (!AggCheckCallContext(fcinfo, NULL))
	{
		state = MakeState(values[0], values + 1, dim);
		values = (float8 *) ARR_DATA_PTR(state);
	}

	values[0] += 1.0;
	for (int i = 0; i < dim; i++)
	{
		values[i + 1] += value->x[i];
		if (isinf(values[i + 1]))
			float_overflow_error();
	}

	PG_RETURN_ARRAYTYPE_P(state);
}

/* Merge two partial states of a parallel aggregate. */
PG_FUNCTION_INFO_V1(vector_combine);
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *state2 = PG_GETARG_ARRAYTYPE_P(1);
	float8	   *values1 = CheckStateArray(state1, "vector_combine");
	float8	   *values2 = CheckStateArray(state2, "vector_combine");
	int			dim;
	float8	   *sums;
	ArrayType  *result;

	/* A state that saw no rows contributes nothing. */
	if (values1[0] == 0.0 || values2[0] == 0.0)
	{
		ArrayType  *nonempty = values1[0] == 0.0 ? state2 : state1;
		float8	   *source = values1[0] == 0.0 ? values2 : values1;

		dim = STATE_DIMS(nonempty);
		CheckVectorDim(dim);
		PG_RETURN_ARRAYTYPE_P(MakeState(source[0], source + 1, dim));
	}

	dim = STATE_DIMS(state1);
	CheckVectorDim(dim);
	CheckExpectedDim(dim, STATE_DIMS(state2));

	sums = palloc(sizeof(float8) * dim);
	for (int i = 0; i < dim; i++)
	{
		sums[i] = values1[i + 1] + values2[i + 1];
		if (isinf(sums[i]))
			float_overflow_error();
	}
	result = MakeState(values1[0] + values2[0], sums, dim);
	pfree(sums);

	PG_RETURN_ARRAYTYPE_P(result);
}

/* Final function of avg(vector); NULL when no row was aggregated. */
PG_FUNCTION_INFO_V1(vector_avg);
Datum
vector_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	float8	   *values = CheckStateArray(state, "vector_avg");
	float8		count = values[0];
	int			dim;
	Vector	   *result;

	if (count == 0.0)
		PG_RETURN_NULL();

	dim = STATE_DIMS(state);
	CheckVectorDim(dim);
	result = InitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (float) (values[i + 1] / count);
		CheckVectorElement(result->x[i]);
	}

	PG_RETURN_VECTOR_P(result);
}
