/*
 * pca.h
 *	  The pca type: a fitted principal component model.
 */
#ifndef SIM_PCA_H
#define SIM_PCA_H

#include "fmgr.h"

#include "similarity/pca_capi.h"

/* "SPCA" read as a little-endian uint32; identifies the on-disk layout. */
#define PCA_MAGIC		0x41435053
#define PCA_VERSION		1

/*
 * On-disk layout, version 1.  The header is 40 bytes, so with the type's
 * double alignment the arrays that follow it are aligned:
 *	 double  mean[dims]
 *	 double  explained_variance[n_components]
 *	 float4  components[n_components][dims]
 * Components are stored in single precision because projection runs in
 * single precision; what is stored round-trips exactly through every I/O
 * form.  flags is zero in version 1 and reserved for options such as
 * whitening.
 */
typedef struct PcaModel
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint32		magic;
	uint16		version;
	uint16		flags;
	int32		dims;
	int32		n_components;
	int32		reserved;		/* zero; pads the header to 40 bytes */
	int64		rows;			/* rows the model was fitted on */
	double		total_variance; /* trace of the covariance matrix */
} PcaModel;

#define PCA_HEADER_SIZE		sizeof(PcaModel)

extern Size PcaModelSize(int dims, int n_components);
extern PcaModel *NewPcaModel(int dims, int n_components, int64 rows);
extern void PcaModelGetView(PcaModel *model, SimPcaModelView *view);
extern PcaModel *DatumGetPcaModel(Datum datum);

#endif							/* SIM_PCA_H */
