/*
 * hnsw.h
 *	  The hnsw index access method: page layout, options and prototypes.
 *
 * Page layout (all pages carry an HnswPageOpaqueData in their special
 * space):
 *
 *	block 0   metapage: magic, format version, dimensions, m,
 *	          ef_construction, distance, entry point and its level, the
 *	          page that receives new elements, and the first page that
 *	          may hold dead elements whose space inserts can reuse
 *	element   element tuples: level, state, up to HNSW_HEAPTIDS heap TIDs
 *	pages     inline, the first page of an overflow chain of more heap
 *	          TIDs (identical vectors share one element, however many
 *	          rows hold them), the neighbour lists of every level as
 *	          element TIDs, and the vector itself when the tuple fits in
 *	          a page
 *	heap TID  the overflow chain of one element: a flat array of heap TIDs
 *	pages     per page (invalid ones are free slots), chained through the
 *	          special space.  A chain stays attached to its element's slot
 *	          for good, so its pages only ever hold heap TIDs
 *	vector    the leading part of the vector of an element whose tuple
 *	pages     would not fit in a page, as raw floats over a chain of
 *	          pages; the remainder (less than a page) stays in the element
 *	          tuple.  These pages let the index store vectors of up to
 *	          16,000 dimensions
 *
 * An element tuple never changes size: its neighbour lists are allocated at
 * full capacity ((level + 2) * m slots, unused slots hold an invalid TID),
 * so links are updated in place.  Every change is WAL-logged, through
 * GenericXLog or, for the pages written by the in-memory build,
 * log_newpage_range.
 *
 * Locking: inserts and the repair phase of VACUUM take a heavyweight lock
 * on the pseudo page HNSW_UPDATE_LOCK, so neighbour lists have a single
 * writer at a time.  Scans take only buffer share locks, one page at a
 * time, and never wait on the update lock.  Element tuples are never
 * removed or moved to another TID, so a TID read by a scan always leads to
 * a valid element tuple.  VACUUM marks an element dead only after no live
 * element links to it; an insert may then overwrite the dead tuple (and
 * its vector pages) with a new element.  A scan that still holds the old
 * TID reads the new element, whose rows were inserted after the scan's
 * snapshot was taken and are therefore invisible to it: it may spend a
 * result slot on them, but never returns a wrong visible row.
 */
#ifndef SIM_HNSW_H
#define SIM_HNSW_H

#include "postgres.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "access/generic_xlog.h"
#include "access/itup.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#include "similarity/hnsw_capi.h"
#include "vector.h"

#define HNSW_MAGIC_NUMBER		0x53484E57	/* "SHNW" */
#define HNSW_FORMAT_VERSION		2

#define HNSW_METAPAGE_BLKNO		0
#define HNSW_UPDATE_LOCK		0	/* pseudo page number of the update lock */

#define HNSW_DEFAULT_M				16
#define HNSW_MIN_M					2
#define HNSW_MAX_M					100
#define HNSW_DEFAULT_EF_CONSTRUCTION	64
#define HNSW_MIN_EF_CONSTRUCTION	4
#define HNSW_MAX_EF_CONSTRUCTION	1000
#define HNSW_DEFAULT_EF_SEARCH		40
#define HNSW_MAX_EF_SEARCH			1000

/* Heap TIDs one element can hold for identical vectors. */
#define HNSW_HEAPTIDS			10

/*
 * Upper bound of an element's level.  Levels are drawn with probability
 * m^-level, so with m >= 2 a level above 15 occurs about once in 65,000
 * elements at m = 2 and practically never at m >= 4; capping it keeps the
 * neighbour lists of one element within a page (see HnswMaxLevel).
 */
#define HNSW_MAX_LEVEL			15

/* Page types, stored in HnswPageOpaqueData.page_type */
#define HNSW_PAGE_META			1
#define HNSW_PAGE_ELEMENT		2
#define HNSW_PAGE_VECTOR		3
#define HNSW_PAGE_HEAPTIDS		4

/* Identifies hnsw pages to tools such as pageinspect */
#define HNSW_PAGE_ID			0xFF91

typedef struct HnswPageOpaqueData
{
	BlockNumber next;			/* next page of a vector chain, else invalid */
	uint16		page_type;
	uint16		page_id;		/* HNSW_PAGE_ID */
} HnswPageOpaqueData;

typedef HnswPageOpaqueData *HnswPageOpaque;

#define HnswPageGetOpaque(page) ((HnswPageOpaque) PageGetSpecialPointer(page))

typedef struct HnswMetaPageData
{
	uint32		magic;
	uint32		version;
	uint32		dims;
	uint16		m;
	uint16		ef_construction;
	uint8		distance;		/* SimHnswDistance */
	uint8		normalized;		/* vectors are stored as unit vectors */
	int16		entry_level;	/* -1 while the index is empty */
	ItemPointerData entry;		/* invalid while the index is empty */
	BlockNumber insert_page;	/* element page that receives new tuples */
	BlockNumber reuse_page;		/* first element page that may hold dead
								 * elements, or invalid */
} HnswMetaPageData;

typedef HnswMetaPageData *HnswMetaPage;

#define HnswPageGetMeta(page) ((HnswMetaPage) PageGetContents(page))

/* Element states */
#define HNSW_ELEMENT_LIVE		0
#define HNSW_ELEMENT_DEAD		1	/* unlinked by VACUUM; its slot may be reused */

/* Element flags */
#define HNSW_ELEMENT_OVERFLOW	0x01	/* the overflow chain may hold heap TIDs */

/*
 * An element tuple.  An element whose heap TIDs are all invalid (inline and
 * in its overflow chain) but whose state is still LIVE is "deleted": VACUUM
 * removed its rows but has not yet unlinked it from its neighbours.  Scans
 * and inserts traverse it but never return it or link to it.
 *
 * Heap TIDs fill the inline slots first, then the overflow chain.  The
 * HNSW_ELEMENT_OVERFLOW flag is set when a TID goes to the chain and
 * cleared by VACUUM (under the update lock) once the chain is empty, so an
 * element without the flag has its rows inline only.
 */
typedef struct HnswElementTupleData
{
	uint8		level;
	uint8		state;
	uint8		flags;
	uint8		unused;
	BlockNumber vector_page;	/* first vector page, or invalid if none */
	BlockNumber tid_page;		/* first overflow page of heap TIDs, or invalid */
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	ItemPointerData neighbors[FLEXIBLE_ARRAY_MEMBER];
	/* followed, at a MAXALIGN offset, by the vector's last HnswInlineFloats floats */
} HnswElementTupleData;

typedef HnswElementTupleData *HnswElementTuple;

/* Number of neighbour slots at level, and the first slot of that level. */
#define HnswLayerM(m, level)	((level) == 0 ? 2 * (m) : (m))
#define HnswLayerStart(m, level)	((level) == 0 ? 0 : 2 * (m) + ((level) - 1) * (m))
#define HnswNeighborSlots(m, level)	(2 * (m) + (level) * (m))

/* Usable bytes of a page after its header and special space. */
#define HNSW_PAGE_CAPACITY \
	(BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - MAXALIGN(sizeof(HnswPageOpaqueData)))
/* Floats of an out-of-line vector per vector page. */
#define HNSW_PAGE_FLOATS		((int) (HNSW_PAGE_CAPACITY / sizeof(float)))
/* Heap TIDs per overflow page. */
#define HNSW_PAGE_HEAPTID_SLOTS	((int) (HNSW_PAGE_CAPACITY / sizeof(ItemPointerData)))
#define HnswPageGetHeapTids(page)	((ItemPointerData *) PageGetContents(page))
/* Largest element tuple, leaving room for its line pointer. */
#define HNSW_MAX_TUPLE_SIZE		(HNSW_PAGE_CAPACITY - sizeof(ItemIdData))

/* Options set by WITH (...) on CREATE INDEX */
typedef struct HnswOptions
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	int			m;
	int			ef_construction;
} HnswOptions;

/* Settings */
extern int	hnsw_ef_search;
extern int	hnsw_max_scan_tuples;

/* Build phases reported in pg_stat_progress_create_index */
#define HNSW_PHASE_LOAD			2
#define HNSW_PHASE_GRAPH		3
#define HNSW_PHASE_WRITE		4

/* A graph node reached during a search, with its distance to the query. */
typedef struct HnswCandidate
{
	ItemPointerData tid;
	double		distance;
	bool		has_rows;		/* the element still has heap TIDs */
} HnswCandidate;

/* What a search needs to know about the index, read once per operation. */
typedef struct HnswContext
{
	Relation	index;
	HnswMetaPageData meta;
	int			dims;
	int			m;
	SimHnswDistance distance;
	struct HTAB *vectors;		/* element TID -> copied vector, or NULL */
	struct visited_hash *visited;	/* element TIDs seen by the current search */
	uint32		generation;		/* of the current search in visited */
	MemoryContext cxt;			/* holds the hash tables */
	int64		visited_count;	/* elements whose distance was computed */
} HnswContext;

/* A copied element tuple, for the code that reads neighbour lists. */
typedef struct HnswElementInfo
{
	int			level;
	int			state;
	int			nheaptids;		/* inline heap TIDs only */
	ItemPointerData heaptids[HNSW_HEAPTIDS];
	bool		overflow;		/* more heap TIDs may be in the chain */
	BlockNumber tid_page;		/* first page of the overflow chain */
} HnswElementInfo;

/* Whether an element copied into info still has rows. */
#define HnswInfoHasRows(info)	((info)->nheaptids > 0 || (info)->overflow)

/* hnsw.c */
extern int	HnswGetM(Relation index);
extern int	HnswGetEfConstruction(Relation index);
extern bool HnswGetDistance(Relation index, SimHnswDistance *distance);

/* hnswutils.c */
extern int	HnswMaxLevel(int m);
extern int	HnswRandomLevel(int m);
extern Size HnswElementTupleSize(int m, int level, int inline_floats);
extern int	HnswInlineFloats(int m, int level, int dims);
extern int	HnswVectorPages(int m, int level, int dims);
extern float *HnswElementVectorPointer(HnswElementTuple etup, int m);
extern void HnswInitPage(Page page, uint16 page_type);
extern void HnswReadMeta(Relation index, HnswMetaPageData *meta);
extern void HnswInitContext(HnswContext *ctx, Relation index, bool cache_vectors);
extern bool HnswPrepareVector(const HnswContext *ctx, Relation index, Vector *vector,
							  float *out);
extern HnswElementTuple HnswGetElementTuple(Page page, OffsetNumber offset);
extern double HnswElementDistance(HnswContext *ctx, ItemPointer tid, const float *query,
								  HnswElementInfo *info);
extern float *HnswLoadVector(HnswContext *ctx, ItemPointer tid);
extern int	HnswLoadNeighbors(HnswContext *ctx, ItemPointer tid, int level,
							  ItemPointerData *out, HnswElementInfo *info);
extern void HnswResetVisited(HnswContext *ctx);
extern bool HnswMarkVisited(HnswContext *ctx, ItemPointer tid);
extern int	HnswCompareCandidates(const void *a, const void *b);
extern HnswCandidate *HnswSearchLayer(HnswContext *ctx, const float *query,
									  HnswCandidate *entries, int nentries, int ef,
									  int level, int *nresults);
extern HnswCandidate HnswGreedyDescend(HnswContext *ctx, const float *query,
									   HnswCandidate entry, int from_level,
									   int to_level);
extern int	HnswSelectNeighbors(HnswContext *ctx, const float *base,
								HnswCandidate *candidates, int ncandidates,
								int max_neighbors, HnswCandidate *selected);
extern void HnswWriteVectorChain(Relation index, const float *vector, int count,
								 BlockNumber *first, bool use_wal);
extern void HnswReadVectorChain(Relation index, BlockNumber first, float *out, int count);

/* hnswheaptids.c */
extern void HnswInitHeapTidPage(Page page);
extern bool HnswAddHeapTids(Relation index, ItemPointer element, const ItemPointerData *heaptids,
							int count, bool require_rows);
extern ItemPointerData *HnswCollectHeapTids(Relation index, const HnswElementInfo *info,
											int *count);

/* hnswreach.c */
extern int64 HnswConnectUnreached(Relation index, BufferAccessStrategy strategy);

/* hnswinsert.c */
extern void HnswInsertVector(Relation index, const float *vector, ItemPointer heaptid);
extern void HnswForceLink(HnswContext *ctx, ItemPointer tid, ItemPointer target);
extern bool HnswRebuildNeighbors(HnswContext *ctx, ItemPointer tid, int level,
								 HnswCandidate *extra, int nextra);
extern bool hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
					   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
					   struct IndexInfo *indexInfo);

/* hnswbuild.c */
extern IndexBuildResult *hnswbuild(Relation heap, Relation index,
								   struct IndexInfo *indexInfo);
extern void hnswbuildempty(Relation index);
extern void HnswInitMetaPage(Page page, int dims, int m, int ef_construction,
							 SimHnswDistance distance, bool normalized);

/* hnswscan.c */
extern IndexScanDesc hnswbeginscan(Relation index, int nkeys, int norderbys);
extern void hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys,
					   int norderbys);
extern bool hnswgettuple(IndexScanDesc scan, ScanDirection dir);
extern void hnswendscan(IndexScanDesc scan);

/* hnswvacuum.c */
extern IndexBulkDeleteResult *hnswbulkdelete(IndexVacuumInfo *info,
											 IndexBulkDeleteResult *stats,
											 IndexBulkDeleteCallback callback,
											 void *callback_state);
extern IndexBulkDeleteResult *hnswvacuumcleanup(IndexVacuumInfo *info,
												IndexBulkDeleteResult *stats);

#endif							/* SIM_HNSW_H */
