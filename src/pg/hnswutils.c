/*
 * hnswutils.c
 *	  Page access and graph search shared by build, insert, scan and vacuum.
 *
 * The search follows Malkov and Yashunin, "Efficient and robust approximate
 * nearest neighbor search using Hierarchical Navigable Small World graphs"
 * (2016): HnswSearchLayer is their algorithm 2 (SEARCH-LAYER) and
 * HnswSelectNeighbors their algorithm 4 (the neighbour selection
 * heuristic), run directly on index pages.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "storage/buf_internals.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "hnsw.h"
#include "sim_error.h"

/*
 * The visited set of a search: a simplehash table of element TIDs packed
 * into 64 bits, much faster than dynahash on this hot path.  An entry
 * counts only if its generation is the context's current one, so starting
 * a new search just increments the generation.
 */
typedef struct VisitedEntry
{
	uint64		key;
	uint32		generation;
	char		status;
} VisitedEntry;

static inline uint32
HashTidKey(uint64 key)
{
	return murmurhash32((uint32) key ^ (uint32) (key >> 32) * 0x9E3779B1);
}

#define SH_PREFIX visited
#define SH_ELEMENT_TYPE VisitedEntry
#define SH_KEY_TYPE uint64
#define SH_KEY key
#define SH_HASH_KEY(tb, key) HashTidKey(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DEFINE
#define SH_DECLARE
#include "lib/simplehash.h"

typedef struct HnswVectorEntry
{
	uint64		key;
	float	   *vector;
} HnswVectorEntry;

static inline uint64
TidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumber(tid) << 16) | ItemPointerGetOffsetNumber(tid);
}

/*
 * Highest level an element may have: its neighbour lists, (level + 2) * m
 * TIDs, must fit in a page together with the fixed part of the tuple.
 */
int
HnswMaxLevel(int m)
{
	Size		room = HNSW_MAX_TUPLE_SIZE - MAXALIGN(offsetof(HnswElementTupleData, neighbors));
	int			slots = room / sizeof(ItemPointerData);
	int			level = slots / m - 2;

	return Min(level, HNSW_MAX_LEVEL);
}

/* Draw a level with P(level >= l) = m^-l, capped by HnswMaxLevel. */
int
HnswRandomLevel(int m)
{
	double		r = pg_prng_double(&pg_global_prng_state);
	int			level;

	if (r <= 0.0)
		r = DBL_MIN;
	level = (int) floor(-log(r) / log((double) m));
	return Min(level, HnswMaxLevel(m));
}

/* Byte offset of the inline vector in an element tuple. */
static Size
VectorOffset(int m, int level)
{
	return MAXALIGN(offsetof(HnswElementTupleData, neighbors) +
					sizeof(ItemPointerData) * HnswNeighborSlots(m, level));
}

Size
HnswElementTupleSize(int m, int level, int inline_floats)
{
	return MAXALIGN(VectorOffset(m, level) + sizeof(float) * inline_floats);
}

/*
 * Number of trailing floats of a vector stored in its element tuple: all of
 * them when the tuple fits in a page, else the part that does not fill a
 * whole vector page (for 4096 dimensions, 2 pages and 16 floats inline), or
 * none when even that does not fit.
 */
int
HnswInlineFloats(int m, int level, int dims)
{
	int			tail = dims % HNSW_PAGE_FLOATS;

	if (HnswElementTupleSize(m, level, dims) <= HNSW_MAX_TUPLE_SIZE)
		return dims;
	if (HnswElementTupleSize(m, level, tail) <= HNSW_MAX_TUPLE_SIZE)
		return tail;
	return 0;
}

/* Number of vector pages an element of this level needs. */
int
HnswVectorPages(int m, int level, int dims)
{
	int			chain = dims - HnswInlineFloats(m, level, dims);

	return (chain + HNSW_PAGE_FLOATS - 1) / HNSW_PAGE_FLOATS;
}

float *
HnswElementVectorPointer(HnswElementTuple etup, int m)
{
	return (float *) ((char *) etup + VectorOffset(m, etup->level));
}

void
HnswInitPage(Page page, uint16 page_type)
{
	HnswPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(HnswPageOpaqueData));
	opaque = HnswPageGetOpaque(page);
	opaque->next = InvalidBlockNumber;
	opaque->page_type = page_type;
	opaque->page_id = HNSW_PAGE_ID;
}

/* Copy the metapage, checking that it belongs to this format. */
void
HnswReadMeta(Relation index, HnswMetaPageData *meta)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	memcpy(meta, HnswPageGetMeta(page), sizeof(HnswMetaPageData));
	UnlockReleaseBuffer(buf);

	if (meta->magic != HNSW_MAGIC_NUMBER)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not an hnsw index", RelationGetRelationName(index))));
	if (meta->version != HNSW_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("hnsw index \"%s\" has format version %u, expected %d",
						RelationGetRelationName(index), meta->version, HNSW_FORMAT_VERSION),
				 errhint("REINDEX the index.")));
}

/*
 * Read the metapage into ctx and create the visited set (and, when
 * cache_vectors, a cache of copied vectors) in CurrentMemoryContext.
 */
void
HnswInitContext(HnswContext *ctx, Relation index, bool cache_vectors)
{
	HASHCTL		hctl;

	ctx->index = index;
	HnswReadMeta(index, &ctx->meta);
	ctx->dims = ctx->meta.dims;
	ctx->m = ctx->meta.m;
	ctx->distance = (SimHnswDistance) ctx->meta.distance;
	ctx->visited_count = 0;
	ctx->cxt = CurrentMemoryContext;
	/*
	 * A scan at the default ef_search visited 500 to 700 elements in the
	 * benchmark's data sets, so start large enough that the table rarely
	 * grows.  Growing rehashes it, which cost a scan about 10% there.
	 */
	ctx->visited = visited_create(ctx->cxt, 2048, NULL);
	ctx->generation = 1;

	ctx->vectors = NULL;
	if (cache_vectors)
	{
		hctl.keysize = sizeof(uint64);
		hctl.hcxt = ctx->cxt;
		hctl.entrysize = sizeof(HnswVectorEntry);
		ctx->vectors = hash_create("hnsw vectors", 256, &hctl,
								   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
}

/*
 * Copy a vector value into out (ctx->dims floats) in the form the index
 * stores it, unit length for cosine.  Returns false for a vector that
 * cannot be indexed: a zero vector under cosine distance.
 */
bool
HnswPrepareVector(const HnswContext *ctx, Relation index, Vector *vector, float *out)
{
	if (vector->dim != ctx->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", ctx->dims, vector->dim)));

	memcpy(out, vector->x, sizeof(float) * ctx->dims);
	if (ctx->meta.normalized)
	{
		double		norm = sqrt(sim_norm_squared(out, ctx->dims));

		if (norm == 0.0)
			return false;
		for (int i = 0; i < ctx->dims; i++)
			out[i] = (float) (out[i] / norm);
	}
	return true;
}

HnswElementTuple
HnswGetElementTuple(Page page, OffsetNumber offset)
{
	ItemId		itemid;

	if (offset < FirstOffsetNumber || offset > PageGetMaxOffsetNumber(page))
		elog(ERROR, "hnsw element offset %u out of range", offset);
	itemid = PageGetItemId(page, offset);
	return (HnswElementTuple) PageGetItem(page, itemid);
}

static void
CopyElementInfo(HnswElementTuple etup, HnswElementInfo *info)
{
	info->level = etup->level;
	info->state = etup->state;
	info->nheaptids = 0;
	for (int i = 0; i < HNSW_HEAPTIDS; i++)
		if (ItemPointerIsValid(&etup->heaptids[i]))
			info->heaptids[info->nheaptids++] = etup->heaptids[i];
	info->overflow = (etup->flags & HNSW_ELEMENT_OVERFLOW) != 0;
	info->tid_page = etup->tid_page;
}

/* Read the first count floats of a vector from its chain of vector pages. */
void
HnswReadVectorChain(Relation index, BlockNumber first, float *out, int count)
{
	Size		remaining = sizeof(float) * count;
	char	   *dest = (char *) out;
	BlockNumber blkno = first;

	while (remaining > 0)
	{
		Buffer		buf;
		Page		page;
		Size		chunk;

		if (!BlockNumberIsValid(blkno))
			elog(ERROR, "hnsw vector chain of index \"%s\" ends early",
				 RelationGetRelationName(index));
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		chunk = Min(remaining, HNSW_PAGE_CAPACITY);
		memcpy(dest, PageGetContents(page), chunk);
		blkno = HnswPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
		dest += chunk;
		remaining -= chunk;
	}
}

/*
 * Write the first count floats of a vector to new pages chained through
 * their special space and return the first block.  With use_wal each page
 * is logged as a full image; the bulk build logs its pages afterwards.
 */
void
HnswWriteVectorChain(Relation index, const float *vector, int count, BlockNumber *first,
					 bool use_wal)
{
	Size		total = sizeof(float) * count;
	int			npages = (total + HNSW_PAGE_CAPACITY - 1) / HNSW_PAGE_CAPACITY;
	Buffer	   *buffers = palloc(sizeof(Buffer) * npages);
	const char *src = (const char *) vector;

	/* Extend first, so each page can point at the next. */
	for (int i = 0; i < npages; i++)
	{
		buffers[i] = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
		LockBuffer(buffers[i], BUFFER_LOCK_EXCLUSIVE);
	}

	for (int i = 0; i < npages; i++)
	{
		Size		chunk = Min(total, HNSW_PAGE_CAPACITY);
		GenericXLogState *state = NULL;
		Page		page;

		if (use_wal)
		{
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buffers[i], GENERIC_XLOG_FULL_IMAGE);
		}
		else
			page = BufferGetPage(buffers[i]);

		HnswInitPage(page, HNSW_PAGE_VECTOR);
		memcpy(PageGetContents(page), src, chunk);
		((PageHeader) page)->pd_lower = MAXALIGN(SizeOfPageHeaderData) + chunk;
		if (i + 1 < npages)
			HnswPageGetOpaque(page)->next = BufferGetBlockNumber(buffers[i + 1]);

		if (use_wal)
			GenericXLogFinish(state);
		else
			MarkBufferDirty(buffers[i]);
		src += chunk;
		total -= chunk;
	}

	*first = BufferGetBlockNumber(buffers[0]);
	for (int i = 0; i < npages; i++)
		UnlockReleaseBuffer(buffers[i]);
	pfree(buffers);
}

/*
 * Compute the distance from query[0 .. count - 1] to the part of a vector
 * in vector pages, page by page, without copying it.  All three distances
 * are sums over the dimensions, so the partial distances add up.
 */
static double
ChainDistance(HnswContext *ctx, BlockNumber first, const float *query, int count)
{
	int			remaining = count;
	int			per_page = HNSW_PAGE_FLOATS;
	BlockNumber blkno = first;
	double		distance = 0;

	while (remaining > 0)
	{
		Buffer		buf;
		Page		page;
		int			chunk = Min(remaining, per_page);

		if (!BlockNumberIsValid(blkno))
			elog(ERROR, "hnsw vector chain of index \"%s\" ends early",
				 RelationGetRelationName(ctx->index));
		buf = ReadBuffer(ctx->index, blkno);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		distance += sim_hnsw_distance(ctx->distance, query + (count - remaining),
									  (const float *) PageGetContents(page), chunk);
		blkno = HnswPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
		remaining -= chunk;
	}
	return distance;
}

/*
 * Buffers that recently held element pages, so a repeated read can pin the
 * buffer with ReadRecentBuffer and skip the buffer mapping table lookup.
 * The table is per backend, direct-mapped by block number, shared by all
 * indexes and kept across searches.  A stale entry is harmless because
 * ReadRecentBuffer checks the buffer's tag (relation file and block) and
 * fails if the buffer now holds another page.  Temporary indexes bypass the
 * table: their local buffers' tags can repeat a shared relation's file.
 */
#define RECENT_BUFFER_SLOTS 65536

typedef struct RecentBufferSlot
{
	BlockNumber blkno;
	Buffer		buffer;
} RecentBufferSlot;

static RecentBufferSlot *recent_buffers = NULL;

/* Pin the element page blkno of ctx->index, like ReadBuffer. */
static Buffer
ReadElementBuffer(HnswContext *ctx, BlockNumber blkno)
{
	RecentBufferSlot *slot;
	Buffer		buf;

	if (RelationUsesLocalBuffers(ctx->index))
		return ReadBuffer(ctx->index, blkno);
	if (recent_buffers == NULL)
		recent_buffers = MemoryContextAllocZero(TopMemoryContext,
												sizeof(RecentBufferSlot) * RECENT_BUFFER_SLOTS);

	slot = &recent_buffers[blkno % RECENT_BUFFER_SLOTS];
	if (slot->buffer != InvalidBuffer && slot->blkno == blkno &&
		ReadRecentBuffer(ctx->index->rd_node, MAIN_FORKNUM, blkno, slot->buffer))
		return slot->buffer;

	buf = ReadBuffer(ctx->index, blkno);
	slot->blkno = blkno;
	slot->buffer = buf;
	return buf;
}

/*
 * Compute the distance from query to the element at tid.  With info, copy
 * the element's level, state and heap TIDs into it.  Without info, store
 * only its state in *state and set *has_rows when it still has heap TIDs:
 * that is the inner step of every search, so it copies nothing else.
 */
static double
ReadElementDistance(HnswContext *ctx, ItemPointer tid, const float *query,
					HnswElementInfo *info, int *state, bool *has_rows)
{
	Buffer		buf;
	Page		page;
	HnswElementTuple etup;
	double		distance = 0;
	BlockNumber vector_page;
	int			chain;

	buf = ReadElementBuffer(ctx, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	etup = HnswGetElementTuple(page, ItemPointerGetOffsetNumber(tid));
	if (info != NULL)
		CopyElementInfo(etup, info);
	else
	{
		*state = etup->state;
		*has_rows = (etup->flags & HNSW_ELEMENT_OVERFLOW) != 0;
		for (int i = 0; i < HNSW_HEAPTIDS && !*has_rows; i++)
			*has_rows = ItemPointerIsValid(&etup->heaptids[i]);
	}
	chain = ctx->dims - HnswInlineFloats(ctx->m, etup->level, ctx->dims);
	vector_page = etup->vector_page;
	if (chain < ctx->dims)
		distance = sim_hnsw_distance(ctx->distance, query + chain,
									 HnswElementVectorPointer(etup, ctx->m), ctx->dims - chain);
	UnlockReleaseBuffer(buf);

	if (chain > 0)
		distance += ChainDistance(ctx, vector_page, query, chain);

	ctx->visited_count++;
	return distance;
}

static double
ElementDistance(HnswContext *ctx, ItemPointer tid, const float *query, int *state,
				bool *has_rows)
{
	return ReadElementDistance(ctx, tid, query, NULL, state, has_rows);
}

/*
 * Compute the distance from query to the element at tid and copy its
 * level, state and heap TIDs into info.
 */
double
HnswElementDistance(HnswContext *ctx, ItemPointer tid, const float *query,
					HnswElementInfo *info)
{
	return ReadElementDistance(ctx, tid, query, info, NULL, NULL);
}

/*
 * Prefetching into the CPU cache.  With the index in shared buffers, a
 * search spends most of its time waiting for memory: the buffer header
 * (pin and content lock), the line pointer, then the tuple, each a cache
 * miss, for every element whose distance it computes.  So before computing
 * the distances to a neighbour list, the search prefetches the buffer
 * headers and line pointers of all of them (PrefetchElementPages).  It then
 * reads the line pointers and prefetches the first line of every tuple
 * (LocateElementTuples).  While computing one distance, it prefetches the
 * rest of the tuple PREFETCH_AHEAD elements further on
 * (PrefetchElementTuple).  The misses then overlap instead of adding up.
 *
 * The addresses come from the recent-buffer table without pinning, and the
 * line pointers are read without the content lock.  Both are only hints: a
 * prefetch never faults and changes nothing, addresses are kept inside the
 * buffer's page, and the reads that count pin and lock as usual.
 */
#define PREFETCH_AHEAD 2
#define CACHE_LINE_BYTES 64		/* x86-64 and most ARM cores */
#define MAX_ITEMIDS ((BLCKSZ - SizeOfPageHeaderData) / sizeof(ItemIdData))

typedef struct PrefetchHint
{
	char	   *start;			/* where the tuple seemed to be, or NULL */
	Size		length;			/* bytes to fetch */
} PrefetchHint;

/* Page of an element page block from the recent-buffer table, or NULL. */
static inline char *
RecentPage(HnswContext *ctx, BlockNumber blkno, Buffer *buffer)
{
	RecentBufferSlot *slot;

	if (recent_buffers == NULL || RelationUsesLocalBuffers(ctx->index))
		return NULL;
	slot = &recent_buffers[blkno % RECENT_BUFFER_SLOTS];
	if (slot->buffer <= 0 || slot->blkno != blkno)
		return NULL;
	*buffer = slot->buffer;
	return (char *) BufferGetBlock(slot->buffer);
}

static void
PrefetchElementPages(HnswContext *ctx, ItemPointerData *tids, int count)
{
	for (int i = 0; i < count; i++)
	{
		Buffer		buffer;
		char	   *page = RecentPage(ctx, ItemPointerGetBlockNumber(&tids[i]), &buffer);
		OffsetNumber offset = ItemPointerGetOffsetNumber(&tids[i]);

		if (page == NULL || offset < FirstOffsetNumber || offset > MAX_ITEMIDS)
			continue;
		__builtin_prefetch(GetBufferDescriptor(buffer - 1));
		__builtin_prefetch(PageGetItemId((Page) page, offset));
	}
}

/*
 * Read the line pointers of the elements at tids (prefetched by
 * PrefetchElementPages), fetch the first cache line of each tuple and note
 * in hints where each tuple lies, or NULL where unknown.
 */
static void
LocateElementTuples(HnswContext *ctx, ItemPointerData *tids, int count, PrefetchHint *hints)
{
	for (int i = 0; i < count; i++)
	{
		Buffer		buffer;
		char	   *page = RecentPage(ctx, ItemPointerGetBlockNumber(&tids[i]), &buffer);
		OffsetNumber offset = ItemPointerGetOffsetNumber(&tids[i]);
		uint32		raw;
		ItemIdData	itemid;
		Size		start;

		hints[i].start = NULL;
		hints[i].length = 0;
		if (page == NULL || offset < FirstOffsetNumber || offset > MAX_ITEMIDS)
			continue;

		/* An unlocked read of one aligned word, used only as a hint */
		raw = *(volatile uint32 *) PageGetItemId((Page) page, offset);
		memcpy(&itemid, &raw, sizeof(itemid));
		start = ItemIdGetOffset(&itemid);
		if (start >= BLCKSZ)
			continue;
		hints[i].start = page + start;
		hints[i].length = Min(ItemIdGetLength(&itemid), BLCKSZ - start);
		__builtin_prefetch(hints[i].start);
	}
}

/* Fetch the rest of a tuple located by LocateElementTuples. */
static inline void
PrefetchElementTuple(const PrefetchHint *hint)
{
	for (Size at = CACHE_LINE_BYTES; at < hint->length; at += CACHE_LINE_BYTES)
		__builtin_prefetch(hint->start + at);
}

/*
 * Return a palloc'd copy of the vector of the element at tid, from the
 * cache when ctx has one.
 */
float *
HnswLoadVector(HnswContext *ctx, ItemPointer tid)
{
	HnswVectorEntry *entry = NULL;
	uint64		key = TidKey(tid);
	float	   *vector;
	BlockNumber vector_page;
	int			chain;
	Buffer		buf;
	Page		page;
	HnswElementTuple etup;
	bool		found;

	if (ctx->vectors != NULL)
	{
		entry = hash_search(ctx->vectors, &key, HASH_ENTER, &found);
		if (found)
			return entry->vector;
		entry->vector = NULL;
	}

	vector = palloc(sizeof(float) * ctx->dims);
	buf = ReadBuffer(ctx->index, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	etup = HnswGetElementTuple(page, ItemPointerGetOffsetNumber(tid));
	vector_page = etup->vector_page;
	chain = ctx->dims - HnswInlineFloats(ctx->m, etup->level, ctx->dims);
	memcpy(vector + chain, HnswElementVectorPointer(etup, ctx->m),
		   sizeof(float) * (ctx->dims - chain));
	UnlockReleaseBuffer(buf);

	if (chain > 0)
		HnswReadVectorChain(ctx->index, vector_page, vector, chain);

	if (entry != NULL)
		entry->vector = vector;
	return vector;
}

/*
 * Copy the valid neighbour TIDs of the element at tid on level into out
 * (room for HnswLayerM slots) and return their count.  A level above the
 * element's own has no neighbours; level -1 copies only info.
 */
int
HnswLoadNeighbors(HnswContext *ctx, ItemPointer tid, int level, ItemPointerData *out,
				  HnswElementInfo *info)
{
	Buffer		buf;
	Page		page;
	HnswElementTuple etup;
	int			count = 0;

	buf = ReadElementBuffer(ctx, ItemPointerGetBlockNumber(tid));
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	etup = HnswGetElementTuple(page, ItemPointerGetOffsetNumber(tid));
	if (info != NULL)
		CopyElementInfo(etup, info);
	if (level >= 0 && level <= etup->level)
	{
		ItemPointerData *slots = etup->neighbors + HnswLayerStart(ctx->m, level);

		for (int i = 0; i < HnswLayerM(ctx->m, level); i++)
			if (ItemPointerIsValid(&slots[i]))
				out[count++] = slots[i];
	}
	UnlockReleaseBuffer(buf);
	return count;
}

void
HnswResetVisited(HnswContext *ctx)
{
	/* Entries of earlier generations count as not visited. */
	ctx->generation++;
}

/* Add tid to the visited set; return true when it was not there yet. */
bool
HnswMarkVisited(HnswContext *ctx, ItemPointer tid)
{
	VisitedEntry *entry;
	bool		found;

	entry = visited_insert(ctx->visited, TidKey(tid), &found);
	if (found && entry->generation == ctx->generation)
		return false;
	entry->generation = ctx->generation;
	return true;
}

/*
 * Binary heaps of candidates.  A min-heap keeps the closest on top; a
 * max-heap (sign = -1) the farthest.
 */
typedef struct CandidateHeap
{
	HnswCandidate *items;
	int			count;
	int			capacity;
	double		sign;
} CandidateHeap;

static void
HeapInit(CandidateHeap *heap, int capacity, double sign)
{
	heap->capacity = Max(capacity, 16);
	heap->items = palloc(sizeof(HnswCandidate) * heap->capacity);
	heap->count = 0;
	heap->sign = sign;
}

static inline bool
HeapBefore(const CandidateHeap *heap, const HnswCandidate *a, const HnswCandidate *b)
{
	return heap->sign * a->distance < heap->sign * b->distance;
}

static void
HeapPush(CandidateHeap *heap, HnswCandidate item)
{
	int			i;

	if (heap->count == heap->capacity)
	{
		heap->capacity *= 2;
		heap->items = repalloc(heap->items, sizeof(HnswCandidate) * heap->capacity);
	}
	i = heap->count++;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;

		if (!HeapBefore(heap, &item, &heap->items[parent]))
			break;
		heap->items[i] = heap->items[parent];
		i = parent;
	}
	heap->items[i] = item;
}

static HnswCandidate
HeapPop(CandidateHeap *heap)
{
	HnswCandidate top = heap->items[0];
	HnswCandidate last = heap->items[--heap->count];
	int			i = 0;

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= heap->count)
			break;
		if (child + 1 < heap->count &&
			HeapBefore(heap, &heap->items[child + 1], &heap->items[child]))
			child++;
		if (!HeapBefore(heap, &heap->items[child], &last))
			break;
		heap->items[i] = heap->items[child];
		i = child;
	}
	if (heap->count > 0)
		heap->items[i] = last;
	return top;
}

int
HnswCompareCandidates(const void *a, const void *b)
{
	double		da = ((const HnswCandidate *) a)->distance;
	double		db = ((const HnswCandidate *) b)->distance;

	if (da < db)
		return -1;
	if (da > db)
		return 1;
	return ItemPointerCompare((ItemPointer) &((const HnswCandidate *) a)->tid,
							  (ItemPointer) &((const HnswCandidate *) b)->tid);
}

/*
 * Search one level from the given entry points (distances already known)
 * and return up to ef nearest elements,
 * closest first, in a palloc'd array.  Dead elements are never entered;
 * deleted ones (no heap TIDs left) are traversed and returned, so callers
 * filter them as they need.
 */
HnswCandidate *
HnswSearchLayer(HnswContext *ctx, const float *query, HnswCandidate *entries, int nentries,
				int ef, int level, int *nresults)
{
	CandidateHeap candidates;
	CandidateHeap results;
	ItemPointerData *neighbors = palloc(sizeof(ItemPointerData) * HnswLayerM(ctx->m, 0));
	PrefetchHint *hints = palloc(sizeof(PrefetchHint) * HnswLayerM(ctx->m, 0));
	HnswCandidate *out;

	HnswResetVisited(ctx);
	HeapInit(&candidates, ef * 2, 1.0);
	HeapInit(&results, ef + 1, -1.0);
	for (int i = 0; i < nentries; i++)
	{
		HnswMarkVisited(ctx, &entries[i].tid);
		HeapPush(&candidates, entries[i]);
		HeapPush(&results, entries[i]);
		if (results.count > ef)
			HeapPop(&results);
	}

	while (candidates.count > 0)
	{
		HnswCandidate nearest = HeapPop(&candidates);
		int			count;
		int			nnew;

		if (results.count >= ef && nearest.distance > results.items[0].distance)
			break;

		CHECK_FOR_INTERRUPTS();
		count = HnswLoadNeighbors(ctx, &nearest.tid, level, neighbors, NULL);

		/* Keep the neighbours not seen yet and start fetching them. */
		nnew = 0;
		for (int i = 0; i < count; i++)
			if (HnswMarkVisited(ctx, &neighbors[i]))
				neighbors[nnew++] = neighbors[i];
		PrefetchElementPages(ctx, neighbors, nnew);
		LocateElementTuples(ctx, neighbors, nnew, hints);
		for (int i = 0; i < Min(nnew, PREFETCH_AHEAD); i++)
			PrefetchElementTuple(&hints[i]);

		for (int i = 0; i < nnew; i++)
		{
			HnswCandidate next;
			int			state;

			if (i + PREFETCH_AHEAD < nnew)
				PrefetchElementTuple(&hints[i + PREFETCH_AHEAD]);
			next.tid = neighbors[i];
			next.distance = ElementDistance(ctx, &neighbors[i], query, &state, &next.has_rows);
			if (state == HNSW_ELEMENT_DEAD)
				continue;
			if (results.count < ef || next.distance < results.items[0].distance)
			{
				HeapPush(&candidates, next);
				HeapPush(&results, next);
				if (results.count > ef)
					HeapPop(&results);
			}
		}
	}

	out = results.items;
	*nresults = results.count;
	qsort(out, *nresults, sizeof(HnswCandidate), HnswCompareCandidates);
	pfree(candidates.items);
	pfree(neighbors);
	pfree(hints);
	return out;
}

/*
 * Walk greedily from entry down the levels from_level .. to_level + 1 and
 * return the closest element found, the entry point of level to_level.
 */
HnswCandidate
HnswGreedyDescend(HnswContext *ctx, const float *query, HnswCandidate entry, int from_level,
				  int to_level)
{
	for (int level = from_level; level > to_level; level--)
	{
		HnswCandidate *found;
		int			nfound;

		found = HnswSearchLayer(ctx, query, &entry, 1, 1, level, &nfound);
		if (nfound > 0)
			entry = found[0];
		pfree(found);
	}
	return entry;
}

/*
 * Choose up to max_neighbors of the candidates (sorted closest first by
 * distance to base) with the paper's heuristic: keep a candidate only if it
 * is closer to base than to every neighbour already kept, which spreads
 * links in different directions.  Free places are then filled with the
 * closest rejected candidates (the heuristic's "keep pruned connections"
 * option, which pgvector 0.8 also uses), so lists stay full.  Returns the
 * number kept.
 */
int
HnswSelectNeighbors(HnswContext *ctx, const float *base, HnswCandidate *candidates,
					int ncandidates, int max_neighbors, HnswCandidate *selected)
{
	int			nselected = 0;
	float	  **kept = palloc(sizeof(float *) * max_neighbors);
	int		   *pruned = palloc(sizeof(int) * Max(ncandidates, 1));
	int			npruned = 0;

	for (int i = 0; i < ncandidates && nselected < max_neighbors; i++)
	{
		float	   *vector = HnswLoadVector(ctx, &candidates[i].tid);
		bool		good = true;

		for (int j = 0; j < nselected; j++)
		{
			if (sim_hnsw_distance(ctx->distance, vector, kept[j], ctx->dims) <
				candidates[i].distance)
			{
				good = false;
				break;
			}
		}
		if (good)
		{
			kept[nselected] = vector;
			selected[nselected++] = candidates[i];
		}
		else
			pruned[npruned++] = i;
	}
	for (int i = 0; i < npruned && nselected < max_neighbors; i++)
		selected[nselected++] = candidates[pruned[i]];
	pfree(pruned);
	pfree(kept);
	return nselected;
}
