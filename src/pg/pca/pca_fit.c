/*
 * pca_fit.c
 *	  The pca_fit(vector, integer) aggregate.
 *
 * The transition state keeps the running mean, the dims x dims scatter
 * matrix and a batch of up to SIM_PCA_BATCH_ROWS rows, all in float64 and
 * all palloc'd in the aggregate's memory context, so an ERROR or a cancel
 * frees them.  The core merges a full batch with one rank-k update; the
 * interrupt check runs between batches.  Partial states are serialised as
 * the mean and the packed lower triangle of the scatter matrix.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "pca.h"
#include "sim_error.h"
#include "vector.h"

typedef struct PcaFitState
{
	int32		n_components;
	bool		finalized;		/* the final function consumed the scatter matrix */
	SimPcaAccumulator acc;
} PcaFitState;

/* Header of the serialised state, followed by mean and the packed triangle. */
typedef struct PcaFitSerialHeader
{
	int32		dims;
	int32		n_components;
	int64		rows;
} PcaFitSerialHeader;

static void
CheckNComponents(int n_components, int dims)
{
	if (n_components < 1 || n_components > dims)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_components must be between 1 and %d, not %d", dims, n_components),
				 errdetail("The input vectors have %d dimensions.", dims)));
}

/* Allocate a state with zero rows; batch_capacity may be zero. */
static PcaFitState *
NewPcaFitState(MemoryContext context, int dims, int n_components, int batch_capacity)
{
	PcaFitState *state = MemoryContextAllocZero(context, sizeof(PcaFitState));
	Size		dims_size = (Size) dims;

	state->n_components = n_components;
	state->acc.dims = dims;
	state->acc.batch_capacity = batch_capacity;
	state->acc.mean = MemoryContextAllocZero(context, sizeof(double) * dims_size);
	state->acc.scatter = MemoryContextAllocExtended(context,
													sizeof(double) * dims_size * dims_size,
													MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	if (batch_capacity > 0)
		state->acc.batch = MemoryContextAllocExtended(context,
													  sizeof(double) * dims_size * batch_capacity,
													  MCXT_ALLOC_HUGE);
	return state;
}

static void
FlushBatch(PcaFitState *state)
{
	SimError	error;

	if (state->acc.batch_rows == 0)
		return;

	sim_error_init(&error);
	if (!sim_pca_flush_batch(&state->acc, &error))
		sim_report_error(&error);
}

static MemoryContext
GetAggContext(FunctionCallInfo fcinfo, const char *function)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "%s called in non-aggregate context", function);
	return aggcontext;
}

PG_FUNCTION_INFO_V1(pca_fit_transfn);
Datum
pca_fit_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = GetAggContext(fcinfo, "pca_fit_transfn");
	PcaFitState *state = PG_ARGISNULL(0) ? NULL : (PcaFitState *) PG_GETARG_POINTER(0);
	Vector	   *vector;
	int32		n_components;
	double	   *row;

	/* Rows with a NULL vector are skipped, as other aggregates skip NULLs. */
	if (PG_ARGISNULL(1))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("n_components must not be null")));

	vector = PG_GETARG_VECTOR_P(1);
	n_components = PG_GETARG_INT32(2);

	if (state == NULL)
	{
		CheckNComponents(n_components, vector->dim);
		state = NewPcaFitState(aggcontext, vector->dim, n_components, SIM_PCA_BATCH_ROWS);
	}
	else if (n_components != state->n_components)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_components changed from %d to %d between rows",
						state->n_components, n_components),
				 errdetail("pca_fit needs the same n_components for every row.")));
	else if (vector->dim != state->acc.dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d",
						state->acc.dims, vector->dim)));

	row = state->acc.batch + (Size) state->acc.batch_rows * state->acc.dims;
	for (int i = 0; i < vector->dim; i++)
		row[i] = vector->x[i];
	state->acc.batch_rows++;

	if (state->acc.batch_rows == state->acc.batch_capacity)
	{
		FlushBatch(state);
		CHECK_FOR_INTERRUPTS();
	}

	PG_FREE_IF_COPY(vector, 1);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(pca_fit_combinefn);
Datum
pca_fit_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = GetAggContext(fcinfo, "pca_fit_combinefn");
	PcaFitState *state = PG_ARGISNULL(0) ? NULL : (PcaFitState *) PG_GETARG_POINTER(0);
	PcaFitState *other = PG_ARGISNULL(1) ? NULL : (PcaFitState *) PG_GETARG_POINTER(1);
	SimError	error;

	if (other == NULL)
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}

	FlushBatch(other);

	/*
	 * other may live in a shorter-lived context (a deserialised state is
	 * built in the per-tuple context), so the first one is copied into the
	 * aggregate context by merging it into an empty state.
	 */
	if (state == NULL)
		state = NewPcaFitState(aggcontext, other->acc.dims, other->n_components, 0);
	else
	{
		FlushBatch(state);
		if (state->n_components != other->n_components)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("n_components changed from %d to %d between rows",
							state->n_components, other->n_components)));
	}

	sim_error_init(&error);
	if (!sim_pca_merge(&state->acc, &other->acc, &error))
		sim_report_error(&error);

	CHECK_FOR_INTERRUPTS();
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(pca_fit_serialfn);
Datum
pca_fit_serialfn(PG_FUNCTION_ARGS)
{
	PcaFitState *state = (PcaFitState *) PG_GETARG_POINTER(0);
	int			dims = state->acc.dims;
	Size		triangle = (Size) dims * (dims + 1) / 2;
	Size		size = VARHDRSZ + sizeof(PcaFitSerialHeader) +
		sizeof(double) * ((Size) dims + triangle);
	bytea	   *result;
	PcaFitSerialHeader header;
	char	   *p;

	FlushBatch(state);

	result = palloc(size);
	SET_VARSIZE(result, size);
	header.dims = dims;
	header.n_components = state->n_components;
	header.rows = state->acc.rows;

	p = VARDATA(result);
	memcpy(p, &header, sizeof(header));
	p += sizeof(header);
	memcpy(p, state->acc.mean, sizeof(double) * dims);
	p += sizeof(double) * dims;

	/* Column j of the lower triangle is rows j .. dims-1, contiguous. */
	for (int j = 0; j < dims; j++)
	{
		Size		length = dims - j;

		memcpy(p, state->acc.scatter + (Size) j * dims + j, sizeof(double) * length);
		p += sizeof(double) * length;
	}

	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(pca_fit_deserialfn);
Datum
pca_fit_deserialfn(PG_FUNCTION_ARGS)
{
	bytea	   *serial = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(serial);
	PcaFitSerialHeader header;
	PcaFitState *state;
	Size		triangle;

	GetAggContext(fcinfo, "pca_fit_deserialfn");

	if (VARSIZE_ANY_EXHDR(serial) < sizeof(header))
		elog(ERROR, "invalid pca_fit state: %zu bytes", VARSIZE_ANY_EXHDR(serial));
	memcpy(&header, p, sizeof(header));
	p += sizeof(header);

	triangle = (Size) header.dims * (header.dims + 1) / 2;
	if (header.dims < 1 || header.dims > SIM_PCA_MAX_DIMS ||
		VARSIZE_ANY_EXHDR(serial) != sizeof(header) + sizeof(double) * (header.dims + triangle))
		elog(ERROR, "invalid pca_fit state: %zu bytes for %d dimensions",
			 VARSIZE_ANY_EXHDR(serial), header.dims);

	state = NewPcaFitState(CurrentMemoryContext, header.dims, header.n_components, 0);
	state->acc.rows = header.rows;
	memcpy(state->acc.mean, p, sizeof(double) * header.dims);
	p += sizeof(double) * header.dims;

	for (int j = 0; j < header.dims; j++)
	{
		Size		length = header.dims - j;

		memcpy(state->acc.scatter + (Size) j * header.dims + j, p, sizeof(double) * length);
		p += sizeof(double) * length;
	}

	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(pca_fit_finalfn);
Datum
pca_fit_finalfn(PG_FUNCTION_ARGS)
{
	PcaFitState *state;
	PcaModel   *model;
	SimPcaModelView view;
	SimError	error;
	SimInterruptFlag interrupt = (SimInterruptFlag) &InterruptPending;

	GetAggContext(fcinfo, "pca_fit_finalfn");

	/* No rows, or only NULL vectors: the result is NULL, as for avg(). */
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();

	state = (PcaFitState *) PG_GETARG_POINTER(0);
	if (state->finalized)
		elog(ERROR, "pca_fit_finalfn called twice on the same state");

	FlushBatch(state);
	CHECK_FOR_INTERRUPTS();

	if (state->acc.rows < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("pca_fit needs at least 2 rows, got %lld",
						(long long) state->acc.rows)));

	if (state->n_components > state->acc.rows)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n_components %d exceeds the number of rows %lld",
						state->n_components, (long long) state->acc.rows),
				 errhint("Fit on more rows or request fewer components.")));

	model = NewPcaModel(state->acc.dims, state->n_components, state->acc.rows);
	PcaModelGetView(model, &view);

	state->finalized = true;
	sim_error_init(&error);
	while (!sim_pca_compute(&state->acc, &view, interrupt, &error))
	{
		if (error.kind != SIM_ERR_CANCELED)
			sim_report_error(&error);

		/*
		 * InterruptPending is also set by interrupts that are not a cancel,
		 * such as a message from a parallel worker.  CHECK_FOR_INTERRUPTS
		 * raises the error of a cancel or termination and serves the rest,
		 * and then the core resumes the eigensolver run it left.  An
		 * interrupt that stays pending (held off) would stop every retry, so
		 * the last retry waits for the result without polling.
		 */
		CHECK_FOR_INTERRUPTS();
		if (InterruptPending)
			interrupt = NULL;
		sim_error_init(&error);
	}

	model->total_variance = view.total_variance;
	PG_RETURN_POINTER(model);
}
