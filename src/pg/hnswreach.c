/*
 * hnswreach.c
 *	  Make every live element reachable from the entry point at level 0.
 *
 * The neighbour selection heuristic can leave an element without any
 * incoming link, or a group of elements that link only among themselves.
 * With metric distances this is rare, but inner product over vectors of
 * very different lengths makes it common: a short vector is close to
 * nothing, so no neighbour list keeps it, and a scan never finds its rows.
 *
 * HnswConnectUnreached walks level 0 breadth-first from the entry point.
 * For each live element with rows that the walk missed, it searches the
 * graph for the element's vector, as an insert would.  The nearest reached
 * element that can take the link then links to it, in a free slot or in
 * place of a neighbour that another element also links to, and the walk
 * continues from there.  A replaced link can still cut off a group that
 * only that neighbour led to, so the whole check repeats, a few rounds at
 * most.
 *
 * CREATE INDEX runs it after writing the graph and VACUUM after unlinking
 * deleted elements, so each leaves every row reachable.  The caller holds
 * the update lock or builds the index.
 */
#include "postgres.h"

#include <float.h>

#include "access/generic_xlog.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "hnsw.h"

/* Rounds of walk and repair before giving up on the rest. */
#define HNSW_REACH_ROUNDS		4

typedef struct ReachEntry
{
	uint64		key;
	bool		live;
	bool		reached;
	bool		has_rows;
	int			indegree;		/* level-0 links from live elements */
} ReachEntry;

static inline uint64
TidKey(ItemPointer tid)
{
	return ((uint64) ItemPointerGetBlockNumber(tid) << 16) | ItemPointerGetOffsetNumber(tid);
}

static inline void
KeyTid(uint64 key, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (key >> 16), (OffsetNumber) (key & 0xFFFF));
}

/* Find or add the entry of key. */
static ReachEntry *
GetEntry(HTAB *elements, uint64 key)
{
	bool		found;
	ReachEntry *entry = hash_search(elements, &key, HASH_ENTER, &found);

	if (!found)
	{
		entry->live = false;
		entry->reached = false;
		entry->has_rows = false;
		entry->indegree = 0;
	}
	return entry;
}

/*
 * Record every live element, none of them reached yet, and with
 * count_links the number of level-0 links to each.  Counting is needed only
 * when some element must be linked, so the first pass skips it.  Returns
 * the number of live elements.
 */
static int64
CollectLive(Relation index, int m, HTAB *elements, bool count_links,
			BufferAccessStrategy strategy)
{
	BlockNumber nblocks = RelationGetNumberOfBlocks(index);
	int64		count = 0;

	for (BlockNumber blkno = HNSW_METAPAGE_BLKNO + 1; blkno < nblocks; blkno++)
	{
		Buffer		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
		Page		page;

		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (!PageIsNew(page) && HnswPageGetOpaque(page)->page_type == HNSW_PAGE_ELEMENT)
		{
			for (OffsetNumber off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
			{
				HnswElementTuple etup = HnswGetElementTuple(page, off);
				ItemPointerData tid;
				ReachEntry *entry;

				if (etup->state != HNSW_ELEMENT_LIVE)
					continue;
				ItemPointerSet(&tid, blkno, off);
				entry = GetEntry(elements, TidKey(&tid));
				entry->live = true;
				entry->has_rows = (etup->flags & HNSW_ELEMENT_OVERFLOW) != 0;
				for (int i = 0; i < HNSW_HEAPTIDS; i++)
					entry->has_rows |= ItemPointerIsValid(&etup->heaptids[i]);
				for (int i = 0; count_links && i < HnswLayerM(m, 0); i++)
					if (ItemPointerIsValid(&etup->neighbors[i]))
						GetEntry(elements, TidKey(&etup->neighbors[i]))->indegree++;
				count++;
			}
		}
		UnlockReleaseBuffer(buf);
		CHECK_FOR_INTERRUPTS();
	}
	return count;
}

/*
 * Mark start and everything reachable from it at level 0 as reached, using
 * queue (room for every live element) as the walk's queue.
 */
static void
Walk(HnswContext *ctx, HTAB *elements, ItemPointer start, ItemPointerData *queue)
{
	ItemPointerData *neighbors = palloc(sizeof(ItemPointerData) * HnswLayerM(ctx->m, 0));
	uint64		key = TidKey(start);
	ReachEntry *entry = hash_search(elements, &key, HASH_FIND, NULL);
	int64		head = 0;
	int64		tail = 0;

	if (entry == NULL || !entry->live || entry->reached)
		return;
	entry->reached = true;
	queue[tail++] = *start;
	while (head < tail)
	{
		int			count = HnswLoadNeighbors(ctx, &queue[head++], 0, neighbors, NULL);

		for (int i = 0; i < count; i++)
		{
			key = TidKey(&neighbors[i]);
			entry = hash_search(elements, &key, HASH_FIND, NULL);
			if (entry != NULL && entry->live && !entry->reached)
			{
				entry->reached = true;
				queue[tail++] = neighbors[i];
			}
		}
		if ((head & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(neighbors);
}

/*
 * Make the element at source link to target at level 0.  The link goes into
 * a free slot of source's list if it has one.  Otherwise it replaces the
 * farthest neighbour that other elements also link to, so that no element
 * loses its only incoming link.  Returns false, changing nothing, when
 * neither exists.
 */
static bool
AddLink(HnswContext *ctx, HTAB *elements, ItemPointer source, ItemPointer target)
{
	int			lm = HnswLayerM(ctx->m, 0);
	ItemPointerData *current = palloc(sizeof(ItemPointerData) * lm);
	int			ncurrent = HnswLoadNeighbors(ctx, source, 0, current, NULL);
	float	   *base = NULL;
	int			slot = -1;
	double		farthest = -DBL_MAX;
	ReachEntry *replaced = NULL;
	ItemPointerData old;
	Buffer		buf;
	GenericXLogState *state;
	HnswElementTuple etup;
	ItemPointerData *slots;

	ItemPointerSetInvalid(&old);
	for (int i = 0; i < ncurrent; i++)
	{
		ReachEntry *entry;
		double		distance;

		if (ItemPointerEquals(&current[i], target))
			return true;
		if (ncurrent < lm)
			continue;
		entry = hash_search(elements, &(uint64) {TidKey(&current[i])}, HASH_FIND, NULL);
		if (entry == NULL || entry->indegree < 2)
			continue;
		if (base == NULL)
			base = HnswLoadVector(ctx, source);
		distance = sim_hnsw_distance(ctx->distance, base, HnswLoadVector(ctx, &current[i]),
									 ctx->dims);
		if (distance > farthest)
		{
			farthest = distance;
			slot = i;
			replaced = entry;
			old = current[i];
		}
	}
	if (ncurrent == lm && slot < 0)
		return false;

	/* Write into the first free slot, or over the chosen neighbour. */
	buf = ReadBuffer(ctx->index, ItemPointerGetBlockNumber(source));
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(ctx->index);
	etup = HnswGetElementTuple(GenericXLogRegisterBuffer(state, buf, 0),
							   ItemPointerGetOffsetNumber(source));
	slots = etup->neighbors + HnswLayerStart(ctx->m, 0);
	slot = -1;
	for (int i = 0; i < lm && slot < 0; i++)
		if (ItemPointerIsValid(&old) ? ItemPointerEquals(&slots[i], &old) :
			!ItemPointerIsValid(&slots[i]))
			slot = i;
	if (slot < 0)
		elog(ERROR, "hnsw neighbour list of element (%u,%u) changed during reachability repair",
			 ItemPointerGetBlockNumber(source), ItemPointerGetOffsetNumber(source));
	slots[slot] = *target;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);

	if (replaced != NULL)
		replaced->indegree--;
	GetEntry(elements, TidKey(target))->indegree++;
	return true;
}

/*
 * Search the graph for the vector of the element at tid, as an insert
 * would, and make the nearest reached element that can take a link link
 * to it.  Returns false if none of the ef found elements could.
 */
static bool
LinkFromNearest(HnswContext *ctx, HTAB *elements, ItemPointer tid, int ef)
{
	float	   *vector = HnswLoadVector(ctx, tid);
	HnswCandidate entry;
	HnswElementInfo info;
	HnswCandidate *found;
	int			nfound;

	entry.tid = ctx->meta.entry;
	entry.distance = HnswElementDistance(ctx, &entry.tid, vector, &info);
	entry.has_rows = HnswInfoHasRows(&info);
	entry = HnswGreedyDescend(ctx, vector, entry, ctx->meta.entry_level, 0);
	found = HnswSearchLayer(ctx, vector, &entry, 1, ef, 0, &nfound);

	for (int i = 0; i < nfound; i++)
	{
		ReachEntry *source = hash_search(elements, &(uint64) {TidKey(&found[i].tid)},
										 HASH_FIND, NULL);

		if (ItemPointerEquals(&found[i].tid, tid) || source == NULL || !source->reached)
			continue;
		if (AddLink(ctx, elements, &found[i].tid, tid))
			return true;
	}
	return false;
}

/*
 * Link every live element with rows that level 0 cannot reach from the
 * entry point.  Returns the number of elements still unreachable after the
 * last round (normally 0).
 */
int64
HnswConnectUnreached(Relation index, BufferAccessStrategy strategy)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "hnsw reachability",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	MemoryContext search_cxt = AllocSetContextCreate(cxt, "hnsw reachability search",
													 ALLOCSET_DEFAULT_SIZES);
	int64		unreached = 0;

	for (int round = 0; round < HNSW_REACH_ROUNDS; round++)
	{
		HASHCTL		hctl;
		HTAB	   *elements;
		HASH_SEQ_STATUS status;
		ReachEntry *entry;
		HnswContext ctx;
		ItemPointerData *queue;
		ItemPointerData *missed;
		int64		nmissed = 0;
		int64		count;

		HnswInitContext(&ctx, index, false);
		if (!ItemPointerIsValid(&ctx.meta.entry))
			break;

		hctl.keysize = sizeof(uint64);
		hctl.entrysize = sizeof(ReachEntry);
		hctl.hcxt = cxt;
		elements = hash_create("hnsw reachability", 1024, &hctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		count = CollectLive(index, ctx.m, elements, false, strategy);
		queue = palloc_extended(sizeof(ItemPointerData) * (count + 1), MCXT_ALLOC_HUGE);
		Walk(&ctx, elements, &ctx.meta.entry, queue);

		missed = palloc_extended(sizeof(ItemPointerData) * (count + 1), MCXT_ALLOC_HUGE);
		hash_seq_init(&status, elements);
		while ((entry = hash_seq_search(&status)) != NULL)
			if (entry->live && !entry->reached && entry->has_rows)
				KeyTid(entry->key, &missed[nmissed++]);
		if (nmissed > 0)
			CollectLive(index, ctx.m, elements, true, strategy);

		unreached = 0;
		for (int64 i = 0; i < nmissed; i++)
		{
			uint64		key = TidKey(&missed[i]);
			MemoryContext prev;
			HnswContext search;
			bool		linked;

			/* Linking an earlier one may have reached this one too. */
			entry = hash_search(elements, &key, HASH_FIND, NULL);
			if (entry->reached)
				continue;

			prev = MemoryContextSwitchTo(search_cxt);
			HnswInitContext(&search, index, true);
			linked = LinkFromNearest(&search, elements, &missed[i], search.meta.ef_construction);
			MemoryContextSwitchTo(prev);
			MemoryContextReset(search_cxt);

			if (linked)
				Walk(&ctx, elements, &missed[i], queue);
			else
				unreached++;
			CHECK_FOR_INTERRUPTS();
		}

		hash_destroy(elements);
		pfree(queue);
		pfree(missed);

		/* A round that linked nothing leaves nothing to check again. */
		if (nmissed == 0 || nmissed == unreached)
			break;
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return unreached;
}
