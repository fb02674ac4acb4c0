/*
 * hnswbuild.c
 *	  CREATE INDEX for hnsw: build the graph in memory, then write pages.
 *
 * The heap scan copies every vector (unit length for cosine) into one
 * array.  The C++ core then builds the graph with hnswlib on
 * max_parallel_maintenance_workers + 1 threads while this backend waits in
 * 100 ms slices, reporting progress and running CHECK_FOR_INTERRUPTS.  An
 * error or cancel there unwinds through the memory context that holds the
 * vectors, whose reset callback stops and joins the threads before the
 * vectors are freed.
 *
 * The finished graph is written in two passes: the first assigns every
 * element its TID (element tuples packed into pages, the vector pages of
 * large vectors in between), the second writes the pages with neighbour
 * labels translated to TIDs.  These pages bypass WAL while written and are
 * logged with log_newpage_range afterwards.
 *
 * When the vectors and the graph would exceed maintenance_work_mem, the
 * graph is built and written from the vectors collected so far, a NOTICE
 * says so, and the remaining rows go through the on-disk insert path,
 * which is correct but much slower.
 */
#include "postgres.h"

#include "access/tableam.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "commands/progress.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "hnsw.h"
#include "sim_error.h"

/*
 * Identical vectors share one element, however many rows hold them: a
 * graph of many identical vectors would lose connectivity, because the
 * neighbour lists fill with equally close candidates and later ones get no
 * incoming links.  "duplicates" maps a hash of the vector to the element
 * with that hash; "extra_tids" stores the heap TIDs after the first.  The
 * first HNSW_HEAPTIDS - 1 of them go into the element tuple, the rest into
 * its overflow chain once the graph is written.
 */
typedef struct DuplicateEntry
{
	uint64		hash;
	int64		label;
} DuplicateEntry;

typedef struct ExtraTidsEntry
{
	int64		label;
	int			count;
	int			capacity;
	ItemPointerData *tids;
} ExtraTidsEntry;

typedef struct HnswBuildState
{
	Relation	heap;
	Relation	index;
	HnswContext ctx;			/* metapage copy, dims and distance */

	/* Vectors collected for the in-memory graph */
	float	   *vectors;
	ItemPointerData *heaptids;
	int64		count;
	int64		capacity;		/* allocated slots */
	int64		max_count;		/* slots that fit in maintenance_work_mem */

	HTAB	   *duplicates;
	HTAB	   *extra_tids;

	bool		on_disk;		/* the graph has been written; insert on disk */
	double		indtuples;
	MemoryContext cxt;			/* holds the vectors */

	SimHnswBuild *build;		/* running or finished core build, or NULL */
	MemoryContextCallback stop_build;
} HnswBuildState;

/* Fill page as an empty metapage. */
void
HnswInitMetaPage(Page page, int dims, int m, int ef_construction, SimHnswDistance distance,
				 bool normalized)
{
	HnswMetaPage meta;

	HnswInitPage(page, HNSW_PAGE_META);
	meta = HnswPageGetMeta(page);
	meta->magic = HNSW_MAGIC_NUMBER;
	meta->version = HNSW_FORMAT_VERSION;
	meta->dims = dims;
	meta->m = m;
	meta->ef_construction = ef_construction;
	meta->distance = distance;
	meta->normalized = normalized;
	meta->entry_level = -1;
	ItemPointerSetInvalid(&meta->entry);
	meta->insert_page = InvalidBlockNumber;
	meta->reuse_page = InvalidBlockNumber;

	/* Keep the metadata out of the hole that full-page images leave out. */
	((PageHeader) page)->pd_lower = ((char *) meta + sizeof(HnswMetaPageData)) - (char *) page;
}

/* Read the dimensions, options and distance of the index being built. */
static void
InitBuildMeta(Relation index, HnswMetaPageData *meta)
{
	int			dims = TupleDescAttr(index->rd_att, 0)->atttypmod;
	SimHnswDistance distance;
	bool		normalized;

	if (dims < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column does not have dimensions"),
				 errhint("Declare the column with a dimension count, for example vector(128).")));
	if (dims > SIM_VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("column cannot have more than %d dimensions for hnsw index",
						SIM_VECTOR_MAX_DIM)));

	normalized = HnswGetDistance(index, &distance);
	memset(meta, 0, sizeof(*meta));
	meta->magic = HNSW_MAGIC_NUMBER;
	meta->version = HNSW_FORMAT_VERSION;
	meta->dims = dims;
	meta->m = HnswGetM(index);
	meta->ef_construction = HnswGetEfConstruction(index);
	meta->distance = distance;
	meta->normalized = normalized;
	meta->entry_level = -1;
	ItemPointerSetInvalid(&meta->entry);
	meta->insert_page = InvalidBlockNumber;
	meta->reuse_page = InvalidBlockNumber;
}

/* Write the empty metapage as block 0 and WAL-log it. */
static void
CreateMetaPage(Relation index, const HnswMetaPageData *meta, ForkNumber fork)
{
	Buffer		buf = ReadBufferExtended(index, fork, P_NEW, RBM_NORMAL, NULL);
	Page		page;

	Assert(BufferGetBlockNumber(buf) == HNSW_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);

	START_CRIT_SECTION();
	HnswInitMetaPage(page, meta->dims, meta->m, meta->ef_construction,
					 (SimHnswDistance) meta->distance, meta->normalized);
	MarkBufferDirty(buf);
	if (RelationNeedsWAL(index) || fork == INIT_FORKNUM)
		log_newpage_buffer(buf, true);
	END_CRIT_SECTION();

	UnlockReleaseBuffer(buf);
}

/* Seconds from start to end, for DEBUG1 timings. */
static double
SecondsBetween(instr_time start, instr_time end)
{
	INSTR_TIME_SUBTRACT(end, start);
	return INSTR_TIME_GET_DOUBLE(end);
}

/* Seconds from start to now. */
static double
SecondsSince(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	return SecondsBetween(start, now);
}

/* Reset callback of the build context: stop the core's threads. */
static void
StopBuild(void *arg)
{
	HnswBuildState *state = (HnswBuildState *) arg;

	if (state->build != NULL)
	{
		sim_hnsw_build_free(state->build);
		state->build = NULL;
	}
}

/* Run the core build over the collected vectors and wait for it. */
static void
BuildGraphInMemory(HnswBuildState *state)
{
	SimError	error;
	bool		done = false;
	size_t		inserted = 0;
	int			threads = max_parallel_maintenance_workers + 1;
	double		insert_seconds;
	double		fill_seconds;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_GRAPH);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_TOTAL, state->count);
	pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, 0);

	sim_error_init(&error);
	if (!sim_hnsw_build_start(state->vectors, state->count, state->ctx.dims,
							  state->ctx.distance, state->ctx.m,
							  state->ctx.meta.ef_construction, HnswMaxLevel(state->ctx.m),
							  threads, &state->build, &error))
		sim_report_error(&error);

	while (!done)
	{
		/* An ERROR here runs StopBuild while the vectors are still valid. */
		CHECK_FOR_INTERRUPTS();
		if (!sim_hnsw_build_wait(state->build, NULL, 100, &done, &inserted, &error))
		{
			StopBuild(state);
			sim_report_error(&error);
		}
		pgstat_progress_update_param(PROGRESS_CREATEIDX_TUPLES_DONE, inserted);
	}

	sim_hnsw_build_seconds(state->build, &insert_seconds, &fill_seconds);
	elog(DEBUG1, "hnsw build inserted " INT64_FORMAT " elements on %d threads in %.3f s and filled level 0 in %.3f s",
		 state->count, threads, insert_seconds, fill_seconds);
}

/*
 * Predict the TID of every element as WriteGraph will place it: element
 * tuples fill pages in label order from block 1, and each out-of-line
 * vector takes the next blocks right after the page of its element.
 */
static ItemPointerData *
AssignTids(HnswBuildState *state, BlockNumber *nblocks)
{
	ItemPointerData *tids = palloc_extended(sizeof(ItemPointerData) * state->count,
											MCXT_ALLOC_HUGE);
	BlockNumber next = HNSW_METAPAGE_BLKNO + 1;
	BlockNumber page = InvalidBlockNumber;
	Size		free_space = 0;
	OffsetNumber offset = 0;

	for (int64 i = 0; i < state->count; i++)
	{
		int			level = sim_hnsw_graph_level(state->build, i);
		int			inline_floats = HnswInlineFloats(state->ctx.m, level, state->ctx.dims);
		Size		size = HnswElementTupleSize(state->ctx.m, level, inline_floats);

		if (!BlockNumberIsValid(page) || free_space < size + sizeof(ItemIdData))
		{
			page = next++;
			free_space = BLCKSZ - MAXALIGN(sizeof(HnswPageOpaqueData)) - SizeOfPageHeaderData;
			offset = 0;
		}
		ItemPointerSet(&tids[i], page, ++offset);
		free_space -= size + sizeof(ItemIdData);
		next += HnswVectorPages(state->ctx.m, level, state->ctx.dims);
	}
	*nblocks = next;
	return tids;
}

/* Write the element tuple of label i into page; check its predicted TID. */
static void
WriteElement(HnswBuildState *state, int64 i, Page page, BlockNumber blkno,
			 const ItemPointerData *tids, uint32 *labels)
{
	int			m = state->ctx.m;
	int			dims = state->ctx.dims;
	int			level = sim_hnsw_graph_level(state->build, i);
	int			inline_floats = HnswInlineFloats(m, level, dims);
	int			chain = dims - inline_floats;
	Size		size = HnswElementTupleSize(m, level, inline_floats);
	HnswElementTuple etup = palloc0(size);
	const float *vector = state->vectors + i * dims;
	ExtraTidsEntry *extra;
	OffsetNumber offset;

	etup->level = level;
	etup->state = HNSW_ELEMENT_LIVE;
	etup->tid_page = InvalidBlockNumber;
	etup->heaptids[0] = state->heaptids[i];
	for (int j = 1; j < HNSW_HEAPTIDS; j++)
		ItemPointerSetInvalid(&etup->heaptids[j]);
	extra = hash_search(state->extra_tids, &i, HASH_FIND, NULL);
	if (extra != NULL)
		memcpy(&etup->heaptids[1], extra->tids,
			   sizeof(ItemPointerData) * Min(extra->count, HNSW_HEAPTIDS - 1));

	for (int l = 0; l <= level; l++)
	{
		ItemPointerData *slots = etup->neighbors + HnswLayerStart(m, l);
		int			lm = HnswLayerM(m, l);
		int			count = sim_hnsw_graph_neighbors(state->build, i, l, labels, lm);

		for (int j = 0; j < lm; j++)
		{
			if (j < count)
				slots[j] = tids[labels[j]];
			else
				ItemPointerSetInvalid(&slots[j]);
		}
	}

	etup->vector_page = InvalidBlockNumber;
	memcpy(HnswElementVectorPointer(etup, m), vector + chain, sizeof(float) * inline_floats);

	offset = PageAddItem(page, (Item) etup, size, InvalidOffsetNumber, false, false);
	if (offset != ItemPointerGetOffsetNumber(&tids[i]) ||
		blkno != ItemPointerGetBlockNumber(&tids[i]))
		elog(ERROR, "hnsw build placed element at (%u,%u) instead of (%u,%u)",
			 blkno, offset, ItemPointerGetBlockNumber(&tids[i]),
			 ItemPointerGetOffsetNumber(&tids[i]));

	/* The vector pages come after this page; link them in place. */
	if (chain > 0)
	{
		HnswElementTuple placed = HnswGetElementTuple(page, offset);

		HnswWriteVectorChain(state->index, vector, chain, &placed->vector_page, false);
	}
	pfree(etup);
}

/*
 * Put the heap TIDs of identical vectors that did not fit into their
 * element tuples into overflow chains, through the WAL-logged insert path.
 */
static void
WriteOverflowTids(HnswBuildState *state, const ItemPointerData *tids)
{
	HASH_SEQ_STATUS status;
	ExtraTidsEntry *extra;

	if (state->extra_tids == NULL)
		return;
	hash_seq_init(&status, state->extra_tids);
	while ((extra = hash_seq_search(&status)) != NULL)
	{
		if (extra->count > HNSW_HEAPTIDS - 1 &&
			!HnswAddHeapTids(state->index, (ItemPointer) &tids[extra->label],
							 extra->tids + (HNSW_HEAPTIDS - 1),
							 extra->count - (HNSW_HEAPTIDS - 1), false))
			elog(ERROR, "hnsw build could not add heap TIDs to element (%u,%u)",
				 ItemPointerGetBlockNumber(&tids[extra->label]),
				 ItemPointerGetOffsetNumber(&tids[extra->label]));
		CHECK_FOR_INTERRUPTS();
	}
}

/* Write the finished graph to pages and point the metapage at it. */
static void
WriteGraph(HnswBuildState *state)
{
	Relation	index = state->index;
	BlockNumber nblocks;
	ItemPointerData *tids;
	uint32	   *labels = palloc(sizeof(uint32) * HnswLayerM(state->ctx.m, 0));
	Buffer		buf = InvalidBuffer;
	Page		page = NULL;
	Buffer		metabuf;
	HnswMetaPage meta;
	int64		entry_label;
	int			entry_level;
	instr_time	start;
	instr_time	logged;

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_WRITE);
	INSTR_TIME_SET_CURRENT(start);
	tids = AssignTids(state, &nblocks);

	for (int64 i = 0; i < state->count; i++)
	{
		BlockNumber blkno = ItemPointerGetBlockNumber(&tids[i]);

		if (!BufferIsValid(buf) || BufferGetBlockNumber(buf) != blkno)
		{
			if (BufferIsValid(buf))
			{
				MarkBufferDirty(buf);
				UnlockReleaseBuffer(buf);
			}
			buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			if (BufferGetBlockNumber(buf) != blkno)
				elog(ERROR, "hnsw build expected block %u, got %u", blkno,
					 BufferGetBlockNumber(buf));
			page = BufferGetPage(buf);
			HnswInitPage(page, HNSW_PAGE_ELEMENT);
		}
		WriteElement(state, i, page, blkno, tids, labels);

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}

	metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = HnswPageGetMeta(BufferGetPage(metabuf));
	sim_hnsw_graph_entry(state->build, &entry_label, &entry_level);
	if (entry_label >= 0)
	{
		meta->entry = tids[entry_label];
		meta->entry_level = entry_level;
	}
	if (BufferIsValid(buf))
	{
		meta->insert_page = BufferGetBlockNumber(buf);
		MarkBufferDirty(buf);
		UnlockReleaseBuffer(buf);
	}
	MarkBufferDirty(metabuf);
	UnlockReleaseBuffer(metabuf);

	if (RelationGetNumberOfBlocks(index) != nblocks)
		elog(ERROR, "hnsw build wrote %u blocks instead of %u",
			 RelationGetNumberOfBlocks(index), nblocks);

	INSTR_TIME_SET_CURRENT(logged);
	if (RelationNeedsWAL(index))
		log_newpage_range(index, MAIN_FORKNUM, 0, nblocks, true);

	elog(DEBUG1, "hnsw build wrote %u pages in %.3f s and logged them in %.3f s",
		 nblocks, SecondsBetween(start, logged), SecondsSince(logged));

	WriteOverflowTids(state, tids);
	pfree(tids);
	pfree(labels);
}

/* Build and write the graph of the collected vectors, then free them. */
static void
FlushGraph(HnswBuildState *state)
{
	if (state->count == 0)
		return;

	BuildGraphInMemory(state);
	WriteGraph(state);
	StopBuild(state);

	pfree(state->vectors);
	pfree(state->heaptids);
	state->vectors = NULL;
	state->heaptids = NULL;
	hash_destroy(state->duplicates);
	hash_destroy(state->extra_tids);
	state->duplicates = NULL;
	state->extra_tids = NULL;
	state->count = 0;
	state->capacity = 0;
	HnswReadMeta(state->index, &state->ctx.meta);
}

/*
 * Add heaptid to an earlier element with the same vector as the one at
 * state->count, if there is one.  Otherwise remember the new element as the
 * one that receives later copies.  Returns true when merged.
 */
static bool
MergeDuplicate(HnswBuildState *state, ItemPointer heaptid)
{
	Size		bytes = sizeof(float) * state->ctx.dims;
	const float *vector = state->vectors + state->count * state->ctx.dims;
	uint64		hash = hash_bytes_extended((const unsigned char *) vector, bytes, 0);
	DuplicateEntry *duplicate;
	ExtraTidsEntry *extra;
	bool		found;

	if (state->duplicates == NULL)
	{
		HASHCTL		hctl;

		hctl.keysize = sizeof(uint64);
		hctl.entrysize = sizeof(DuplicateEntry);
		hctl.hcxt = state->cxt;
		state->duplicates = hash_create("hnsw build duplicates", 1024, &hctl,
										HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		hctl.keysize = sizeof(int64);
		hctl.entrysize = sizeof(ExtraTidsEntry);
		state->extra_tids = hash_create("hnsw build extra heap tids", 64, &hctl,
										HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	duplicate = hash_search(state->duplicates, &hash, HASH_ENTER, &found);
	if (!found ||
		memcmp(state->vectors + duplicate->label * state->ctx.dims, vector, bytes) != 0)
	{
		/* A hash collision between different vectors just replaces the entry. */
		duplicate->label = state->count;
		return false;
	}

	extra = hash_search(state->extra_tids, &duplicate->label, HASH_ENTER, &found);
	if (!found)
	{
		extra->count = 0;
		extra->capacity = HNSW_HEAPTIDS - 1;
		extra->tids = MemoryContextAlloc(state->cxt, sizeof(ItemPointerData) * extra->capacity);
	}
	else if (extra->count == extra->capacity)
	{
		extra->capacity *= 2;
		extra->tids = repalloc_huge(extra->tids, sizeof(ItemPointerData) * extra->capacity);
	}
	extra->tids[extra->count++] = *heaptid;
	return true;
}

/* Make room for one more vector, doubling the arrays up to max_count. */
static void
GrowArrays(HnswBuildState *state)
{
	MemoryContext old = MemoryContextSwitchTo(state->cxt);
	int64		capacity = Min(Max(state->capacity * 2, 1024), state->max_count);

	if (state->vectors == NULL)
	{
		state->vectors = palloc_extended(sizeof(float) * state->ctx.dims * capacity, MCXT_ALLOC_HUGE);
		state->heaptids = palloc_extended(sizeof(ItemPointerData) * capacity, MCXT_ALLOC_HUGE);
	}
	else
	{
		state->vectors = repalloc_huge(state->vectors, sizeof(float) * state->ctx.dims * capacity);
		state->heaptids = repalloc_huge(state->heaptids, sizeof(ItemPointerData) * capacity);
	}
	state->capacity = capacity;
	MemoryContextSwitchTo(old);
}

static void
BuildCallback(Relation index, ItemPointer tid, Datum *values, bool *isnull,
			  bool tupleIsAlive, void *arg)
{
	HnswBuildState *state = (HnswBuildState *) arg;
	MemoryContext old;
	Vector	   *value;
	float	   *vector;

	if (isnull[0])
		return;

	/* Switch to the on-disk path once maintenance_work_mem is used up. */
	if (!state->on_disk && state->count >= state->max_count)
	{
		ereport(NOTICE,
				(errmsg("hnsw graph no longer fits into maintenance_work_mem after " INT64_FORMAT " tuples",
						state->count),
				 errdetail("Building will take significantly more time."),
				 errhint("Increase maintenance_work_mem to speed up builds.")));
		FlushGraph(state);
		state->on_disk = true;
	}

	old = MemoryContextSwitchTo(state->cxt);
	value = DatumGetVector(values[0]);
	if (state->on_disk)
	{
		vector = palloc(sizeof(float) * state->ctx.dims);
		if (HnswPrepareVector(&state->ctx, index, value, vector))
		{
			HnswInsertVector(index, vector, tid);
			state->indtuples++;
		}
		pfree(vector);
	}
	else
	{
		if (state->count == state->capacity)
			GrowArrays(state);
		vector = state->vectors + state->count * state->ctx.dims;
		if (HnswPrepareVector(&state->ctx, index, value, vector))
		{
			state->indtuples++;
			if (!MergeDuplicate(state, tid))
			{
				state->heaptids[state->count] = *tid;
				state->count++;
			}
		}
	}
	if ((Pointer) value != DatumGetPointer(values[0]))
		pfree(value);
	MemoryContextSwitchTo(old);
}

IndexBuildResult *
hnswbuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	HnswBuildState state;
	double		reltuples;
	Size		per_vector;
	instr_time	start;

	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));

	memset(&state, 0, sizeof(state));
	state.heap = heap;
	state.index = index;
	InitBuildMeta(index, &state.ctx.meta);
	state.ctx.index = index;
	state.ctx.dims = state.ctx.meta.dims;
	state.ctx.m = state.ctx.meta.m;
	state.ctx.distance = (SimHnswDistance) state.ctx.meta.distance;
	CreateMetaPage(index, &state.ctx.meta, MAIN_FORKNUM);

	/*
	 * What one more vector costs: our copy, its TID, its entry in the
	 * duplicates table (an estimate of dynahash's overhead), the graph's
	 * share.
	 */
	per_vector = sizeof(float) * state.ctx.dims + sizeof(ItemPointerData) + 48 +
		sim_hnsw_build_memory(1, state.ctx.dims, state.ctx.m);
	state.max_count = Max((int64) 1, (int64) maintenance_work_mem * 1024 / (int64) per_vector);

	state.cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw build",
									  ALLOCSET_DEFAULT_SIZES);
	state.stop_build.func = StopBuild;
	state.stop_build.arg = &state;
	MemoryContextRegisterResetCallback(state.cxt, &state.stop_build);

	pgstat_progress_update_param(PROGRESS_CREATEIDX_SUBPHASE, HNSW_PHASE_LOAD);
	INSTR_TIME_SET_CURRENT(start);
	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   BuildCallback, &state, NULL);
	elog(DEBUG1, "hnsw build loaded %.0f tuples in %.3f s", reltuples, SecondsSince(start));
	if (!state.on_disk)
		FlushGraph(&state);
	HnswConnectUnreached(index, NULL);

	MemoryContextDelete(state.cxt);

	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = state.indtuples;
	return result;
}

/* Write the metapage of an unlogged index's init fork. */
void
hnswbuildempty(Relation index)
{
	HnswMetaPageData meta;

	InitBuildMeta(index, &meta);
	CreateMetaPage(index, &meta, INIT_FORKNUM);
}
