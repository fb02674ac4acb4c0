/*
 * embed.c
 *	  Module entry point of similarity_embed.so, the library behind the
 *	  image embedding functions, and its settings.  It links LibTorch and
 *	  OpenCV, so only backends that call those functions load it.
 *
 * _PG_init only defines settings: it may run in the postmaster (with
 * shared_preload_libraries), and models must be loaded in the backend that
 * uses them, never before fork.  Note that LibTorch links OpenBLAS, whose
 * thread pool starts when the library is loaded; see docs/embedding.md.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "similarity/image_capi.h"
#include "sim_error.h"
#include "vector.h"

PG_MODULE_MAGIC;

typedef enum EmbedPrecision
{
	EMBED_PRECISION_FP32,
	EMBED_PRECISION_BF16
} EmbedPrecision;

typedef enum EmbedConvAlgorithm
{
	EMBED_CONV_AUTO,
	EMBED_CONV_DIRECT
} EmbedConvAlgorithm;

static const struct config_enum_entry conv_algorithm_options[] = {
	{"auto", EMBED_CONV_AUTO, false},
	{"direct", EMBED_CONV_DIRECT, false},
	{NULL, 0, false}
};

static const struct config_enum_entry precision_options[] = {
	{"fp32", EMBED_PRECISION_FP32, false},
	{"bf16", EMBED_PRECISION_BF16, false},
	{NULL, 0, false}
};

static char *embed_model_dir = NULL;
static char *embed_device = NULL;
static int	embed_precision = EMBED_PRECISION_FP32;
static int	embed_threads = 0;
static int	embed_conv_algorithm = EMBED_CONV_AUTO;
static int	embed_batch_size = 16;
static int	embed_max_image_pixels = 40000000;

#define MODEL_INFO_SIZE 16384
#define MODEL_NAMES_SIZE 65536

void		_PG_init(void);

/* Accept auto, cpu, cuda and cuda:N; whether the device exists is checked on use. */
static bool
check_device(char **newval, void **extra, GucSource source)
{
	const char *value = *newval;

	if (strcmp(value, "auto") == 0 || strcmp(value, "cpu") == 0 ||
		strcmp(value, "cuda") == 0)
		return true;
	if (strncmp(value, "cuda:", 5) == 0 && value[5] != '\0' &&
		strspn(value + 5, "0123456789") == strlen(value + 5) && strlen(value + 5) <= 3)
		return true;
	GUC_check_errdetail("Valid devices are auto, cpu, cuda and cuda:N.");
	return false;
}

void
_PG_init(void)
{
	char		share_path[MAXPGPATH];
	char		default_model_dir[MAXPGPATH + 64];

	get_share_path(my_exec_path, share_path);
	snprintf(default_model_dir, sizeof(default_model_dir),
			 "%s/extension/similarity_models", share_path);

	DefineCustomStringVariable("similarity.model_dir",
							   "Folder of the model manifests (<name>.json) and TorchScript files.",
							   NULL, &embed_model_dir, default_model_dir,
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("similarity.device",
							   "Device that runs image models: auto, cpu, cuda or cuda:N.",
							   "auto uses CUDA when LibTorch was built with it and a GPU is visible.",
							   &embed_device, "auto",
							   PGC_USERSET, 0, check_device, NULL, NULL);
	DefineCustomEnumVariable("similarity.precision",
							 "Arithmetic precision of image models: fp32 or bf16 (fp16 on CUDA).",
							 NULL, &embed_precision, EMBED_PRECISION_FP32, precision_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("similarity.conv_algorithm",
							 "Algorithm of CPU convolutions in image models: auto or direct.",
							 "auto runs 3x3 stride-1 convolutions with oneDNN's Winograd kernels where the CPU has them; "
							 "direct keeps PyTorch's own convolutions, which are slower but closer to the reference.",
							 &embed_conv_algorithm, EMBED_CONV_AUTO, conv_algorithm_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("similarity.threads",
							"Intra-op threads LibTorch uses in this backend; 0 keeps LibTorch's default.",
							NULL, &embed_threads, 0, 0, 1024,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("similarity.batch_size",
							"Maximum number of images image_embed(bytea[], text) runs in one forward pass.",
							NULL, &embed_batch_size, 16, 1, 1024,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("similarity.max_image_pixels",
							"Largest image, in pixels (width times height), that image_embed decodes; 0 for no limit.",
							"The limit is checked on the file header before decoding.",
							&embed_max_image_pixels, 40000000, 0, INT_MAX,
							PGC_SUSET, 0, NULL, NULL, NULL);
}

static SimEmbedSettings
current_settings(void)
{
	SimEmbedSettings settings;

	settings.model_dir = embed_model_dir ? embed_model_dir : "";
	settings.device = embed_device ? embed_device : "auto";
	settings.precision = embed_precision == EMBED_PRECISION_BF16 ? "bf16" : "fp32";
	settings.threads = embed_threads;
	settings.max_image_pixels = embed_max_image_pixels;
	settings.conv_algorithm = embed_conv_algorithm == EMBED_CONV_DIRECT ? "direct" : "auto";
	return settings;
}

/* Load or find the model; log the first load in this backend. */
static int
prepare_model(const SimEmbedSettings *settings, const char *model)
{
	SimModelStatus status;
	SimError	error;

	sim_error_init(&error);
	if (!sim_embed_prepare(settings, model, &status, &error))
		sim_report_error(&error);
	if (status.loaded_now)
		ereport(LOG, (errmsg("similarity: loaded %s", status.description)));
	if (status.output_dim > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" has %d output dimensions, more than the vector type allows (%d)",
						model, status.output_dim, VECTOR_MAX_DIM)));
	return status.output_dim;
}

/* Build a vector from dim floats, rejecting NaN and infinity as the vector type does. */
static Vector *
make_vector(const float *values, int dim, const char *model)
{
	Vector	   *result = (Vector *) palloc0(VECTOR_SIZE(dim));

	SET_VARSIZE(result, VECTOR_SIZE(dim));
	result->dim = dim;
	for (int i = 0; i < dim; i++)
	{
		if (!isfinite(values[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("model \"%s\" returned a non-finite value at dimension %d", model, i + 1),
					 errhint("Check the model file, or run it with similarity.precision = fp32.")));
		result->x[i] = values[i];
	}
	return result;
}

static void
embed_batch(const SimEmbedSettings *settings, const char *model,
			const SimImageBytes *images, int count, float *out)
{
	SimError	error;

	sim_error_init(&error);
	if (!sim_embed_images(settings, model, images, count, out,
						  (SimInterruptFlag) &InterruptPending, &error))
		sim_report_error(&error);
}

PG_FUNCTION_INFO_V1(similarity_image_embed);
Datum
similarity_image_embed(PG_FUNCTION_ARGS)
{
	bytea	   *image = PG_GETARG_BYTEA_PP(0);
	char	   *model = text_to_cstring(PG_GETARG_TEXT_PP(1));
	SimEmbedSettings settings = current_settings();
	SimImageBytes bytes;
	int			dim;
	float	   *features;
	Vector	   *result;

	dim = prepare_model(&settings, model);

	bytes.data = (const uint8_t *) VARDATA_ANY(image);
	bytes.size = VARSIZE_ANY_EXHDR(image);
	bytes.position = 0;
	features = (float *) palloc(sizeof(float) * dim);
	embed_batch(&settings, model, &bytes, 1, features);

	result = make_vector(features, dim, model);
	pfree(features);
	PG_RETURN_VECTOR_P(result);
}

/*
 * image_embed(bytea[], text): embed the non-NULL elements in forward passes
 * of at most similarity.batch_size images; NULL elements give NULL.
 */
PG_FUNCTION_INFO_V1(similarity_image_embed_array);
Datum
similarity_image_embed_array(PG_FUNCTION_ARGS)
{
	ArrayType  *images = PG_GETARG_ARRAYTYPE_P(0);
	char	   *model = text_to_cstring(PG_GETARG_TEXT_PP(1));
	SimEmbedSettings settings = current_settings();
	Oid			result_type = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			element_type = get_element_type(result_type);
	int16		element_len;
	bool		element_byval;
	char		element_align;
	Datum	   *elements;
	bool	   *nulls;
	int			count;
	int			dim;
	Datum	   *vectors;
	SimImageBytes *batch;
	int		   *batch_index;
	float	   *features;
	int			dims[1];
	int			lbs[1] = {1};

	if (ARR_NDIM(images) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("image array must be one-dimensional, not %d-dimensional", ARR_NDIM(images))));
	if (!OidIsValid(element_type))
		elog(ERROR, "could not determine the element type of image_embed's result");

	deconstruct_array(images, BYTEAOID, -1, false, TYPALIGN_INT, &elements, &nulls, &count);
	dims[0] = count;
	if (count == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(element_type));

	dim = prepare_model(&settings, model);
	get_typlenbyvalalign(element_type, &element_len, &element_byval, &element_align);

	vectors = (Datum *) palloc0(sizeof(Datum) * count);
	batch = (SimImageBytes *) palloc(sizeof(SimImageBytes) * embed_batch_size);
	batch_index = (int *) palloc(sizeof(int) * embed_batch_size);
	features = (float *) palloc(sizeof(float) * (Size) dim * embed_batch_size);

	for (int next = 0; next < count;)
	{
		int			filled = 0;

		CHECK_FOR_INTERRUPTS();

		/* Gather up to batch_size non-NULL images. */
		for (; next < count && filled < embed_batch_size; next++)
		{
			bytea	   *image;

			if (nulls[next])
				continue;
			image = DatumGetByteaPP(elements[next]);
			batch[filled].data = (const uint8_t *) VARDATA_ANY(image);
			batch[filled].size = VARSIZE_ANY_EXHDR(image);
			batch[filled].position = next + 1;
			batch_index[filled] = next;
			filled++;
		}
		if (filled == 0)
			break;

		embed_batch(&settings, model, batch, filled, features);
		for (int i = 0; i < filled; i++)
			vectors[batch_index[i]] =
				PointerGetDatum(make_vector(features + (Size) i * dim, dim, model));
	}

	pfree(features);
	PG_RETURN_ARRAYTYPE_P(construct_md_array(vectors, nulls, 1, dims, lbs, element_type,
											 element_len, element_byval, element_align));
}

PG_FUNCTION_INFO_V1(similarity_model_info);
Datum
similarity_model_info(PG_FUNCTION_ARGS)
{
	char	   *model = text_to_cstring(PG_GETARG_TEXT_PP(0));
	SimEmbedSettings settings = current_settings();
	char	   *json = palloc(MODEL_INFO_SIZE);
	SimError	error;

	sim_error_init(&error);
	if (!sim_model_info(&settings, model, json, MODEL_INFO_SIZE, &error))
		sim_report_error(&error);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
}

/* similarity_models(): names of the models in similarity.model_dir. */
PG_FUNCTION_INFO_V1(similarity_models);
Datum
similarity_models(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *names = palloc(MODEL_NAMES_SIZE);
	char	   *name;
	char	   *saveptr = NULL;
	SimError	error;

	sim_error_init(&error);
	if (!sim_model_names(embed_model_dir ? embed_model_dir : "", names, MODEL_NAMES_SIZE, &error))
		sim_report_error(&error);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (name = strtok_r(names, "\n", &saveptr); name != NULL;
		 name = strtok_r(NULL, "\n", &saveptr))
	{
		Datum		value = CStringGetTextDatum(name);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(similarity_torch_version);
Datum
similarity_torch_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(sim_torch_version()));
}
