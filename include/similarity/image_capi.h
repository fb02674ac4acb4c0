/*
 * image_capi.h
 *	  C interface of the image pipeline: decoding (OpenCV) and TorchScript
 *	  model inference (LibTorch).
 */
#ifndef SIMILARITY_IMAGE_CAPI_H
#define SIMILARITY_IMAGE_CAPI_H

#include "similarity/capi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version string of the LibTorch the core was built with, e.g. "1.13.1". */
const char *sim_torch_version(void);

#ifdef __cplusplus
}
#endif

#endif							/* SIMILARITY_IMAGE_CAPI_H */
