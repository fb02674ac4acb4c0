/*
 * hnswscan.c
 *	  Index scans of hnsw: ORDER BY column <operator> value.
 *
 * The first call searches the graph with hnsw.ef_search and returns the
 * found elements closest first.  When the executor asks for more rows (a
 * WHERE clause or a join discarded some), the scan searches again with
 * twice the candidate list, skips the elements it has returned already and
 * returns the rest; it stops when a search finds nothing new or after it
 * has computed hnsw.max_scan_tuples distances in all.  Rows of a later
 * round can be closer than rows already returned, so the order is exact
 * only within the first ef_search rows (as with pgvector's relaxed order).
 *
 * A NULL query, and a zero query under cosine distance, have no distance
 * to anything; such scans return every indexed row in page order.
 */
#include "postgres.h"

#include "access/relscan.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "hnsw.h"

typedef struct HnswScanOpaqueData
{
	MemoryContext cxt;			/* lives as long as the scan */
	MemoryContext round_cxt;	/* reset by every search round */
	HnswMetaPageData meta;
	float	   *query;			/* prepared query, or NULL for a full walk */
	bool		started;
	bool		exhausted;
	int			ef;
	int64		visited;		/* distances computed by all rounds */

	HnswCandidate *results;		/* of the current round, closest first */
	int			nresults;
	int			next_result;
	HTAB	   *returned;		/* element TIDs returned already */

	ItemPointerData *pending;	/* heap TIDs of one element, in round_cxt
								 * or walk_cxt */
	int			npending;
	int			next_pending;

	BlockNumber walk_block;		/* full walk position */
	OffsetNumber walk_offset;
	MemoryContext walk_cxt;		/* reset for every element of a full walk */
} HnswScanOpaqueData;

typedef HnswScanOpaqueData *HnswScanOpaque;

IndexScanDesc
hnswbeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan = RelationGetIndexScan(index, nkeys, norderbys);
	HnswScanOpaque so = palloc0(sizeof(HnswScanOpaqueData));

	so->cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw scan",
									ALLOCSET_DEFAULT_SIZES);
	so->round_cxt = AllocSetContextCreate(so->cxt, "hnsw scan round",
										  ALLOCSET_DEFAULT_SIZES);
	scan->opaque = so;
	return scan;
}

void
hnswrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old;
	HASHCTL		hctl;

	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys, scan->numberOfOrderBys * sizeof(ScanKeyData));

	MemoryContextReset(so->cxt);
	so->round_cxt = AllocSetContextCreate(so->cxt, "hnsw scan round",
										  ALLOCSET_DEFAULT_SIZES);
	so->walk_cxt = AllocSetContextCreate(so->cxt, "hnsw scan walk",
										 ALLOCSET_DEFAULT_SIZES);
	so->pending = NULL;
	so->query = NULL;
	so->started = false;
	so->exhausted = false;
	so->ef = hnsw_ef_search;
	so->visited = 0;
	so->results = NULL;
	so->nresults = 0;
	so->next_result = 0;
	so->npending = 0;
	so->next_pending = 0;
	so->walk_block = HNSW_METAPAGE_BLKNO + 1;
	so->walk_offset = FirstOffsetNumber;

	old = MemoryContextSwitchTo(so->cxt);
	hctl.keysize = sizeof(uint64);
	hctl.entrysize = sizeof(uint64);
	hctl.hcxt = so->cxt;
	so->returned = hash_create("hnsw returned", 256, &hctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	MemoryContextSwitchTo(old);
}

/* Read the metapage and prepare the query, or choose a full walk. */
static void
StartScan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old = MemoryContextSwitchTo(so->cxt);
	HnswContext ctx;

	HnswReadMeta(scan->indexRelation, &so->meta);
	so->started = true;

	if (scan->numberOfOrderBys == 0)
		elog(ERROR, "hnsw index scan requires an ORDER BY distance operator");

	if (!(scan->orderByData[0].sk_flags & SK_ISNULL))
	{
		Vector	   *value = DatumGetVector(scan->orderByData[0].sk_argument);

		if (value->dim != (int) so->meta.dims)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("different vector dimensions %u and %d", so->meta.dims, value->dim)));

		ctx.meta = so->meta;
		ctx.dims = so->meta.dims;
		so->query = palloc(sizeof(float) * so->meta.dims);
		if (!HnswPrepareVector(&ctx, scan->indexRelation, value, so->query))
			so->query = NULL;
	}
	MemoryContextSwitchTo(old);
}

/* Search the graph with so->ef and keep the results in so->round_cxt. */
static void
SearchRound(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	MemoryContext old;
	HnswContext ctx;
	HnswCandidate entries[2];
	int			nentries = 1;
	HnswElementInfo info;

	MemoryContextReset(so->round_cxt);
	old = MemoryContextSwitchTo(so->round_cxt);
	so->results = NULL;
	so->nresults = 0;
	so->next_result = 0;
	so->pending = NULL;
	so->npending = 0;
	so->next_pending = 0;

	HnswInitContext(&ctx, scan->indexRelation, false);
	if (ItemPointerIsValid(&ctx.meta.entry))
	{
		HnswCandidate top;

		top.tid = ctx.meta.entry;
		top.distance = HnswElementDistance(&ctx, &top.tid, so->query, &info);
		top.has_rows = HnswInfoHasRows(&info);
		entries[0] = HnswGreedyDescend(&ctx, so->query, top, ctx.meta.entry_level, 0);

		/*
		 * Level-0 links are directed, so an element reachable from the entry
		 * point (which CREATE INDEX and VACUUM ensure and hnsw_verify checks)
		 * need not be reachable from the element the descent ends at.  Seeding
		 * the entry point too costs no distance computation, and a search
		 * whose ef exceeds the element count then returns every reachable
		 * element.
		 */
		if (!ItemPointerEquals(&entries[0].tid, &top.tid))
			entries[nentries++] = top;
		so->results = HnswSearchLayer(&ctx, so->query, entries, nentries, so->ef, 0,
									  &so->nresults);
	}
	so->visited += ctx.visited_count;
	pgstat_count_index_tuples(scan->indexRelation, ctx.visited_count);
	MemoryContextSwitchTo(old);
}

/*
 * Move the next element of the current round that was not returned yet and
 * still has rows into so->pending.  Returns false when the round is used up.
 */
static bool
NextSearchResult(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	HnswContext ctx;
	MemoryContext old;

	ctx.index = scan->indexRelation;
	ctx.m = so->meta.m;
	while (so->next_result < so->nresults)
	{
		HnswCandidate *candidate = &so->results[so->next_result++];
		uint64		key = ((uint64) ItemPointerGetBlockNumber(&candidate->tid) << 16) |
			ItemPointerGetOffsetNumber(&candidate->tid);
		HnswElementInfo info;
		bool		found;

		hash_search(so->returned, &key, HASH_ENTER, &found);
		if (found)
			continue;

		/* Read the heap TIDs now: they may have changed since the search. */
		HnswLoadNeighbors(&ctx, &candidate->tid, -1, NULL, &info);
		if (info.state != HNSW_ELEMENT_LIVE || !HnswInfoHasRows(&info))
			continue;
		old = MemoryContextSwitchTo(so->round_cxt);
		so->pending = HnswCollectHeapTids(scan->indexRelation, &info, &so->npending);
		MemoryContextSwitchTo(old);
		so->next_pending = 0;
		if (so->npending > 0)
			return true;
	}
	return false;
}

/* Move the heap TIDs of the next element in page order into so->pending. */
static bool
NextWalkElement(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;
	Relation	index = scan->indexRelation;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	MemoryContext old;

	MemoryContextReset(so->walk_cxt);
	so->pending = NULL;
	so->npending = 0;
	so->next_pending = 0;
	while (so->walk_block < nblocks)
	{
		Buffer		buf = ReadBuffer(index, so->walk_block);
		Page		page;
		HnswElementInfo info;
		bool		found = false;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (HnswPageGetOpaque(page)->page_type == HNSW_PAGE_ELEMENT)
		{
			while (!found && so->walk_offset <= PageGetMaxOffsetNumber(page))
			{
				HnswElementTuple etup = HnswGetElementTuple(page, so->walk_offset++);

				if (etup->state != HNSW_ELEMENT_LIVE)
					continue;
				info.nheaptids = 0;
				for (int i = 0; i < HNSW_HEAPTIDS; i++)
					if (ItemPointerIsValid(&etup->heaptids[i]))
						info.heaptids[info.nheaptids++] = etup->heaptids[i];
				info.overflow = (etup->flags & HNSW_ELEMENT_OVERFLOW) != 0;
				info.tid_page = etup->tid_page;
				found = HnswInfoHasRows(&info);
			}
		}
		UnlockReleaseBuffer(buf);
		if (found)
		{
			/* The overflow chain is read after the element page's lock is released. */
			old = MemoryContextSwitchTo(so->walk_cxt);
			so->pending = HnswCollectHeapTids(index, &info, &so->npending);
			MemoryContextSwitchTo(old);
			if (so->npending > 0)
				return true;
			continue;
		}
		so->walk_block++;
		so->walk_offset = FirstOffsetNumber;
		CHECK_FOR_INTERRUPTS();
	}
	return false;
}

bool
hnswgettuple(IndexScanDesc scan, ScanDirection dir)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	if (!so->started)
	{
		StartScan(scan);
		if (so->query != NULL)
			SearchRound(scan);
	}

	for (;;)
	{
		if (so->next_pending < so->npending)
		{
			scan->xs_heaptid = so->pending[so->next_pending++];
			scan->xs_recheck = false;
			scan->xs_recheckorderby = false;
			return true;
		}

		if (so->query == NULL)
		{
			if (!NextWalkElement(scan))
				return false;
			continue;
		}

		if (NextSearchResult(scan))
			continue;

		/* The round is used up: widen the search unless the budget is spent. */
		if (so->exhausted || so->visited >= hnsw_max_scan_tuples)
			return false;
		if (so->nresults < so->ef)
		{
			/* The last round found fewer elements than asked: it saw them all. */
			so->exhausted = true;
			return false;
		}
		so->ef = so->ef * 2;
		SearchRound(scan);
	}
}

void
hnswendscan(IndexScanDesc scan)
{
	HnswScanOpaque so = (HnswScanOpaque) scan->opaque;

	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}
