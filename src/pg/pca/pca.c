/*
 * pca.c
 *	  The pca type: input and output, accessors and projection.
 *
 * Text form: the JSON object written by the core (see src/core/linalg/pca_model.cpp),
 * whose numbers round-trip bit for bit.  Binary form: version, flags,
 * dims, n_components (int32 each), rows (int64), total_variance, mean and
 * explained variances (float8) and the components (float4), in network
 * byte order.
 */
#include "postgres.h"

#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "pca.h"
#include "sim_error.h"
#include "vector.h"

/* similarity_pca.so is its own module; see CMakeLists.txt for why. */
PG_MODULE_MAGIC;

Size
PcaModelSize(int dims, int n_components)
{
	return PCA_HEADER_SIZE
		+ sizeof(double) * ((Size) dims + n_components)
		+ sizeof(float) * (Size) dims * n_components;
}

/* Allocate a zeroed model with its header filled in. */
PcaModel *
NewPcaModel(int dims, int n_components, int64 rows)
{
	Size		size = PcaModelSize(dims, n_components);
	PcaModel   *model;

	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("pca model with %d dimensions and %d components is too large",
						dims, n_components),
				 errdetail("The model would take %zu bytes; the limit is %zu.",
						   size, (Size) MaxAllocSize),
				 errhint("Use fewer components.")));

	model = (PcaModel *) palloc0(size);
	SET_VARSIZE(model, size);
	model->magic = PCA_MAGIC;
	model->version = PCA_VERSION;
	model->dims = dims;
	model->n_components = n_components;
	model->rows = rows;
	return model;
}

/* Point view at the arrays of model. */
void
PcaModelGetView(PcaModel *model, SimPcaModelView *view)
{
	char	   *data = (char *) model + PCA_HEADER_SIZE;

	view->dims = model->dims;
	view->n_components = model->n_components;
	view->rows = model->rows;
	view->total_variance = model->total_variance;
	view->mean = (double *) data;
	view->explained_variance = view->mean + model->dims;
	view->components = (float *) (view->explained_variance + model->n_components);
}

/* Detoast a pca datum and check its header against its size. */
PcaModel *
DatumGetPcaModel(Datum datum)
{
	PcaModel   *model = (PcaModel *) PG_DETOAST_DATUM(datum);

	if (VARSIZE(model) < PCA_HEADER_SIZE || model->magic != PCA_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid pca value"),
				 errdetail("The value does not start with the pca header.")));

	if (model->version != PCA_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("unsupported pca version %d", model->version),
				 errdetail("This build reads version %d.", PCA_VERSION)));

	if (model->dims < 1 || model->dims > SIM_PCA_MAX_DIMS ||
		model->n_components < 1 || model->n_components > model->dims ||
		VARSIZE(model) != PcaModelSize(model->dims, model->n_components))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid pca value"),
				 errdetail("The header's counts do not match the value's size.")));

	return model;
}

#define PG_GETARG_PCA_P(n)	DatumGetPcaModel(PG_GETARG_DATUM(n))

/* ---- input and output ---------------------------------------------------- */

PG_FUNCTION_INFO_V1(pca_in);
Datum
pca_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);
	int			dims = 0;
	int			n_components = 0;
	SimError	error;
	PcaModel   *model;
	SimPcaModelView view;

	sim_error_init(&error);
	if (!sim_pca_parse_shape(text, &dims, &n_components, &error))
		sim_report_error(&error);

	model = NewPcaModel(dims, n_components, 0);
	PcaModelGetView(model, &view);
	if (!sim_pca_parse(text, &view, &error))
		sim_report_error(&error);

	model->rows = view.rows;
	model->total_variance = view.total_variance;
	PG_RETURN_POINTER(model);
}

PG_FUNCTION_INFO_V1(pca_out);
Datum
pca_out(PG_FUNCTION_ARGS)
{
	PcaModel   *model = PG_GETARG_PCA_P(0);
	SimPcaModelView view;
	SimError	error;
	Size		size;
	char	   *buf;

	PcaModelGetView(model, &view);
	size = sim_pca_text_size(view.dims, view.n_components);
	buf = palloc_extended(size, MCXT_ALLOC_HUGE);

	sim_error_init(&error);
	if (!sim_pca_format(&view, buf, size, &error))
		sim_report_error(&error);

	PG_RETURN_CSTRING(buf);
}

PG_FUNCTION_INFO_V1(pca_recv);
Datum
pca_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		version;
	int32		flags;
	int32		dims;
	int32		n_components;
	int64		rows;
	PcaModel   *model;
	SimPcaModelView view;
	SimError	error;
	Size		components;

	version = pq_getmsgint(buf, sizeof(int32));
	if (version != PCA_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported pca binary version %d", version),
				 errdetail("This build reads version %d.", PCA_VERSION)));

	flags = pq_getmsgint(buf, sizeof(int32));
	dims = pq_getmsgint(buf, sizeof(int32));
	n_components = pq_getmsgint(buf, sizeof(int32));
	rows = pq_getmsgint64(buf);

	if (flags != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid pca flags %d", flags),
				 errdetail("Version %d defines no flags.", PCA_VERSION)));

	if (dims < 1 || dims > SIM_PCA_MAX_DIMS || n_components < 1 || n_components > dims)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid pca shape: %d dimensions and %d components",
						dims, n_components)));

	/* Check the length before allocating, so a short message cannot ask for 1 GB. */
	components = (Size) dims * n_components;
	if ((Size) (buf->len - buf->cursor) !=
		sizeof(double) * (1 + (Size) dims + n_components) + sizeof(float) * components)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid pca binary length for %d dimensions and %d components",
						dims, n_components)));

	model = NewPcaModel(dims, n_components, rows);
	model->total_variance = pq_getmsgfloat8(buf);
	PcaModelGetView(model, &view);
	for (int i = 0; i < dims; i++)
		view.mean[i] = pq_getmsgfloat8(buf);
	for (int i = 0; i < n_components; i++)
		view.explained_variance[i] = pq_getmsgfloat8(buf);
	for (Size i = 0; i < components; i++)
		view.components[i] = pq_getmsgfloat4(buf);

	view.total_variance = model->total_variance;
	sim_error_init(&error);
	if (!sim_pca_validate(&view, &error))
		sim_report_error(&error);

	PG_RETURN_POINTER(model);
}

PG_FUNCTION_INFO_V1(pca_send);
Datum
pca_send(PG_FUNCTION_ARGS)
{
	PcaModel   *model = PG_GETARG_PCA_P(0);
	SimPcaModelView view;
	StringInfoData buf;
	Size		components;

	PcaModelGetView(model, &view);
	components = (Size) view.dims * view.n_components;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, PCA_VERSION);
	pq_sendint32(&buf, model->flags);
	pq_sendint32(&buf, view.dims);
	pq_sendint32(&buf, view.n_components);
	pq_sendint64(&buf, view.rows);
	pq_sendfloat8(&buf, view.total_variance);
	for (int i = 0; i < view.dims; i++)
		pq_sendfloat8(&buf, view.mean[i]);
	for (int i = 0; i < view.n_components; i++)
		pq_sendfloat8(&buf, view.explained_variance[i]);
	for (Size i = 0; i < components; i++)
		pq_sendfloat4(&buf, view.components[i]);

	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---- accessors ------------------------------------------------------------ */

PG_FUNCTION_INFO_V1(pca_dims);
Datum
pca_dims(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_PCA_P(0)->dims);
}

PG_FUNCTION_INFO_V1(pca_n_components);
Datum
pca_n_components(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_PCA_P(0)->n_components);
}

static ArrayType *
MakeFloat8Array(const double *values, int count, double divisor)
{
	Datum	   *elements = palloc(sizeof(Datum) * count);

	for (int i = 0; i < count; i++)
		elements[i] = Float8GetDatum(values[i] / divisor);

	return construct_array(elements, count, FLOAT8OID, sizeof(float8),
						   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

PG_FUNCTION_INFO_V1(pca_explained_variance);
Datum
pca_explained_variance(PG_FUNCTION_ARGS)
{
	PcaModel   *model = PG_GETARG_PCA_P(0);
	SimPcaModelView view;

	PcaModelGetView(model, &view);
	PG_RETURN_ARRAYTYPE_P(MakeFloat8Array(view.explained_variance, view.n_components, 1.0));
}

/*
 * Explained variance divided by the total variance of the fitted rows; all
 * zeros when the rows had no variance at all.
 */
PG_FUNCTION_INFO_V1(pca_explained_variance_ratio);
Datum
pca_explained_variance_ratio(PG_FUNCTION_ARGS)
{
	PcaModel   *model = PG_GETARG_PCA_P(0);
	SimPcaModelView view;
	double		total;

	PcaModelGetView(model, &view);
	total = view.total_variance > 0.0 ? view.total_variance : 1.0;
	PG_RETURN_ARRAYTYPE_P(MakeFloat8Array(view.explained_variance, view.n_components, total));
}

PG_FUNCTION_INFO_V1(pca_mean);
Datum
pca_mean(PG_FUNCTION_ARGS)
{
	PcaModel   *model = PG_GETARG_PCA_P(0);
	SimPcaModelView view;
	Vector	   *result;

	PcaModelGetView(model, &view);
	result = InitVector(view.dims);
	for (int i = 0; i < view.dims; i++)
		result->x[i] = (float) view.mean[i];

	PG_RETURN_VECTOR_P(result);
}

/* The element type of vector[]: the array type of the function's result. */
static Oid
VectorTypeOfResult(FunctionCallInfo fcinfo)
{
	Oid			array_type = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			element_type = OidIsValid(array_type) ? get_element_type(array_type) : InvalidOid;

	if (!OidIsValid(element_type))
		elog(ERROR, "could not determine the vector type of the result");
	return element_type;
}

static ArrayType *
MakeVectorArray(Datum *elements, bool *nulls, int count, Oid vector_type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {count};
	int			lbs[1] = {1};

	get_typlenbyvalalign(vector_type, &typlen, &typbyval, &typalign);
	return construct_md_array(elements, nulls, 1, dims, lbs, vector_type,
							  typlen, typbyval, typalign);
}

PG_FUNCTION_INFO_V1(pca_components);
Datum
pca_components(PG_FUNCTION_ARGS)
{
	PcaModel   *model = PG_GETARG_PCA_P(0);
	SimPcaModelView view;
	Datum	   *elements;

	PcaModelGetView(model, &view);
	elements = palloc(sizeof(Datum) * view.n_components);
	for (int i = 0; i < view.n_components; i++)
	{
		Vector	   *component = InitVector(view.dims);

		memcpy(component->x, view.components + (Size) i * view.dims,
			   sizeof(float) * view.dims);
		elements[i] = PointerGetDatum(component);
	}

	PG_RETURN_ARRAYTYPE_P(MakeVectorArray(elements, NULL, view.n_components,
										  VectorTypeOfResult(fcinfo)));
}

/* ---- projection ------------------------------------------------------------ */

/* Raw bytes of the model datum that identify it in the projection cache. */
#define PCA_CACHE_KEY_BYTES 64

/*
 * A prepared model kept in fn_extra for the rest of the query.
 *
 * The key is the datum as it arrives, before detoasting, so a cache hit
 * costs no copy.  A TOAST pointer to an on-disk value names the value by
 * its toast relation and value id, so its bytes alone are the key.  Any
 * other datum is keyed by its address, size and first 64 bytes (the
 * header: counts, rows and total variance, then the start of the mean).
 * NOTE: a different in-memory model at the same address, with an identical
 * header and mean prefix, would be taken for the cached one.  In practice a
 * refit that differs anywhere also changes total_variance.
 */
typedef struct PcaProjectCache
{
	const void *key_pointer;	/* NULL for an on-disk TOAST pointer */
	Size		key_size;
	int			key_length;
	char		key_bytes[PCA_CACHE_KEY_BYTES];
	int			dims;
	int			n_components;
	float	   *components;		/* n_components rows of dims floats */
	float	   *mean;			/* dims floats */
	float	   *bias;			/* n_components floats: components · mean */
	bool		use_bias;		/* the array form subtracts bias, not mean */
	float	   *scratch;		/* dims floats */
} PcaProjectCache;

static bool
CacheKeyMatches(const PcaProjectCache *cache, const struct varlena *raw,
				const void *pointer, Size size, int length)
{
	return cache->key_pointer == pointer && cache->key_size == size &&
		cache->key_length == length && memcmp(cache->key_bytes, raw, length) == 0;
}

/* Return the prepared model for the datum, preparing it on a cache miss. */
static PcaProjectCache *
GetProjectCache(FunctionCallInfo fcinfo, Datum datum)
{
	PcaProjectCache *cache = (PcaProjectCache *) fcinfo->flinfo->fn_extra;
	struct varlena *raw = (struct varlena *) DatumGetPointer(datum);
	const void *pointer = VARATT_IS_EXTERNAL_ONDISK(raw) ? NULL : (const void *) raw;
	Size		size = VARSIZE_ANY(raw);
	int			length = (int) Min(size, PCA_CACHE_KEY_BYTES);
	MemoryContext old_context;
	PcaModel   *model;
	SimPcaModelView view;
	Size		components;

	if (cache != NULL && CacheKeyMatches(cache, raw, pointer, size, length))
		return cache;

	model = DatumGetPcaModel(datum);
	PcaModelGetView(model, &view);
	components = (Size) view.dims * view.n_components;

	if (cache == NULL)
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PcaProjectCache));
	else
	{
		pfree(cache->components);
		pfree(cache->mean);
		pfree(cache->bias);
		pfree(cache->scratch);
	}

	old_context = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	cache->components = palloc_extended(sizeof(float) * components, MCXT_ALLOC_HUGE);
	cache->mean = palloc(sizeof(float) * view.dims);
	cache->bias = palloc(sizeof(float) * view.n_components);
	cache->scratch = palloc(sizeof(float) * view.dims);
	MemoryContextSwitchTo(old_context);

	/* Fill the key only once the new model is in place. */
	memcpy(cache->components, view.components, sizeof(float) * components);
	sim_pca_prepare_mean(&view, cache->mean);
	cache->use_bias = sim_pca_prepare_bias(&view, cache->bias);
	cache->dims = view.dims;
	cache->n_components = view.n_components;
	cache->key_pointer = pointer;
	cache->key_size = size;
	cache->key_length = length;
	memcpy(cache->key_bytes, raw, length);
	fcinfo->flinfo->fn_extra = cache;

	if ((Pointer) model != DatumGetPointer(datum))
		pfree(model);
	return cache;
}

static void
CheckProjectDims(const PcaProjectCache *cache, const Vector *vector)
{
	if (vector->dim != cache->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector has %d dimensions but the pca model expects %d",
						vector->dim, cache->dims)));
}

PG_FUNCTION_INFO_V1(pca_project);
Datum
pca_project(PG_FUNCTION_ARGS)
{
	PcaProjectCache *cache = GetProjectCache(fcinfo, PG_GETARG_DATUM(0));
	Vector	   *vector = PG_GETARG_VECTOR_P(1);
	Vector	   *result;
	const float *input;
	float	   *output;
	SimError	error;

	CheckProjectDims(cache, vector);
	result = InitVector(cache->n_components);
	input = vector->x;
	output = result->x;

	sim_error_init(&error);
	if (!sim_pca_project(cache->components, cache->mean, cache->dims, cache->n_components,
						 &input, &output, 1, cache->scratch, &error))
		sim_report_error(&error);

	PG_FREE_IF_COPY(vector, 1);
	PG_RETURN_VECTOR_P(result);
}

/*
 * Vectors projected per core call by the array form, between interrupt
 * checks.  At 4096 -> 256 dimensions one call is about 2 GFLOP, some 11 ms
 * with OpenBLAS on two cores.
 */
#define PCA_PROJECT_CHUNK 1024

/*
 * Check the elements of a vector[] before projecting it in place: each
 * non-NULL element must have the model's dimensions and lie input_stride
 * bytes after the previous one.  Returns the number of non-NULL elements.
 *
 * Arrays store varlena elements untoasted and with 4-byte headers
 * (construct_md_array detoasts them), so the non-NULL elements of a vector[]
 * whose vectors share one dimension count are back to back at a fixed
 * stride, and their floats form a column-major matrix.
 */
static int
CheckArrayElements(const PcaProjectCache *cache, ArrayType *array, int count,
				   Size input_stride)
{
	const char *data = ARR_DATA_PTR(array);
	const char *end = (const char *) array + ARR_SIZE(array);
	const bits8 *bitmap = ARR_NULLBITMAP(array);
	int			present = 0;

	for (int i = 0; i < count; i++)
	{
		const Vector *vector;

		if (bitmap != NULL && (bitmap[i / 8] & (1 << (i % 8))) == 0)
			continue;

		vector = (const Vector *) (data + (Size) present * input_stride);
		if ((const char *) vector + offsetof(Vector, x) > end ||
			!VARATT_IS_4B_U(vector))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid vector element at position %d of the array", i + 1)));

		CheckProjectDims(cache, vector);
		if (VARSIZE(vector) != VECTOR_SIZE(cache->dims) ||
			(const char *) vector + VECTOR_SIZE(cache->dims) > end)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid vector element at position %d of the array", i + 1),
					 errdetail("Its size does not match its %d dimensions.", vector->dim)));
		present++;
	}
	return present;
}

/*
 * Allocate the result of the array form: the input's shape and NULL bitmap,
 * and a header for each of the present non-NULL vectors, whose floats the
 * projection then writes in place.  The result is smaller than the input,
 * because n_components <= dims, so its size is valid when the input's is.
 */
static ArrayType *
NewProjectedArray(const PcaProjectCache *cache, ArrayType *array, int count,
				  int present, Size output_stride)
{
	int			ndim = ARR_NDIM(array);
	Size		overhead = ARR_HASNULL(array) ?
		ARR_OVERHEAD_WITHNULLS(ndim, count) : ARR_OVERHEAD_NONULLS(ndim);
	Size		size = overhead + (Size) present * output_stride;
	ArrayType  *result = (ArrayType *) palloc0(size);
	const bits8 *nulls = ARR_NULLBITMAP(array);
	char	   *data;

	SET_VARSIZE(result, size);
	result->ndim = ndim;
	result->dataoffset = ARR_HASNULL(array) ? (int32) overhead : 0;
	result->elemtype = ARR_ELEMTYPE(array);
	memcpy(ARR_DIMS(result), ARR_DIMS(array), sizeof(int) * ndim);
	memcpy(ARR_LBOUND(result), ARR_LBOUND(array), sizeof(int) * ndim);
	/* The bitmap follows the lower bounds, where ARR_NULLBITMAP finds it. */
	if (nulls != NULL)
		memcpy(ARR_LBOUND(result) + ndim, nulls, (count + 7) / 8);

	data = ARR_DATA_PTR(result);
	for (int i = 0; i < present; i++)
	{
		Vector	   *vector = (Vector *) (data + (Size) i * output_stride);

		SET_VARSIZE(vector, VECTOR_SIZE(cache->n_components));
		vector->dim = cache->n_components;
	}
	return result;
}

/*
 * pca_project(pca, vector[]): one matrix product per 1024 vectors.  The
 * core reads the input floats where they lie in the array and writes the
 * projections straight into the result array.
 */
PG_FUNCTION_INFO_V1(pca_project_array);
Datum
pca_project_array(PG_FUNCTION_ARGS)
{
	PcaProjectCache *cache = GetProjectCache(fcinfo, PG_GETARG_DATUM(0));
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(1);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			count;
	int			present;
	Size		input_stride;
	Size		output_stride;
	ArrayType  *result;
	const char *input;
	char	   *output;
	SimError	error;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("pca_project expects a one-dimensional array, not %d dimensions",
						ARR_NDIM(array))));

	count = ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
	if (count == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(ARR_ELEMTYPE(array)));

	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	input_stride = att_align_nominal(VECTOR_SIZE(cache->dims), typalign);
	output_stride = att_align_nominal(VECTOR_SIZE(cache->n_components), typalign);
	if (typlen != -1 || input_stride % sizeof(float) != 0 ||
		output_stride % sizeof(float) != 0)
		elog(ERROR, "pca_project: unexpected layout of the vector type");

	present = CheckArrayElements(cache, array, count, input_stride);
	result = NewProjectedArray(cache, array, count, present, output_stride);
	input = ARR_DATA_PTR(array) + offsetof(Vector, x);
	output = ARR_DATA_PTR(result) + offsetof(Vector, x);

	sim_error_init(&error);
	for (int start = 0; start < present; start += PCA_PROJECT_CHUNK)
	{
		int			rows = Min(PCA_PROJECT_CHUNK, present - start);

		if (!sim_pca_project_strided(cache->components, cache->mean,
									 cache->use_bias ? cache->bias : NULL,
									 cache->dims, cache->n_components,
									 (const float *) (input + (Size) start * input_stride),
									 input_stride / sizeof(float),
									 (float *) (output + (Size) start * output_stride),
									 output_stride / sizeof(float), rows, &error))
			sim_report_error(&error);
		CHECK_FOR_INTERRUPTS();
	}

	PG_FREE_IF_COPY(array, 1);
	PG_RETURN_ARRAYTYPE_P(result);
}
