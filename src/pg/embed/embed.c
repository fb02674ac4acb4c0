/*
 * embed.c
 *	  Module entry point of similarity_embed.so, the library behind the
 *	  image embedding functions.  It links LibTorch and OpenCV, so only
 *	  backends that call those functions load it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "similarity/image_capi.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(similarity_torch_version);
Datum
similarity_torch_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(sim_torch_version()));
}
