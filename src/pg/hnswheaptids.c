/*
 * hnswheaptids.c
 *	  Overflow chains of heap TIDs: any number of rows with one vector.
 *
 * Identical vectors share one element.  Its tuple stores HNSW_HEAPTIDS heap
 * TIDs inline, and the rest go to a chain of heap TID pages that belongs to
 * the element's slot.  A chain page is a flat array of heap TIDs in which an
 * invalid TID is a free slot.  VACUUM removes a row by invalidating its TID
 * under the page's exclusive lock.  An insert fills the first free slot it
 * finds and appends a page when the chain is full.
 *
 * Chain pages are never freed or put to another use: when an element dies
 * and an insert reuses its slot, the new element inherits the emptied
 * chain.  A scan that follows a stale chain pointer therefore reads only
 * heap TID pages, and any TID it finds there that was not in the chain when
 * the scan began belongs to a row inserted after its snapshot.
 *
 * Lock order: the element's page, then the chain pages from first to last.
 * Writers hold the update lock, VACUUM's first pass and scans lock one page
 * at a time, so no two lockers wait on each other in reverse order.
 */
#include "postgres.h"

#include "access/generic_xlog.h"
#include "storage/bufmgr.h"

#include "hnsw.h"

/* Initialise page as an empty overflow page. */
void
HnswInitHeapTidPage(Page page)
{
	ItemPointerData *slots;

	HnswInitPage(page, HNSW_PAGE_HEAPTIDS);
	slots = HnswPageGetHeapTids(page);
	for (int i = 0; i < HNSW_PAGE_HEAPTID_SLOTS; i++)
		ItemPointerSetInvalid(&slots[i]);
	/* Cover the slots, so that full-page images keep them. */
	((PageHeader) page)->pd_lower =
		MAXALIGN(SizeOfPageHeaderData) + sizeof(ItemPointerData) * HNSW_PAGE_HEAPTID_SLOTS;
}

/* Copy heaptids[*next ..] into the free slots of slots[0 .. nslots - 1]. */
static void
FillSlots(ItemPointerData *slots, int nslots, const ItemPointerData *heaptids, int count,
		  int *next)
{
	for (int i = 0; i < nslots && *next < count; i++)
		if (!ItemPointerIsValid(&slots[i]))
			slots[i] = heaptids[(*next)++];
}

static bool
HasFreeSlot(const ItemPointerData *slots, int nslots)
{
	for (int i = 0; i < nslots; i++)
		if (!ItemPointerIsValid(&slots[i]))
			return true;
	return false;
}

/*
 * Add count heap TIDs to the live element at element: to its free inline
 * slots first, then to free slots of its overflow chain, then to new pages
 * appended to the chain.
 *
 * NOTE: the free slot search starts at the chain's first page every time,
 * so adding one row to a chain of n pages reads n pages.  With require_rows, the element must still have
 * rows (an element without any is about to be unlinked by VACUUM).
 * Returns false, adding nothing, when the element does not qualify.  The
 * caller holds the update lock, or builds the index.
 */
bool
HnswAddHeapTids(Relation index, ItemPointer element, const ItemPointerData *heaptids,
				int count, bool require_rows)
{
	OffsetNumber offset = ItemPointerGetOffsetNumber(element);
	Buffer		ebuf = ReadBuffer(index, ItemPointerGetBlockNumber(element));
	Buffer		prev = InvalidBuffer;
	HnswElementTuple etup;
	GenericXLogState *state;
	BlockNumber blkno;
	int			next = 0;
	bool		has_rows;

	LockBuffer(ebuf, BUFFER_LOCK_EXCLUSIVE);
	etup = HnswGetElementTuple(BufferGetPage(ebuf), offset);
	has_rows = (etup->flags & HNSW_ELEMENT_OVERFLOW) != 0;
	for (int i = 0; i < HNSW_HEAPTIDS; i++)
		has_rows |= ItemPointerIsValid(&etup->heaptids[i]);
	if (etup->state != HNSW_ELEMENT_LIVE || (require_rows && !has_rows))
	{
		UnlockReleaseBuffer(ebuf);
		return false;
	}

	if (HasFreeSlot(etup->heaptids, HNSW_HEAPTIDS))
	{
		state = GenericXLogStart(index);
		etup = HnswGetElementTuple(GenericXLogRegisterBuffer(state, ebuf, 0), offset);
		FillSlots(etup->heaptids, HNSW_HEAPTIDS, heaptids, count, &next);
		GenericXLogFinish(state);
	}

	etup = HnswGetElementTuple(BufferGetPage(ebuf), offset);
	blkno = etup->tid_page;
	while (next < count)
	{
		Buffer		buf;
		Page		page;
		HnswElementTuple copy;

		if (BlockNumberIsValid(blkno))
		{
			/* An existing chain page: fill its free slots, if any. */
			buf = ReadBuffer(index, blkno);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			page = BufferGetPage(buf);
			if (HnswPageGetOpaque(page)->page_type != HNSW_PAGE_HEAPTIDS)
				elog(ERROR, "hnsw element (%u,%u) has a heap TID chain through block %u, which is not a heap TID page",
					 ItemPointerGetBlockNumber(element), offset, blkno);
			if (HasFreeSlot(HnswPageGetHeapTids(page), HNSW_PAGE_HEAPTID_SLOTS))
			{
				state = GenericXLogStart(index);
				page = GenericXLogRegisterBuffer(state, buf, 0);
				FillSlots(HnswPageGetHeapTids(page), HNSW_PAGE_HEAPTID_SLOTS, heaptids, count,
						  &next);
				if (!(etup->flags & HNSW_ELEMENT_OVERFLOW))
				{
					copy = HnswGetElementTuple(GenericXLogRegisterBuffer(state, ebuf, 0), offset);
					copy->flags |= HNSW_ELEMENT_OVERFLOW;
				}
				GenericXLogFinish(state);
			}
			blkno = HnswPageGetOpaque(BufferGetPage(buf))->next;
		}
		else
		{
			/*
			 * Append a page.  Its image, the link to it and the element's
			 * flag go into one WAL record, so a crash leaves either all of
			 * them or an unused new page.
			 */
			buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			state = GenericXLogStart(index);
			page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
			HnswInitHeapTidPage(page);
			FillSlots(HnswPageGetHeapTids(page), HNSW_PAGE_HEAPTID_SLOTS, heaptids, count, &next);
			copy = HnswGetElementTuple(GenericXLogRegisterBuffer(state, ebuf, 0), offset);
			copy->flags |= HNSW_ELEMENT_OVERFLOW;
			if (BufferIsValid(prev))
				HnswPageGetOpaque(GenericXLogRegisterBuffer(state, prev, 0))->next =
					BufferGetBlockNumber(buf);
			else
				copy->tid_page = BufferGetBlockNumber(buf);
			GenericXLogFinish(state);
			blkno = InvalidBlockNumber;
		}

		if (BufferIsValid(prev))
			UnlockReleaseBuffer(prev);
		prev = buf;
	}

	if (BufferIsValid(prev))
		UnlockReleaseBuffer(prev);
	UnlockReleaseBuffer(ebuf);
	return true;
}

/*
 * Return a palloc'd array of the valid heap TIDs of an element copied into
 * info: the inline ones and, when the element has an overflow chain in use,
 * those of the chain.  Reads the chain one page at a time.
 */
ItemPointerData *
HnswCollectHeapTids(Relation index, const HnswElementInfo *info, int *count)
{
	int			capacity = HNSW_HEAPTIDS;
	ItemPointerData *tids = palloc(sizeof(ItemPointerData) * capacity);
	BlockNumber blkno = info->overflow ? info->tid_page : InvalidBlockNumber;
	int			n = info->nheaptids;

	memcpy(tids, info->heaptids, sizeof(ItemPointerData) * n);
	while (BlockNumberIsValid(blkno))
	{
		Buffer		buf = ReadBuffer(index, blkno);
		Page		page;
		ItemPointerData *slots;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (HnswPageGetOpaque(page)->page_type != HNSW_PAGE_HEAPTIDS)
			elog(ERROR, "hnsw heap TID chain of index \"%s\" leads to block %u, which is not a heap TID page",
				 RelationGetRelationName(index), blkno);
		slots = HnswPageGetHeapTids(page);
		for (int i = 0; i < HNSW_PAGE_HEAPTID_SLOTS; i++)
		{
			if (!ItemPointerIsValid(&slots[i]))
				continue;
			if (n == capacity)
			{
				capacity *= 2;
				tids = repalloc(tids, sizeof(ItemPointerData) * capacity);
			}
			tids[n++] = slots[i];
		}
		blkno = HnswPageGetOpaque(page)->next;
		UnlockReleaseBuffer(buf);
	}
	*count = n;
	return tids;
}
