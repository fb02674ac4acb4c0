/*
 * vector.c
 *	  Input, output and distance functions of the vector type.
 *
 * The text and binary forms and the error messages follow pgvector, so that
 * clients written for pgvector work unchanged.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "sim_error.h"
#include "vector.h"

void
CheckVectorDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));

	if (dim > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions", VECTOR_MAX_DIM)));
}

/* Check a dimension count against a column's typmod (-1 means any). */
void
CheckExpectedDim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

void
CheckSameDims(const Vector *a, const Vector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a->dim, b->dim)));
}

/* Reject NaN and infinities, which a vector never contains. */
void
CheckVectorElement(float value)
{
	if (isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in vector")));

	if (isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in vector")));
}

PG_FUNCTION_INFO_V1(vector_in);
Datum
vector_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	float	   *values = palloc(sizeof(float) * VECTOR_MAX_DIM);
	int			dim = 0;
	SimError	error;
	Vector	   *result;

	sim_error_init(&error);
	if (!sim_vector_parse(text, values, VECTOR_MAX_DIM, &dim, &error))
		sim_report_error(&error);

	CheckExpectedDim(typmod, dim);

	result = InitVector(dim);
	memcpy(result->x, values, sizeof(float) * dim);
	pfree(values);
	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_out);
Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *vector = PG_GETARG_VECTOR_P(0);
	int			dim = vector->dim;
	char	   *buf;
	char	   *ptr;

	/*
	 * Each element takes at most FLOAT_SHORTEST_DECIMAL_LEN - 1 characters
	 * plus a separator; add the brackets and the terminator.
	 */
	buf = palloc(FLOAT_SHORTEST_DECIMAL_LEN * dim + 2);
	ptr = buf;

	*ptr++ = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			*ptr++ = ',';
		ptr += float_to_shortest_decimal_bufn(vector->x[i], ptr);
	}
	*ptr++ = ']';
	*ptr = '\0';

	PG_FREE_IF_COPY(vector, 0);
	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(vector_typmod_in);
Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);

	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier")));

	if (*tl < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector must be at least 1")));

	if (*tl > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector cannot exceed %d", VECTOR_MAX_DIM)));

	PG_RETURN_INT32(*tl);
}

PG_FUNCTION_INFO_V1(vector_recv);
Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int16		dim;
	int16		unused;
	Vector	   *result;

	dim = pq_getmsgint(buf, sizeof(int16));
	unused = pq_getmsgint(buf, sizeof(int16));

	CheckVectorDim(dim);
	CheckExpectedDim(typmod, dim);

	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));

	/*
	 * Copy all elements at once and swap them from network byte order in
	 * place: a loop of pq_getmsgfloat4 calls costs several times more at
	 * thousands of dimensions.
	 */
	result = InitVector(dim);
	pq_copymsgbytes(buf, (char *) result->x, dim * sizeof(float));

	{
		uint32	   *words = (uint32 *) result->x;
		bool		finite = true;

		for (int i = 0; i < dim; i++)
		{
			words[i] = pg_ntoh32(words[i]);
			finite &= isfinite(result->x[i]);
		}
		if (!finite)
			for (int i = 0; i < dim; i++)
				CheckVectorElement(result->x[i]);
	}

	PG_RETURN_VECTOR_P(result);
}

PG_FUNCTION_INFO_V1(vector_send);
Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint(&buf, vec->dim, sizeof(int16));
	pq_sendint(&buf, vec->unused, sizeof(int16));

	/* Swap all elements into network byte order in one pass. */
	enlargeStringInfo(&buf, vec->dim * sizeof(float));
	{
		const uint32 *words = (const uint32 *) vec->x;
		char	   *out = buf.data + buf.len;

		for (int i = 0; i < vec->dim; i++)
		{
			uint32		word = pg_hton32(words[i]);

			memcpy(out + i * sizeof(uint32), &word, sizeof(uint32));
		}
		buf.len += vec->dim * sizeof(float);
		buf.data[buf.len] = '\0';
	}

	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Cast a vector to a column's typmod: vector(v, typmod, is_explicit). */
PG_FUNCTION_INFO_V1(vector);
Datum
vector(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	CheckExpectedDim(typmod, vec->dim);
	PG_RETURN_VECTOR_P(vec);
}


/*
 * Cast a one-dimensional integer[], real[], double precision[] or numeric[]
 * array to a vector: array_to_vector(array, typmod, is_explicit).
 */
PG_FUNCTION_INFO_V1(array_to_vector);
Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			element_type = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elements;
	int			count;
	Vector	   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D")));

	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls")));

	if (element_type != INT4OID && element_type != FLOAT4OID &&
		element_type != FLOAT8OID && element_type != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("unsupported array type")));

	get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
	deconstruct_array(array, element_type, typlen, typbyval, typalign,
					  &elements, NULL, &count);

	CheckVectorDim(count);
	CheckExpectedDim(typmod, count);

	result = InitVector(count);
	for (int i = 0; i < count; i++)
	{
		switch (element_type)
		{
			case INT4OID:
				result->x[i] = (float) DatumGetInt32(elements[i]);
				break;
			case FLOAT4OID:
				result->x[i] = DatumGetFloat4(elements[i]);
				break;
			case FLOAT8OID:
				/* Out-of-range values become infinities and are rejected below. */
				result->x[i] = (float) DatumGetFloat8(elements[i]);
				break;
			default:
				/* numeric_float4 raises its own error for out-of-range values. */
				result->x[i] = DatumGetFloat4(DirectFunctionCall1(numeric_float4,
																  elements[i]));
				break;
		}
		CheckVectorElement(result->x[i]);
	}

	/* Pass-by-reference elements point into the array, so free only the list. */
	pfree(elements);
	PG_RETURN_VECTOR_P(result);
}

/* Cast a vector to real[]: vector_to_float4(vector, typmod, is_explicit). */
PG_FUNCTION_INFO_V1(vector_to_float4);
Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	Datum	   *elements = palloc(sizeof(Datum) * vec->dim);
	ArrayType  *result;

	for (int i = 0; i < vec->dim; i++)
		elements[i] = Float4GetDatum(vec->x[i]);

	result = construct_array(elements, vec->dim, FLOAT4OID, sizeof(float4),
							 true, TYPALIGN_INT);
	pfree(elements);
	PG_RETURN_ARRAYTYPE_P(result);
}
