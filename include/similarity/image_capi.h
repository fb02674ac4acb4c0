/*
 * image_capi.h
 *	  C interface of the image pipeline: decoding (OpenCV) and TorchScript
 *	  model inference (LibTorch).
 *
 * Models are cached per process: the first call that names a model loads
 * it, later calls reuse it until its manifest or model file changes on disk
 * or the device, precision or convolution algorithm setting changes.
 */
#ifndef SIMILARITY_IMAGE_CAPI_H
#define SIMILARITY_IMAGE_CAPI_H

#include "similarity/capi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version string of the LibTorch the core was built with, e.g. "1.13.1". */
const char *sim_torch_version(void);

/* Settings of one embedding call; the glue fills them from similarity.* GUCs. */
typedef struct SimEmbedSettings
{
	const char *model_dir;		/* folder of <name>.json manifests */
	const char *device;			/* auto, cpu, cuda or cuda:N */
	const char *precision;		/* fp32 or bf16 (fp16 on CUDA) */
	int			threads;		/* LibTorch intra-op threads; 0 keeps its default */
	int64_t		max_image_pixels;	/* width * height limit; 0 for none */
	const char *conv_algorithm; /* CPU convolutions: auto (Winograd where it
								 * applies) or direct; NULL means auto */
} SimEmbedSettings;

/* Compressed image bytes owned by the caller. */
typedef struct SimImageBytes
{
	const uint8_t *data;
	size_t		size;
	int			position;		/* 1-based array element number for error
								 * messages; 0 for a single image */
} SimImageBytes;

#define SIM_MODEL_DESCRIPTION_SIZE 1024

/* What sim_embed_prepare found. */
typedef struct SimModelStatus
{
	int			output_dim;
	bool		loaded_now;		/* the files were read by this call */
	char		description[SIM_MODEL_DESCRIPTION_SIZE];	/* for the server log */
} SimModelStatus;

/*
 * Load the named model, or find it in the cache, and fill *status.
 */
bool		sim_embed_prepare(const SimEmbedSettings *settings, const char *model,
							  SimModelStatus *status, SimError *error);

/*
 * Decode, preprocess and embed count images in one forward pass, writing
 * count * output_dim floats to out.  The interrupt flag is polled between
 * images; when it is set the call fails with SIM_ERR_CANCELED.
 */
bool		sim_embed_images(const SimEmbedSettings *settings, const char *model,
							 const SimImageBytes *images, int count, float *out,
							 SimInterruptFlag interrupt, SimError *error);

/*
 * Write a JSON object describing the model into json (NUL-terminated): name,
 * manifest, file, method, weights, output_dim, input_size, resize, mean,
 * std, color_order, device, precision, version, loaded.  Reads the manifest
 * and hashes the files, but does not load the model.
 */
bool		sim_model_info(const SimEmbedSettings *settings, const char *model,
						   char *json, size_t json_size, SimError *error);

/*
 * Write the names of the models in model_dir (one per *.json file), sorted
 * and separated by '\n', into names (NUL-terminated).
 */
bool		sim_model_names(const char *model_dir, char *names, size_t names_size,
							SimError *error);

/* Free every cached model. */
void		sim_embed_release_models(void);

#ifdef __cplusplus
}
#endif

#endif							/* SIMILARITY_IMAGE_CAPI_H */
