/*
 * hnsw_capi.h
 *	  C interface of the in-memory HNSW graph builder (src/core/hnsw_graph.cpp).
 *
 * The glue collects the vectors of a table, starts a multi-threaded build
 * with hnswlib, waits for it in slices while it polls for interrupts and
 * reports progress, and then reads the finished graph back as plain arrays
 * to write it to index pages.  Elements are identified by their position in
 * the vector array passed to sim_hnsw_build_start ("label").
 */
#ifndef SIMILARITY_HNSW_CAPI_H
#define SIMILARITY_HNSW_CAPI_H

#include "similarity/capi.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Distance used to order the graph.  Cosine distance is computed by the
 * caller as SIM_HNSW_NEGATIVE_INNER_PRODUCT over unit vectors.
 */
typedef enum SimHnswDistance
{
	SIM_HNSW_L2_SQUARED = 0,
	SIM_HNSW_NEGATIVE_INNER_PRODUCT = 1,
	SIM_HNSW_L1 = 2
} SimHnswDistance;

/* Distance between two vectors of n floats; smaller is closer. */
double		sim_hnsw_distance(SimHnswDistance distance, const float *a,
							  const float *b, int n);

/*
 * Estimated bytes the builder needs for n vectors of the given size,
 * including its own copy of the vectors but not the caller's array.
 */
size_t		sim_hnsw_build_memory(size_t n, int dims, int m);

typedef struct SimHnswBuild SimHnswBuild;

/*
 * Start building a graph over vectors[0 .. n * dims - 1] on threads worker
 * threads (at least 1), which block every signal.  hnswlib draws each
 * element's level; the graph functions below report levels and lists only
 * up to max_level, the most the caller can store.  The vectors must stay
 * valid until the build has finished or been freed.  *out receives the
 * build, which the caller frees with sim_hnsw_build_free.
 */
bool		sim_hnsw_build_start(const float *vectors, size_t n, int dims,
								 SimHnswDistance distance, int m,
								 int ef_construction, int max_level,
								 int threads, SimHnswBuild **out,
								 SimError *error);

/*
 * Wait up to timeout_ms for the build to finish.  *done reports whether it
 * has and *inserted how many elements are in the graph.  When *interrupt
 * is set, stops the workers and fails with SIM_ERR_CANCELED; when a worker
 * failed, fails with its error.
 */
bool		sim_hnsw_build_wait(SimHnswBuild *build, SimInterruptFlag interrupt,
								int timeout_ms, bool *done, size_t *inserted,
								SimError *error);

/*
 * Seconds a finished build spent inserting elements and filling level-0
 * lists, for diagnostic output.
 */
void		sim_hnsw_build_seconds(const SimHnswBuild *build, double *inserts,
								   double *fill);

/* Stop the workers (if still running), wait for them and free everything. */
void		sim_hnsw_build_free(SimHnswBuild *build);

/* Entry point label and top level of a finished graph; -1 when empty. */
void		sim_hnsw_graph_entry(const SimHnswBuild *build, int64_t *label,
								 int *level);

/* Level of element label in a finished graph, at most max_level. */
int			sim_hnsw_graph_level(const SimHnswBuild *build, size_t label);

/*
 * Copy the neighbour labels of element label at level into out (room for
 * capacity labels) and return how many there are.
 */
int			sim_hnsw_graph_neighbors(const SimHnswBuild *build, size_t label,
									 int level, uint32_t *out, int capacity);

#ifdef __cplusplus
}
#endif

#endif							/* SIMILARITY_HNSW_CAPI_H */
