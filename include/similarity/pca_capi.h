/*
 * pca_capi.h
 *	  C interface of the core's principal component analysis: streaming
 *	  accumulation of the mean and scatter matrix, the eigensolver that
 *	  turns them into a model, projection, and the model's text form.
 *
 * The caller owns every buffer.  The glue allocates them with palloc in the
 * memory context they must live in, so an ERROR or a cancel frees them with
 * that context.  The core keeps no heap memory between calls.
 */
#ifndef SIMILARITY_PCA_CAPI_H
#define SIMILARITY_PCA_CAPI_H

#include "similarity/capi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rows buffered before one rank-k update of the scatter matrix. */
#define SIM_PCA_BATCH_ROWS 256

/*
 * Running statistics of the rows seen so far.
 *
 * mean and scatter describe the rows merged so far (rows of them): scatter
 * is the dims x dims column-major matrix sum((x - mean)(x - mean)^T), of
 * which only the lower triangle is kept up to date.  Rows appended to batch
 * (one row per column, batch_rows of batch_capacity used) are merged by
 * sim_pca_flush_batch.
 */
typedef struct SimPcaAccumulator
{
	int32_t		dims;
	int32_t		batch_capacity;
	int32_t		batch_rows;
	int64_t		rows;
	double	   *mean;			/* dims values */
	double	   *scatter;		/* dims * dims values */
	double	   *batch;			/* dims * batch_capacity values */
} SimPcaAccumulator;

/*
 * A fitted model, as pointers into one buffer.  components contains
 * n_components rows of dims values, row i being component i in order of
 * decreasing variance.  explained_variance uses the n - 1 divisor, as
 * numpy.cov does.  total_variance is the trace of the covariance matrix.
 */
typedef struct SimPcaModelView
{
	int32_t		dims;
	int32_t		n_components;
	int64_t		rows;
	double		total_variance;
	double	   *mean;
	double	   *explained_variance;
	float	   *components;
} SimPcaModelView;

/*
 * Merge the buffered rows into mean and scatter (Chan, Golub and LeVeque's
 * pairwise update: the batch is centred on its own mean first).  Empties
 * the batch.  Does nothing when the batch is empty.
 */
bool		sim_pca_flush_batch(SimPcaAccumulator *acc, SimError *error);

/*
 * Merge the statistics of from into into; both batches must be empty and
 * the dimension counts equal.  from is left unchanged.
 */
bool		sim_pca_merge(SimPcaAccumulator *into, const SimPcaAccumulator *from,
						  SimError *error);

/*
 * Compute the model of n_components components from flushed statistics.
 * model's pointers must have room for its dims and n_components; dims,
 * n_components and rows must be set by the caller and match acc.
 * Overwrites acc->scatter.  Fails with SIM_ERR_DATA when the result is
 * not finite, with SIM_ERR_CANCELED when *interrupt becomes non-zero.  The
 * eigensolver keeps running after a SIM_ERR_CANCELED return, and a later
 * call with the same statistics waits for that run instead of starting
 * another, so the caller can serve an interrupt that is not a cancel and
 * call again.
 */
bool		sim_pca_compute(SimPcaAccumulator *acc, SimPcaModelView *model,
							SimInterruptFlag interrupt, SimError *error);

/*
 * Prepare the single-precision mean (dims values) that projection
 * subtracts before multiplying by the components.
 */
void		sim_pca_prepare_mean(const SimPcaModelView *model, float *mean_out);

/*
 * Project count vectors (each dims floats, count of them at inputs[i]) into
 * outputs[i] (n_components floats each).  scratch must hold
 * dims * min(count, SIM_PCA_BATCH_ROWS) floats.
 */
bool		sim_pca_project(const float *components, const float *mean,
							int dims, int n_components,
							const float *const *inputs, float *const *outputs,
							int count, float *scratch, SimError *error);

/*
 * Prepare the bias that sim_pca_project_strided can subtract: components
 * times the double-precision mean, summed in double precision and rounded
 * to n_components floats.  Returns whether the bias form is accurate for
 * this model.  It is not when the squared norm of the mean exceeds 16 times
 * the total variance, because the rounding error of the uncentred product
 * would then be more than about 4 times that of the centred one.
 */
bool		sim_pca_prepare_bias(const SimPcaModelView *model, float *bias_out);

/*
 * Project count vectors that lie at a fixed stride: input j is the dims
 * floats at inputs + j * input_stride, and output j the n_components floats
 * at outputs + j * output_stride (strides in floats).  With a bias from
 * sim_pca_prepare_bias, computes components · x - bias as one matrix
 * product, which skips a pass over the input.  With bias NULL, centres the
 * vectors on mean (dims floats) first, as sim_pca_project does.  Either way
 * the results equal sim_pca_project's up to single-precision rounding.
 */
bool		sim_pca_project_strided(const float *components, const float *mean,
									const float *bias, int dims, int n_components,
									const float *inputs, size_t input_stride,
									float *outputs, size_t output_stride,
									int count, SimError *error);

/* Upper bound on the length of the text form, including the terminator. */
size_t		sim_pca_text_size(int dims, int n_components);

/* Write the text form of model into out (out_size from sim_pca_text_size). */
bool		sim_pca_format(const SimPcaModelView *model, char *out, size_t out_size,
						   SimError *error);

/*
 * Read the dimension and component counts from the start of a text form, so
 * the caller can allocate the model before sim_pca_parse fills it.
 */
bool		sim_pca_parse_shape(const char *text, int *dims, int *n_components,
								SimError *error);

/*
 * Parse a text form into model, whose dims and n_components come from
 * sim_pca_parse_shape and whose pointers have room for them.
 */
bool		sim_pca_parse(const char *text, SimPcaModelView *model, SimError *error);

/*
 * Check the fields of a model read from text or binary input: counts in
 * range, finite values, non-negative variance in decreasing order.
 * Fails with SIM_ERR_DATA.
 */
bool		sim_pca_validate(const SimPcaModelView *model, SimError *error);

/* Largest dims that pca_fit accepts and a model may have. */
#define SIM_PCA_MAX_DIMS 16000

#ifdef __cplusplus
}
#endif

#endif							/* SIMILARITY_PCA_CAPI_H */
