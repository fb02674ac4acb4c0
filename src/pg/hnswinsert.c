/*
 * hnswinsert.c
 *	  Insert one vector into an hnsw index on disk.
 *
 * An insert holds the update lock (hnsw.h) from its first read of the
 * metapage to its last link, so at most one backend changes neighbour lists
 * at a time.  Scans do not take that lock and see each page either before
 * or after a change, because every change is made under the page's
 * exclusive buffer lock.
 *
 * A vector already in the index adds its heap TID to that element
 * (hnswheaptids.c).  A new element takes over the slot of an element that
 * VACUUM marked dead when one fits, else goes to the insert page.
 */
#include "postgres.h"

#include <math.h>

#include "access/generic_xlog.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/memutils.h"

#include "hnsw.h"

/* Whether the element at tid stores exactly this vector. */
static bool
SameVector(HnswContext *ctx, ItemPointer tid, const float *vector)
{
	return memcmp(HnswLoadVector(ctx, tid), vector, sizeof(float) * ctx->dims) == 0;
}

/*
 * A dead element slot that a new element can take over: its TID, the
 * vector pages and the heap TID chain it owns, and the metapage's next
 * reuse_page.
 */
typedef struct HnswReuseSlot
{
	bool		found;
	ItemPointerData tid;
	BlockNumber vector_page;
	BlockNumber tid_page;
	BlockNumber next_hint;
} HnswReuseSlot;

/* Pages with dead elements an insert examines before it gives up reusing. */
#define HNSW_REUSE_SCAN_PAGES	16

/*
 * Look for a dead element, from the metapage's reuse_page on, whose slot a
 * tuple of size bytes can overwrite and whose vector pages are as many as
 * the new element needs (so it takes them over).  Also works out where the
 * next search should start: the first page that still had a dead element,
 * or nowhere when none was left.  The caller holds the update lock, so dead
 * elements cannot change meanwhile.
 */
static void
FindReusableSlot(HnswContext *ctx, Size size, int vector_pages, HnswReuseSlot *reuse)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(ctx->index);
	BlockNumber first_dead = InvalidBlockNumber;
	int			dead_pages = 0;
	BlockNumber blkno;

	reuse->found = false;
	ItemPointerSetInvalid(&reuse->tid);
	reuse->vector_page = InvalidBlockNumber;
	reuse->tid_page = InvalidBlockNumber;
	reuse->next_hint = ctx->meta.reuse_page;
	if (!BlockNumberIsValid(ctx->meta.reuse_page))
		return;

	for (blkno = ctx->meta.reuse_page; blkno < nblocks && !reuse->found; blkno++)
	{
		Buffer		buf = ReadBuffer(ctx->index, blkno);
		Page		page;
		bool		has_dead = false;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (HnswPageGetOpaque(page)->page_type == HNSW_PAGE_ELEMENT)
		{
			Size		room = PageGetExactFreeSpace(page);

			for (OffsetNumber off = FirstOffsetNumber;
				 off <= PageGetMaxOffsetNumber(page) && !reuse->found; off++)
			{
				ItemId		itemid = PageGetItemId(page, off);
				HnswElementTuple etup = (HnswElementTuple) PageGetItem(page, itemid);

				if (etup->state != HNSW_ELEMENT_DEAD)
					continue;
				has_dead = true;
				if (HnswVectorPages(ctx->m, etup->level, ctx->dims) != vector_pages ||
					MAXALIGN(size) > MAXALIGN(ItemIdGetLength(itemid)) + room)
					continue;
				reuse->found = true;
				ItemPointerSet(&reuse->tid, blkno, off);
				reuse->vector_page = etup->vector_page;
				reuse->tid_page = etup->tid_page;
			}
		}
		UnlockReleaseBuffer(buf);

		if (has_dead)
		{
			if (!BlockNumberIsValid(first_dead))
				first_dead = blkno;
			if (++dead_pages >= HNSW_REUSE_SCAN_PAGES)
				break;
		}
	}

	/* Having scanned to the end without a dead element, nothing is left. */
	reuse->next_hint = first_dead;
}

/*
 * Copy the leading count floats of vector into the vector pages of a dead
 * element that the new element takes over.  Each page is logged on its
 * own; a crash in between leaves the dead element with a mixed vector,
 * which nothing reads.
 */
static void
RewriteVectorChain(Relation index, BlockNumber first, const float *vector, int count)
{
	Size		remaining = sizeof(float) * count;
	const char *src = (const char *) vector;
	BlockNumber blkno = first;

	while (remaining > 0)
	{
		Buffer		buf;
		GenericXLogState *state;
		Page		page;
		Size		chunk = Min(remaining, HNSW_PAGE_CAPACITY);

		if (!BlockNumberIsValid(blkno))
			elog(ERROR, "hnsw vector chain of index \"%s\" ends early",
				 RelationGetRelationName(index));
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
		if (HnswPageGetOpaque(page)->page_type != HNSW_PAGE_VECTOR)
			elog(ERROR, "hnsw block %u of index \"%s\" is not a vector page",
				 blkno, RelationGetRelationName(index));
		memcpy(PageGetContents(page), src, chunk);
		blkno = HnswPageGetOpaque(page)->next;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
		src += chunk;
		remaining -= chunk;
	}
}

/*
 * Write a new element tuple over the dead element in reuse, or else to the
 * metapage's insert page, or to a new page when it does not fit there, and
 * return its TID.  Also records the new insert page and reuse page and,
 * when set_entry, makes the element the entry point.
 */
static void
PlaceElement(HnswContext *ctx, HnswElementTuple etup, Size size, bool set_entry,
			 const HnswReuseSlot *reuse, ItemPointer result)
{
	Relation	index = ctx->index;
	Buffer		metabuf;
	Buffer		buf = InvalidBuffer;
	GenericXLogState *state;
	Page		metapage;
	Page		page = NULL;
	HnswMetaPage meta;
	BlockNumber insert_page;
	OffsetNumber offset;
	bool		new_page = false;

	metabuf = ReadBuffer(index, HNSW_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	insert_page = HnswPageGetMeta(BufferGetPage(metabuf))->insert_page;

	state = GenericXLogStart(index);
	metapage = GenericXLogRegisterBuffer(state, metabuf, 0);
	meta = HnswPageGetMeta(metapage);
	meta->reuse_page = reuse->next_hint;

	if (reuse->found)
	{
		buf = ReadBuffer(index, ItemPointerGetBlockNumber(&reuse->tid));
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		offset = ItemPointerGetOffsetNumber(&reuse->tid);
		if (HnswGetElementTuple(page, offset)->state != HNSW_ELEMENT_DEAD ||
			!PageIndexTupleOverwrite(page, offset, (Item) etup, size))
			elog(ERROR, "failed to reuse hnsw element (%u,%u) of index \"%s\"",
				 ItemPointerGetBlockNumber(&reuse->tid), offset,
				 RelationGetRelationName(index));
		*result = reuse->tid;
	}
	else
	{
		if (BlockNumberIsValid(insert_page))
		{
			buf = ReadBuffer(index, insert_page);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			if (PageGetFreeSpace(BufferGetPage(buf)) < size)
			{
				UnlockReleaseBuffer(buf);
				buf = InvalidBuffer;
			}
		}

		if (!BufferIsValid(buf))
		{
			buf = ReadBufferExtended(index, MAIN_FORKNUM, P_NEW, RBM_NORMAL, NULL);
			LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
			new_page = true;
		}

		page = GenericXLogRegisterBuffer(state, buf, new_page ? GENERIC_XLOG_FULL_IMAGE : 0);
		if (new_page)
		{
			HnswInitPage(page, HNSW_PAGE_ELEMENT);
			meta->insert_page = BufferGetBlockNumber(buf);
		}

		offset = PageAddItem(page, (Item) etup, size, InvalidOffsetNumber, false, false);
		if (offset == InvalidOffsetNumber)
			elog(ERROR, "failed to add element tuple to hnsw index \"%s\"",
				 RelationGetRelationName(index));
		ItemPointerSet(result, BufferGetBlockNumber(buf), offset);
	}

	if (set_entry)
	{
		meta->entry = *result;
		meta->entry_level = etup->level;
	}

	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(metabuf);
}

/* Overwrite the level's neighbour list of the element at tid. */
static void
WriteNeighbors(Relation index, int m, ItemPointer tid, int level,
			   HnswCandidate *neighbors, int count)
{
	Buffer		buf = ReadBuffer(index, ItemPointerGetBlockNumber(tid));
	GenericXLogState *state;
	Page		page;
	HnswElementTuple etup;
	ItemPointerData *slots;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, 0);
	etup = HnswGetElementTuple(page, ItemPointerGetOffsetNumber(tid));
	if (level > etup->level)
		elog(ERROR, "hnsw element (%u,%u) has no level %d",
			 ItemPointerGetBlockNumber(tid), ItemPointerGetOffsetNumber(tid), level);
	slots = etup->neighbors + HnswLayerStart(m, level);
	for (int i = 0; i < HnswLayerM(m, level); i++)
	{
		if (i < count)
			slots[i] = neighbors[i].tid;
		else
			ItemPointerSetInvalid(&slots[i]);
	}
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
}

/*
 * Choose a new neighbour list of the element at tid on level from its
 * current live neighbours plus the extra candidates, and write it.  The
 * caller holds the update lock, so the list cannot change in between.
 * Returns whether the new list contains extra[0].
 */
bool
HnswRebuildNeighbors(HnswContext *ctx, ItemPointer tid, int level,
					 HnswCandidate *extra, int nextra)
{
	int			lm = HnswLayerM(ctx->m, level);
	ItemPointerData *current = palloc(sizeof(ItemPointerData) * lm);
	HnswCandidate *candidates = palloc(sizeof(HnswCandidate) * (lm + nextra));
	HnswCandidate *selected = palloc(sizeof(HnswCandidate) * lm);
	float	   *base = HnswLoadVector(ctx, tid);
	int			ncurrent;
	int			ncandidates = 0;
	int			nselected;

	ncurrent = HnswLoadNeighbors(ctx, tid, level, current, NULL);
	for (int i = 0; i < ncurrent + nextra; i++)
	{
		HnswCandidate candidate;
		HnswElementInfo info;
		bool		duplicate = false;

		if (i < ncurrent)
			candidate.tid = current[i];
		else
			candidate.tid = extra[i - ncurrent].tid;

		if (ItemPointerEquals(&candidate.tid, tid))
			continue;
		for (int j = 0; j < ncandidates && !duplicate; j++)
			duplicate = ItemPointerEquals(&candidates[j].tid, &candidate.tid);
		if (duplicate)
			continue;

		/* Drop links to deleted and dead elements while at it. */
		HnswLoadNeighbors(ctx, &candidate.tid, -1, NULL, &info);
		if (info.state != HNSW_ELEMENT_LIVE || !HnswInfoHasRows(&info))
			continue;

		candidate.distance = sim_hnsw_distance(ctx->distance, base,
											   HnswLoadVector(ctx, &candidate.tid),
											   ctx->dims);
		candidate.has_rows = true;
		candidates[ncandidates++] = candidate;
	}

	qsort(candidates, ncandidates, sizeof(HnswCandidate), HnswCompareCandidates);
	nselected = HnswSelectNeighbors(ctx, base, candidates, ncandidates, lm, selected);
	WriteNeighbors(ctx->index, ctx->m, tid, level, selected, nselected);

	for (int i = 0; i < nselected && nextra > 0; i++)
		if (ItemPointerEquals(&selected[i].tid, &extra[0].tid))
			return true;
	return false;
}

/*
 * Add a link from the element at tid on level to new_tid: into a free
 * slot when there is one, otherwise by choosing its list again.  Returns
 * whether the link was kept.
 */
static bool
AddBackLink(HnswContext *ctx, ItemPointer tid, int level, ItemPointer new_tid)
{
	int			lm = HnswLayerM(ctx->m, level);
	ItemPointerData *current = palloc(sizeof(ItemPointerData) * lm);
	int			ncurrent = HnswLoadNeighbors(ctx, tid, level, current, NULL);
	HnswCandidate extra;

	if (ncurrent < lm)
	{
		HnswCandidate *list = palloc(sizeof(HnswCandidate) * (ncurrent + 1));

		for (int i = 0; i < ncurrent; i++)
			list[i].tid = current[i];
		list[ncurrent].tid = *new_tid;
		WriteNeighbors(ctx->index, ctx->m, tid, level, list, ncurrent + 1);
		return true;
	}

	extra.tid = *new_tid;
	return HnswRebuildNeighbors(ctx, tid, level, &extra, 1);
}

/*
 * Make the element at tid link to target on level 0, replacing its farthest
 * neighbour when its list is full.  Inserts and VACUUM use this for an
 * element without any incoming link, which the selection heuristic alone
 * cannot prevent.
 */
void
HnswForceLink(HnswContext *ctx, ItemPointer tid, ItemPointer target)
{
	int			lm = HnswLayerM(ctx->m, 0);
	ItemPointerData *current = palloc(sizeof(ItemPointerData) * lm);
	HnswCandidate *list = palloc(sizeof(HnswCandidate) * lm);
	int			ncurrent = HnswLoadNeighbors(ctx, tid, 0, current, NULL);
	float	   *base;
	int			farthest = 0;

	for (int i = 0; i < ncurrent; i++)
	{
		if (ItemPointerEquals(&current[i], target))
			return;
		list[i].tid = current[i];
	}
	if (ncurrent < lm)
	{
		list[ncurrent].tid = *target;
		WriteNeighbors(ctx->index, ctx->m, tid, 0, list, ncurrent + 1);
		return;
	}

	base = HnswLoadVector(ctx, tid);
	for (int i = 0; i < ncurrent; i++)
	{
		list[i].distance = sim_hnsw_distance(ctx->distance, base,
											 HnswLoadVector(ctx, &list[i].tid), ctx->dims);
		if (list[i].distance > list[farthest].distance)
			farthest = i;
	}
	list[farthest].tid = *target;
	WriteNeighbors(ctx->index, ctx->m, tid, 0, list, ncurrent);
}

/*
 * Insert a prepared vector (unit length for cosine) for heaptid.  Takes the
 * update lock and works in a temporary memory context.
 */
void
HnswInsertVector(Relation index, const float *vector, ItemPointer heaptid)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw insert",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	HnswContext ctx;
	HnswElementTuple etup;
	HnswCandidate **selected;
	int		   *nselected;
	HnswCandidate entry;
	HnswElementInfo info;
	ItemPointerData new_tid;
	int			level;
	int			top;
	int			inline_floats;
	int			chain;
	Size		size;
	HnswCandidate *entries;
	int			nentries;
	double		self_distance;
	HnswReuseSlot reuse;

	LockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	HnswInitContext(&ctx, index, true);

	level = HnswRandomLevel(ctx.m);
	top = Min(level, ctx.meta.entry_level);
	self_distance = sim_hnsw_distance(ctx.distance, vector, vector, ctx.dims);
	selected = palloc0(sizeof(HnswCandidate *) * (level + 1));
	nselected = palloc0(sizeof(int) * (level + 1));

	if (ItemPointerIsValid(&ctx.meta.entry))
	{
		/* Find the neighbours of every level from the top down. */
		entry.tid = ctx.meta.entry;
		entry.distance = HnswElementDistance(&ctx, &entry.tid, vector, &info);
		entry.has_rows = HnswInfoHasRows(&info);
		entry = HnswGreedyDescend(&ctx, vector, entry, ctx.meta.entry_level, top);
		entries = &entry;
		nentries = 1;

		for (int l = top; l >= 0; l--)
		{
			HnswCandidate *found;
			HnswCandidate *live;
			int			nfound;
			int			nlive = 0;

			found = HnswSearchLayer(&ctx, vector, entries, nentries,
									ctx.meta.ef_construction, l, &nfound);

			/*
			 * An identical vector shares its element, however many rows hold
			 * it.  Its distance to the query is the vector's distance to
			 * itself (zero except for inner product), up to rounding.
			 */
			for (int i = 0; l == 0 && i < nfound; i++)
			{
				if (found[i].has_rows &&
					fabs(found[i].distance - self_distance) <= 1e-3 * (1.0 + fabs(self_distance)) &&
					SameVector(&ctx, &found[i].tid, vector) &&
					HnswAddHeapTids(index, &found[i].tid, heaptid, 1, true))
				{
					UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
					MemoryContextSwitchTo(old);
					MemoryContextDelete(cxt);
					return;
				}
			}

			live = palloc(sizeof(HnswCandidate) * Max(nfound, 1));
			for (int i = 0; i < nfound; i++)
				if (found[i].has_rows)
					live[nlive++] = found[i];
			selected[l] = palloc(sizeof(HnswCandidate) * HnswLayerM(ctx.m, l));
			nselected[l] = HnswSelectNeighbors(&ctx, vector, live, nlive,
											   HnswLayerM(ctx.m, l), selected[l]);
			entries = found;
			nentries = nfound;
		}
	}

	/* Form the element tuple. */
	inline_floats = HnswInlineFloats(ctx.m, level, ctx.dims);
	chain = ctx.dims - inline_floats;
	size = HnswElementTupleSize(ctx.m, level, inline_floats);
	etup = palloc0(size);
	etup->level = level;
	etup->state = HNSW_ELEMENT_LIVE;
	etup->flags = 0;
	etup->tid_page = InvalidBlockNumber;
	etup->heaptids[0] = *heaptid;
	for (int i = 1; i < HNSW_HEAPTIDS; i++)
		ItemPointerSetInvalid(&etup->heaptids[i]);
	for (int l = 0; l <= level; l++)
	{
		ItemPointerData *slots = etup->neighbors + HnswLayerStart(ctx.m, l);

		for (int i = 0; i < HnswLayerM(ctx.m, l); i++)
		{
			if (i < nselected[l])
				slots[i] = selected[l][i].tid;
			else
				ItemPointerSetInvalid(&slots[i]);
		}
	}
	memcpy(HnswElementVectorPointer(etup, ctx.m), vector + chain, sizeof(float) * inline_floats);
	etup->vector_page = InvalidBlockNumber;

	/*
	 * Take over the slot of a dead element if one fits, together with its
	 * vector pages and its empty heap TID chain.  Otherwise write new
	 * vector pages.
	 */
	FindReusableSlot(&ctx, size, HnswVectorPages(ctx.m, level, ctx.dims), &reuse);
	if (reuse.found)
	{
		etup->tid_page = reuse.tid_page;
		etup->vector_page = reuse.vector_page;
		if (chain > 0)
			RewriteVectorChain(index, reuse.vector_page, vector, chain);
	}
	else if (chain > 0)
		HnswWriteVectorChain(index, vector, chain, &etup->vector_page, true);

	PlaceElement(&ctx, etup, size, level > ctx.meta.entry_level, &reuse, &new_tid);

	/*
	 * Link the neighbours back to the new element.  If the selection
	 * heuristic dropped every level-0 back link, the element would be
	 * unreachable, so its nearest neighbour links to it regardless.
	 */
	for (int l = 0; l <= top; l++)
	{
		bool		linked = false;

		for (int i = 0; i < nselected[l]; i++)
			linked |= AddBackLink(&ctx, &selected[l][i].tid, l, &new_tid);
		if (l == 0 && !linked && nselected[0] > 0)
			HnswForceLink(&ctx, &selected[0][0].tid, &new_tid);
	}

	UnlockPage(index, HNSW_UPDATE_LOCK, ExclusiveLock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

bool
hnswinsert(Relation index, Datum *values, bool *isnull, ItemPointer heap_tid,
		   Relation heap, IndexUniqueCheck checkUnique, bool indexUnchanged,
		   IndexInfo *indexInfo)
{
	MemoryContext cxt;
	MemoryContext old;
	HnswMetaPageData meta;
	HnswContext ctx;
	Vector	   *value;
	float	   *vector;

	if (isnull[0])
		return false;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw insert value",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	HnswReadMeta(index, &meta);
	ctx.meta = meta;
	ctx.dims = meta.dims;
	value = DatumGetVector(values[0]);
	vector = palloc(sizeof(float) * meta.dims);
	if (HnswPrepareVector(&ctx, index, value, vector))
		HnswInsertVector(index, vector, heap_tid);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return false;
}
