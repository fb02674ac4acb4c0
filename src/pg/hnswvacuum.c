/*
 * hnswvacuum.c
 *	  VACUUM for hnsw: remove dead heap TIDs and unlink emptied elements.
 *
 * Pass 1 reads every element page under an exclusive buffer lock and drops
 * the heap TIDs that the callback reports dead.  An element left without
 * heap TIDs is "deleted": scans and inserts still traverse it but never
 * return it or link to it.
 *
 * Pass 2 takes the update lock, so no insert runs, and collects the deleted
 * elements.  Every live element that links to one gets that level's list
 * chosen again from its other neighbours plus the neighbours of the deleted
 * ones.  If the entry point was deleted, the live element with the highest
 * level replaces it.  Then the deleted elements are marked dead.  Last, every
 * live element that level 0 no longer reaches from the entry point gets a
 * link from its nearest reached element (hnswreach.c), so that every row
 * stays findable.
 *
 * Dead elements keep their slots, and the metapage's reuse_page points at
 * the first page that contains one.  Inserts overwrite them (hnswinsert.c),
 * so an index under steady churn stops growing.  Overflow chains of heap
 * TIDs stay attached to their slot and are emptied here like inline TIDs.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "hnsw.h"

static inline uint64
TidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumber(tid) << 16) | ItemPointerGetOffsetNumber(tid);
}

/* Invalidate the heap TIDs among slots that the callback reports dead. */
static bool
RemoveDeadSlots(ItemPointerData *slots, int nslots, IndexBulkDeleteResult *stats,
				IndexBulkDeleteCallback callback, void *callback_state)
{
	bool		changed = false;

	for (int i = 0; i < nslots; i++)
	{
		if (!ItemPointerIsValid(&slots[i]))
			continue;
		if (callback(&slots[i], callback_state))
		{
			ItemPointerSetInvalid(&slots[i]);
			stats->tuples_removed++;
			changed = true;
		}
		else
			stats->num_index_tuples++;
	}
	return changed;
}

/*
 * Pass 1: drop dead heap TIDs from every element and every overflow page.
 * Pages are locked one at a time, so an insert that locks an element's page
 * and then a chain page never waits in reverse order with this pass.
 */
static void
RemoveHeapTids(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		GenericXLogState *state;
		bool		changed = false;
		uint16		page_type;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page_type = HnswPageGetOpaque(BufferGetPage(buf))->page_type;
		if (page_type != HNSW_PAGE_ELEMENT && page_type != HNSW_PAGE_HEAPTIDS)
		{
			UnlockReleaseBuffer(buf);
			continue;
		}

		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		if (page_type == HNSW_PAGE_HEAPTIDS)
			changed = RemoveDeadSlots(HnswPageGetHeapTids(page), HNSW_PAGE_HEAPTID_SLOTS,
									  stats, callback, callback_state);
		else
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswElementTuple etup = HnswGetElementTuple(page, off);

				if (etup->state == HNSW_ELEMENT_LIVE)
					changed |= RemoveDeadSlots(etup->heaptids, HNSW_HEAPTIDS,
											   stats, callback, callback_state);
			}
		}

		if (changed)
			GenericXLogFinish(state);
		else
			GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
	}
}

/* Whether the overflow chain starting at blkno contains any heap TID. */
static bool
ChainHasRows(Relation index, BlockNumber blkno, BufferAccessStrategy strategy)
{
	bool		has_rows = false;

	while (BlockNumberIsValid(blkno) && !has_rows)
	{
		Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
		Page		page;
		ItemPointerData *slots;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		slots = HnswPageGetHeapTids(page);
		for (int i = 0; i < HNSW_PAGE_HEAPTID_SLOTS && !has_rows; i++)
			has_rows = ItemPointerIsValid(&slots[i]);
		blkno = HnswPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
	}
	return has_rows;
}

/*
 * Clear the overflow flag of the element at tid, whose chain is empty.  The
 * caller holds the update lock, so no insert can add a heap TID meanwhile.
 */
static void
ClearOverflow(Relation index, ItemPointer tid)
{
	Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(tid));
	GenericXLogState *state;
	Page		page;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	HnswGetElementTuple(page, ItemPointerGetOffsetNumber(tid))->flags &= ~HNSW_ELEMENT_OVERFLOW;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/* A live element with an overflow chain in use, seen by CollectDeleted. */
typedef struct OverflowElement
{
	ItemPointerData tid;
	BlockNumber tid_page;
	int			level;
	bool		inline_rows;	/* it has inline heap TIDs */
} OverflowElement;

/*
 * Collect the deleted elements (live, no heap TIDs inline or in their
 * overflow chain) into a hash table and find the live element with the
 * highest level.  Clears the overflow flag of emptied chains.  The caller
 * holds the update lock.  Returns the number found.
 */
static int
CollectDeleted(Relation index, HTAB *deleted, ItemPointer best, int *best_level,
			   BufferAccessStrategy strategy)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	int			count = 0;
	OverflowElement *overflow = NULL;
	int			noverflow;

	ItemPointerSetInvalid(best);
	*best_level = -1;
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;

		vacuum_delay_point();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		noverflow = 0;
		if (HnswPageGetOpaque(page)->page_type == HNSW_PAGE_ELEMENT)
		{
			overflow = palloc(sizeof(OverflowElement) * PageGetMaxOffsetNumber(page));
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswElementTuple etup = HnswGetElementTuple(page, off);
				ItemPointerData tid;
				bool		has_rows = false;

				if (etup->state != HNSW_ELEMENT_LIVE)
					continue;
				ItemPointerSet(&tid, blkno, off);
				for (int i = 0; i < HNSW_HEAPTIDS; i++)
					has_rows |= ItemPointerIsValid(&etup->heaptids[i]);
				if (etup->flags & HNSW_ELEMENT_OVERFLOW)
				{
					/* Check the chain after the page's lock is released. */
					overflow[noverflow].tid = tid;
					overflow[noverflow].tid_page = etup->tid_page;
					overflow[noverflow].level = etup->level;
					overflow[noverflow++].inline_rows = has_rows;
					continue;
				}
				if (!has_rows)
				{
					uint64		key = TidKey(&tid);

					hash_search(deleted, &key, HASH_ENTER, NULL);
					count++;
				}
				else if (etup->level > *best_level)
				{
					*best = tid;
					*best_level = etup->level;
				}
			}
		}
		UnlockReleaseBuffer(buf);

		/*
		 * An element whose overflow chain has been emptied loses its flag.
		 * It is then deleted if it has no inline heap TID either.
		 */
		for (int i = 0; i < noverflow; i++)
		{
			OverflowElement *element = &overflow[i];
			bool		has_rows = element->inline_rows;

			if (!ChainHasRows(index, element->tid_page, strategy))
				ClearOverflow(index, &element->tid);
			else
				has_rows = true;

			if (!has_rows)
			{
				uint64		key = TidKey(&element->tid);

				hash_search(deleted, &key, HASH_ENTER, NULL);
				count++;
			}
			else if (element->level > *best_level)
			{
				*best = element->tid;
				*best_level = element->level;
			}
		}
		if (overflow != NULL)
		{
			pfree(overflow);
			overflow = NULL;
		}
	}
	return count;
}

static bool
IsDeleted(HTAB *deleted, ItemPointer tid)
{
	uint64		key = TidKey(tid);

	return hash_search(deleted, &key, HASH_FIND, NULL) != NULL;
}

/*
 * Give every level of the live element at tid that links to a deleted
 * element a new list, chosen from its remaining neighbours and the
 * neighbours of the deleted ones.
 */
static void
RepairElement(HnswContext *ctx, HTAB *deleted, ItemPointer tid, int level)
{
	int			lm0 = HnswLayerM(ctx->m, 0);
	ItemPointerData *neighbors = palloc(sizeof(ItemPointerData) * lm0);
	ItemPointerData *second = palloc(sizeof(ItemPointerData) * lm0);

	for (int l = 0; l <= level; l++)
	{
		int			count = HnswLoadNeighbors(ctx, tid, l, neighbors, NULL);
		HnswCandidate *extra;
		int			nextra = 0;
		bool		affected = false;

		for (int i = 0; i < count; i++)
			affected |= IsDeleted(deleted, &neighbors[i]);
		if (!affected)
			continue;

		extra = palloc(sizeof(HnswCandidate) * count * lm0);
		for (int i = 0; i < count; i++)
		{
			int			nsecond;

			if (!IsDeleted(deleted, &neighbors[i]))
				continue;
			nsecond = HnswLoadNeighbors(ctx, &neighbors[i], l, second, NULL);
			for (int j = 0; j < nsecond; j++)
				if (!IsDeleted(deleted, &second[j]))
					extra[nextra++].tid = second[j];
		}
		HnswRebuildNeighbors(ctx, tid, l, extra, nextra);
		pfree(extra);
	}
	pfree(neighbors);
	pfree(second);
}

/*
 * Mark every deleted element dead, then point the metapage's reuse_page at
 * the first page with a dead element, so that inserts reuse the slots.
 */
static void
MarkDead(Relation index, HTAB *deleted)
{
	HASH_SEQ_STATUS status;
	uint64	   *key;
	BlockNumber first = InvalidBlockNumber;
	Buffer		metabuf;
	GenericXLogState *state;
	HnswMetaPage meta;

	hash_seq_init(&status, deleted);
	while ((key = hash_seq_search(&status)) != NULL)
	{
		BlockNumber blkno = (BlockNumber) (*key >> 16);
		OffsetNumber off = (OffsetNumber) (*key & 0xFFFF);
		Buffer		buf = ReadBuffer(index, blkno);
		GenericXLogState *state;
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		HnswGetElementTuple(page, off)->state = HNSW_ELEMENT_DEAD;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		first = Min(first, blkno);
	}

	/* InvalidBlockNumber is the largest block number, so Min keeps valid ones. */
	metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = HnswPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
	meta->reuse_page = Min(meta->reuse_page, first);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(metabuf);
}

/* Point the metapage at a new entry point (or none). */
static void
SetEntryPoint(Relation index, ItemPointer entry, int level)
{
	Buffer		buf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	GenericXLogState *state;
	HnswMetaPage meta;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = HnswPageGetMeta(GenericXLogRegisterBuffer(state, buf, 0));
	meta->entry = *entry;
	meta->entry_level = level;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/* Pass 2: unlink the deleted elements, under the update lock. */
static void
RepairGraph(IndexVacuumInfo *info)
{
	Relation	index = info->index;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw vacuum",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	MemoryContext element_cxt = AllocSetContextCreate(cxt, "hnsw vacuum element",
													  ALLOCSET_DEFAULT_SIZES);
	HASHCTL		hctl;
	HTAB	   *deleted;
	ItemPointerData best;
	int			best_level;
	BlockNumber nblocks;
	HnswContext ctx;

	LockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);

	hctl.keysize = sizeof(uint64);
	hctl.entrysize = sizeof(uint64);
	hctl.hcxt = cxt;
	deleted = hash_create("hnsw deleted", 256, &hctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	if (CollectDeleted(index, deleted, &best, &best_level, info->strategy) == 0)
	{
		UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		return;
	}

	nblocks = RelationGetNumberOfBlocks(index);
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;
		int			nelements = 0;
		ItemPointerData *tids;
		int		   *levels;

		vacuum_delay_point();

		/* Copy the live elements of the page, then repair them unlocked. */
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (HnswPageGetOpaque(page)->page_type != HNSW_PAGE_ELEMENT)
		{
			UnlockReleaseBuffer(buf);
			continue;
		}
		tids = palloc(sizeof(ItemPointerData) * PageGetMaxOffsetNumber(page));
		levels = palloc(sizeof(int) * PageGetMaxOffsetNumber(page));
		for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			HnswElementTuple etup = HnswGetElementTuple(page, off);

			if (etup->state != HNSW_ELEMENT_LIVE)
				continue;
			ItemPointerSet(&tids[nelements], blkno, off);
			if (IsDeleted(deleted, &tids[nelements]))
				continue;
			levels[nelements++] = etup->level;
		}
		UnlockReleaseBuffer(buf);

		for (int i = 0; i < nelements; i++)
		{
			MemoryContext prev = MemoryContextSwitchTo(element_cxt);

			HnswInitContext(&ctx, index, true);
			RepairElement(&ctx, deleted, &tids[i], levels[i]);
			MemoryContextSwitchTo(prev);
			MemoryContextReset(element_cxt);
		}
		pfree(tids);
		pfree(levels);
	}

	HnswReadMeta(index, &ctx.meta);
	if (!ItemPointerIsValid(&ctx.meta.entry) || IsDeleted(deleted, &ctx.meta.entry))
		SetEntryPoint(index, &best, best_level);

	MarkDead(index, deleted);
	HnswConnectUnreached(index, info->strategy);

	UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

IndexBulkDeleteResult *
hnswbulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
			   IndexBulkDeleteCallback callback, void *callback_state)
{
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));

	RemoveHeapTids(info, stats, callback, callback_state);
	RepairGraph(info);
	return stats;
}

IndexBulkDeleteResult *
hnswvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (info->analyze_only)
		return stats;

	if (stats == NULL)
	{
		/*
		 * No bulk delete ran, so inserts alone changed the graph since the
		 * last VACUUM (autovacuum runs this on insert-only tables).  Inserts
		 * can cut an element off when they choose a neighbour's list again,
		 * so link such elements back in.
		 */
		LockPage(info->index, HNSW_UPDATE_LOCK, ExclusiveLock);
		HnswConnectUnreached(info->index, info->strategy);
		UnlockPage(info->index, HNSW_UPDATE_LOCK, ExclusiveLock);

		/* Report the size, leave the count estimated. */
		stats = palloc0(sizeof(IndexBulkDeleteResult));
		stats->num_index_tuples = info->num_heap_tuples;
		stats->estimated_count = info->estimated_count;
	}
	stats->num_pages = RelationGetNumberOfBlocks(info->index);
	return stats;
}
