/*
 * hnswverify.c
 *	  similarity.hnsw_verify(regclass): check the invariants of an hnsw index.
 *
 * Checked: the metapage (magic, version, options); every page's type; every
 * element's level, state and neighbour TIDs (each points to an element
 * tuple of high enough level, never to itself, never twice in one list,
 * and never from a live element to a dead one); vector chains; overflow
 * chains of heap TIDs (each heap TID page in exactly one element's chain);
 * and the entry point (valid, live, of the highest live level).  Each violation is
 * reported as a WARNING and makes the function return false.  Live
 * elements that cannot be reached from the entry point at level 0 are
 * counted in a NOTICE but are not a violation: the graph is approximate.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_am.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "hnsw.h"

typedef struct VerifyEntry
{
	uint64		key;
	int			level;
	int			state;
	bool		has_rows;
	bool		reached;
	BlockNumber tid_page;		/* first overflow page, or invalid */
} VerifyEntry;

static inline uint64
TidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumber(tid) << 16) | ItemPointerGetOffsetNumber(tid);
}

#define VIOLATION(...) \
	do { ereport(WARNING, (errmsg(__VA_ARGS__))); ok = false; } while (0)

/* Record every element tuple: level, state and whether it has rows. */
static bool
CollectElements(Relation index, const HnswMetaPageData *meta, HTAB *elements,
				int *max_live_level)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	bool		ok = true;

	*max_live_level = -1;
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		HnswPageOpaque opaque;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		opaque = HnswPageGetOpaque(page);
		if (PageIsNew(page))
		{
			/* Left by an extension that a crash cut short; never linked. */
		}
		else if (opaque->page_id != HNSW_PAGE_ID ||
				 (opaque->page_type != HNSW_PAGE_ELEMENT && opaque->page_type != HNSW_PAGE_VECTOR &&
				  opaque->page_type != HNSW_PAGE_HEAPTIDS))
			VIOLATION("block %u is not an hnsw element, vector or heap TID page", blkno);
		else if (opaque->page_type == HNSW_PAGE_ELEMENT)
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswElementTuple etup = HnswGetElementTuple(page, off);
				ItemPointerData tid;
				uint64		key;
				VerifyEntry *entry;
				Size		size = ItemIdGetLength(PageGetItemId(page, off));
				int			inline_floats = HnswInlineFloats(meta->m, etup->level, meta->dims);
				int			vector_pages = HnswVectorPages(meta->m, etup->level, meta->dims);

				ItemPointerSet(&tid, blkno, off);
				key = TidKey(&tid);
				entry = hash_search(elements, &key, HASH_ENTER, NULL);
				entry->level = etup->level;
				entry->state = etup->state;
				entry->has_rows = (etup->flags & HNSW_ELEMENT_OVERFLOW) != 0;
				entry->reached = false;
				entry->tid_page = etup->tid_page;
				for (int i = 0; i < HNSW_HEAPTIDS; i++)
					entry->has_rows |= ItemPointerIsValid(&etup->heaptids[i]);

				if ((etup->flags & HNSW_ELEMENT_OVERFLOW) && !BlockNumberIsValid(etup->tid_page))
					VIOLATION("element (%u,%u) has heap TIDs in an overflow chain but no chain",
							  blkno, off);
				if (etup->state == HNSW_ELEMENT_DEAD && (etup->flags & HNSW_ELEMENT_OVERFLOW))
					VIOLATION("dead element (%u,%u) still has heap TIDs in its overflow chain",
							  blkno, off);

				if (etup->level > HnswMaxLevel(meta->m) ||
					size != HnswElementTupleSize(meta->m, etup->level, inline_floats))
					VIOLATION("element (%u,%u) has level %d and size %zu, which do not match the index",
							  blkno, off, etup->level, size);
				if (etup->state != HNSW_ELEMENT_LIVE && etup->state != HNSW_ELEMENT_DEAD)
					VIOLATION("element (%u,%u) has unknown state %d", blkno, off, etup->state);
				if (vector_pages > 0 &&
					(!BlockNumberIsValid(etup->vector_page) ||
					 etup->vector_page + vector_pages > nblocks))
					VIOLATION("element (%u,%u) has its vector pages at block %u, outside the index",
							  blkno, off, etup->vector_page);
				if (vector_pages == 0 && BlockNumberIsValid(etup->vector_page))
					VIOLATION("element (%u,%u) has vector pages but needs none", blkno, off);
				if (etup->state == HNSW_ELEMENT_LIVE && entry->has_rows &&
					etup->level > *max_live_level)
					*max_live_level = etup->level;
			}
		}
		UnlockReleaseBuffer(buf);
	}
	return ok;
}

/* Check every neighbour list against the recorded elements. */
static bool
CheckNeighbors(Relation index, const HnswMetaPageData *meta, HTAB *elements)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	bool		ok = true;

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (HnswPageGetOpaque(page)->page_type == HNSW_PAGE_ELEMENT)
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswElementTuple etup = HnswGetElementTuple(page, off);
				ItemPointerData self;

				if (etup->state != HNSW_ELEMENT_LIVE)
					continue;
				ItemPointerSet(&self, blkno, off);
				for (int l = 0; l <= etup->level && l <= HnswMaxLevel(meta->m); l++)
				{
					ItemPointerData *slots = etup->neighbors + HnswLayerStart(meta->m, l);
					int			lm = HnswLayerM(meta->m, l);

					for (int i = 0; i < lm; i++)
					{
						uint64		key;
						VerifyEntry *target;

						if (!ItemPointerIsValid(&slots[i]))
							continue;
						key = TidKey(&slots[i]);
						target = hash_search(elements, &key, HASH_FIND, NULL);
						if (target == NULL)
						{
							VIOLATION("element (%u,%u) links to (%u,%u) at level %d, which is not an element",
									  blkno, off, ItemPointerGetBlockNumber(&slots[i]),
									  ItemPointerGetOffsetNumber(&slots[i]), l);
							continue;
						}
						if (ItemPointerEquals(&slots[i], &self))
							VIOLATION("element (%u,%u) links to itself at level %d", blkno, off, l);
						if (target->level < l)
							VIOLATION("element (%u,%u) links at level %d to (%u,%u) of level %d",
									  blkno, off, l, ItemPointerGetBlockNumber(&slots[i]),
									  ItemPointerGetOffsetNumber(&slots[i]), target->level);
						if (target->state == HNSW_ELEMENT_DEAD)
							VIOLATION("element (%u,%u) links to dead element (%u,%u) at level %d",
									  blkno, off, ItemPointerGetBlockNumber(&slots[i]),
									  ItemPointerGetOffsetNumber(&slots[i]), l);
						for (int j = 0; j < i; j++)
							if (ItemPointerEquals(&slots[j], &slots[i]))
								VIOLATION("element (%u,%u) links twice to (%u,%u) at level %d",
										  blkno, off, ItemPointerGetBlockNumber(&slots[i]),
										  ItemPointerGetOffsetNumber(&slots[i]), l);
					}
				}
			}
		}
		UnlockReleaseBuffer(buf);
	}
	return ok;
}

/*
 * Check the overflow chains of heap TIDs: every chain page is a heap TID
 * page, belongs to exactly one element's chain, and every heap TID page
 * belongs to a chain.
 */
static bool
CheckHeapTidChains(Relation index, HTAB *elements)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	uint8	   *owner = palloc_extended(nblocks, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	HASH_SEQ_STATUS status;
	VerifyEntry *entry;
	bool		ok = true;

	/* owner[blkno]: 1 for a heap TID page, 2 once a chain has claimed it */
	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!PageIsNew(page) && HnswPageGetOpaque(page)->page_type == HNSW_PAGE_HEAPTIDS)
			owner[blkno] = 1;
		UnlockReleaseBuffer(buf);
	}

	hash_seq_init(&status, elements);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		BlockNumber blkno = entry->tid_page;

		while (BlockNumberIsValid(blkno))
		{
			Buffer		buf;

			if (blkno >= nblocks || owner[blkno] != 1)
			{
				VIOLATION("element (%u,%u) has a heap TID chain through block %u, which is %s",
						  (BlockNumber) (entry->key >> 16), (OffsetNumber) (entry->key & 0xFFFF),
						  blkno, blkno >= nblocks || owner[blkno] == 0 ?
						  "not a heap TID page" : "in another chain");
				break;
			}
			owner[blkno] = 2;
			buf = ReadBuffer(index, blkno);
			LockBuffer(buf, BUFFER_LOCK_SHARE);
			blkno = HnswPageGetOpaque(BufferGetPage(buf))->next;
			UnlockReleaseBuffer(buf);
		}
	}

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
		if (owner[blkno] == 1)
			VIOLATION("heap TID page %u belongs to no element", blkno);
	pfree(owner);
	return ok;
}

/* Count the live elements with rows that level 0 cannot reach from entry. */
static int64
CountUnreached(Relation index, const HnswMetaPageData *meta, HTAB *elements)
{
	HnswContext ctx;
	ItemPointerData *queue;
	int64		capacity = hash_get_num_entries(elements) + 1;
	int64		head = 0;
	int64		tail = 0;
	ItemPointerData *neighbors = palloc(sizeof(ItemPointerData) * HnswLayerM(meta->m, 0));
	HASH_SEQ_STATUS status;
	VerifyEntry *entry;
	int64		unreached = 0;

	HnswInitContext(&ctx, index, false);
	queue = palloc_extended(sizeof(ItemPointerData) * capacity, MCXT_ALLOC_HUGE);
	if (ItemPointerIsValid(&meta->entry))
	{
		uint64		key = TidKey((ItemPointer) &meta->entry);

		entry = hash_search(elements, &key, HASH_FIND, NULL);
		if (entry != NULL)
		{
			entry->reached = true;
			queue[tail++] = meta->entry;
		}
	}

	while (head < tail)
	{
		int			count = HnswLoadNeighbors(&ctx, &queue[head++], 0, neighbors, NULL);

		for (int i = 0; i < count; i++)
		{
			uint64		key = TidKey(&neighbors[i]);

			entry = hash_search(elements, &key, HASH_FIND, NULL);
			if (entry != NULL && !entry->reached && entry->state == HNSW_ELEMENT_LIVE)
			{
				entry->reached = true;
				queue[tail++] = neighbors[i];
			}
		}
		CHECK_FOR_INTERRUPTS();
	}

	hash_seq_init(&status, elements);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->state == HNSW_ELEMENT_LIVE && entry->has_rows && !entry->reached)
			unreached++;
	return unreached;
}

PG_FUNCTION_INFO_V1(hnsw_verify);
Datum
hnsw_verify(PG_FUNCTION_ARGS)
{
	Oid			indexoid = PG_GETARG_OID(0);
	Relation	index;
	HnswMetaPageData meta;
	HTAB	   *elements;
	HASHCTL		hctl;
	bool		ok = true;
	int			max_live_level;
	int64		unreached;

	index = relation_open(indexoid, AccessShareLock);
	if (index->rd_rel->relkind != RELKIND_INDEX ||
		index->rd_rel->relam != get_index_am_oid("hnsw", false))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not an hnsw index", RelationGetRelationName(index))));

	/* Hold off inserts and VACUUM, so the graph does not change meanwhile. */
	LockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);

	HnswReadMeta(index, &meta);
	if (meta.m < HNSW_MIN_M || meta.m > HNSW_MAX_M ||
		meta.ef_construction < 2 * meta.m || meta.dims < 1 || meta.dims > SIM_VECTOR_MAX_DIM)
		VIOLATION("metapage has invalid options: dims %u, m %u, ef_construction %u",
				  meta.dims, meta.m, meta.ef_construction);

	hctl.keysize = sizeof(uint64);
	hctl.entrysize = sizeof(VerifyEntry);
	hctl.hcxt = CurrentMemoryContext;
	elements = hash_create("hnsw verify", 1024, &hctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	ok &= CollectElements(index, &meta, elements, &max_live_level);
	ok &= CheckNeighbors(index, &meta, elements);
	ok &= CheckHeapTidChains(index, elements);

	if (ItemPointerIsValid(&meta.entry))
	{
		uint64		key = TidKey(&meta.entry);
		VerifyEntry *entry = hash_search(elements, &key, HASH_FIND, NULL);

		if (entry == NULL)
			VIOLATION("entry point (%u,%u) is not an element",
					  ItemPointerGetBlockNumber(&meta.entry), ItemPointerGetOffsetNumber(&meta.entry));
		else
		{
			if (entry->state != HNSW_ELEMENT_LIVE)
				VIOLATION("entry point (%u,%u) is dead",
						  ItemPointerGetBlockNumber(&meta.entry), ItemPointerGetOffsetNumber(&meta.entry));
			if (entry->level != meta.entry_level)
				VIOLATION("entry point has level %d but the metapage says %d",
						  entry->level, meta.entry_level);
			if (max_live_level > entry->level)
				VIOLATION("a live element has level %d, above the entry point's %d",
						  max_live_level, entry->level);
		}
	}
	else if (max_live_level >= 0)
		VIOLATION("index has live elements but no entry point");

	if (ok)
	{
		unreached = CountUnreached(index, &meta, elements);
		if (unreached > 0)
			ereport(NOTICE,
					(errmsg(INT64_FORMAT " live elements are not reachable from the entry point",
							unreached)));
	}

	UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	relation_close(index, AccessShareLock);
	PG_RETURN_BOOL(ok);
}
