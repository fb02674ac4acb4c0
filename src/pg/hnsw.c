/*
 * hnsw.c
 *	  The hnsw index access method: handler, options, settings, cost
 *	  estimate and operator class validation.
 *
 * The design is described in hnsw.h (pages and locking), hnswbuild.c
 * (in-memory build with hnswlib) and docs/hnsw.md.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amapi.h"
#include "access/amvalidate.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/selfuncs.h"
#include "utils/spccache.h"
#include "utils/syscache.h"

#include "hnsw.h"
#include "similarity.h"

/* The distance functions of vector.c that an opclass may name as support 1. */
extern Datum vector_l2_squared_distance(PG_FUNCTION_ARGS);
extern Datum vector_negative_inner_product(PG_FUNCTION_ARGS);
extern Datum l1_distance(PG_FUNCTION_ARGS);

int			hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			hnsw_max_scan_tuples = 20000;

static relopt_kind hnsw_relopt_kind;

void
SimInitHnswSettings(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m",
					  "Maximum number of neighbours of an element per upper level (twice as many at level 0)",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Size of the candidate list while building the graph; at least 2 * m",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION,
					  HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);

	DefineCustomIntVariable("hnsw.ef_search",
							"Size of the candidate list of an hnsw index scan.",
							"Larger values find more of the true nearest neighbours and take longer.",
							&hnsw_ef_search, HNSW_DEFAULT_EF_SEARCH, 1, HNSW_MAX_EF_SEARCH,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("hnsw.max_scan_tuples",
							"Maximum number of elements an hnsw index scan visits when a filter keeps asking for more rows.",
							"The scan widens its search after it has returned ef_search rows, until this many elements have been visited.",
							&hnsw_max_scan_tuples, 20000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);

	MarkGUCPrefixReserved("hnsw");
}

/* Parse and validate WITH (m = ..., ef_construction = ...). */
static bytea *
hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, ef_construction)},
	};
	HnswOptions *options;

	options = (HnswOptions *) build_reloptions(reloptions, validate, hnsw_relopt_kind,
											   sizeof(HnswOptions), tab, lengthof(tab));

	if (validate && options != NULL && options->ef_construction < 2 * options->m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ef_construction must be greater than or equal to 2 * m"),
				 errdetail("ef_construction is %d and m is %d.",
						   options->ef_construction, options->m)));

	return (bytea *) options;
}

int
HnswGetM(Relation index)
{
	HnswOptions *options = (HnswOptions *) index->rd_options;

	return options ? options->m : HNSW_DEFAULT_M;
}

int
HnswGetEfConstruction(Relation index)
{
	HnswOptions *options = (HnswOptions *) index->rd_options;

	return options ? options->ef_construction : HNSW_DEFAULT_EF_CONSTRUCTION;
}

/*
 * Find the distance of the index's operator class from its support
 * function 1, and return whether vectors are normalised (support function
 * 2, the norm, is present only in vector_cosine_ops).
 */
bool
HnswGetDistance(Relation index, SimHnswDistance *distance)
{
	FmgrInfo   *proc = index_getprocinfo(index, 1, 1);

	if (proc->fn_addr == vector_l2_squared_distance)
		*distance = SIM_HNSW_L2_SQUARED;
	else if (proc->fn_addr == vector_negative_inner_product)
		*distance = SIM_HNSW_NEGATIVE_INNER_PRODUCT;
	else if (proc->fn_addr == l1_distance)
		*distance = SIM_HNSW_L1;
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("operator class of index \"%s\" has an unsupported distance function",
						RelationGetRelationName(index)),
				 errhint("Use vector_l2_ops, vector_ip_ops, vector_cosine_ops or vector_l1_ops.")));

	return OidIsValid(index_getprocid(index, 1, 2));
}

/*
 * Estimate the cost of an index scan.  Without ORDER BY the index is
 * useless, so the cost is infinite.  With it, the scan reads a fraction of
 * the index before the first row: about ef_search candidates at level 0,
 * each expanding up to 2 * m neighbours, plus m per upper level.
 */
static void
hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	double		tuples = path->indexinfo->tuples;
	double		fraction;
	int			m = HNSW_DEFAULT_M;
	int			dims;
	Relation	index;

	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	index = index_open(path->indexinfo->indexoid, NoLock);
	m = HnswGetM(index);
	dims = TupleDescAttr(index->rd_att, 0)->atttypmod;
	index_close(index, NoLock);

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	if (tuples > 1)
	{
		double		levels = log(tuples) / log((double) m);

		/*
		 * Half of the 2 * m neighbours of each expanded candidate are new,
		 * a rough guess: the rest were visited already.
		 */
		double		visited = hnsw_ef_search * m + levels * m;

		fraction = Min(1.0, visited / tuples);
	}
	else
		fraction = 1.0;

	/*
	 * genericcostestimate charged for reading every index page and tuple;
	 * the search reads only the visited fraction, all of it before the first
	 * row is returned.
	 */
	costs.indexTotalCost *= fraction;

	/*
	 * Vectors larger than TOAST_TUPLE_THRESHOLD (about 500 dimensions and
	 * up) live in the table's TOAST relation.  A sequential scan must read
	 * all of them to compute distances, but the planner charges it only for
	 * the heap pages.  Scale the index cost down by the same ratio, so both
	 * paths are compared on the same footing.
	 */
	if (dims > 0 && VECTOR_SIZE(dims) > TOAST_TUPLE_THRESHOLD && tuples > 0)
	{
		double		heap_pages = Max(path->indexinfo->rel->pages, 1);
		double		toast_pages = tuples * VECTOR_SIZE(dims) / BLCKSZ;

		costs.indexTotalCost *= heap_pages / (heap_pages + toast_pages);
	}
	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages * fraction;
}

static char *
hnswbuildphasename(int64 phase)
{
	switch (phase)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case HNSW_PHASE_LOAD:
			return "loading tuples";
		case HNSW_PHASE_GRAPH:
			return "building graph in memory";
		case HNSW_PHASE_WRITE:
			return "writing graph to pages";
		default:
			return NULL;
	}
}

/* Support function numbers */
#define HNSW_DISTANCE_PROC		1	/* distance(type, type) returns float8 */
#define HNSW_NORM_PROC			2	/* norm(type) returns float8; normalise */

/* The one operator strategy: the distance operator, for ORDER BY only. */
#define HNSW_DISTANCE_STRATEGY	1

/*
 * Validate an operator class for amvalidate().  An hnsw operator family may
 * contain support function 1, the distance (two arguments of one type, a
 * float8 result), and support function 2, the norm (one argument, float8).
 * Its operators have strategy 1 and are distance operators between two
 * values of one type with a float8 result, declared FOR ORDER BY a btree
 * family that can sort float8.  The operator class itself must have
 * function 1 and operator 1 for its input type.  Each problem is reported
 * with an INFO message, as the core access methods do, and makes the
 * result false.
 */
static bool
hnswvalidate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	HeapTuple	familytup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	Oid			opcintype;
	char	   *opclassname;
	char	   *opfamilyname;
	CatCList   *proclist;
	CatCList   *oprlist;
	bool		has_distance = false;
	bool		has_operator = false;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opcintype = classform->opcintype;
	opclassname = NameStr(classform->opcname);

	familytup = SearchSysCache1(OPFAMILYOID, ObjectIdGetDatum(opfamilyoid));
	if (!HeapTupleIsValid(familytup))
		elog(ERROR, "cache lookup failed for operator family %u", opfamilyoid);
	opfamilyname = NameStr(((Form_pg_opfamily) GETSTRUCT(familytup))->opfname);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);
		Oid			type = procform->amproclefttype;
		bool		ok;

		switch (procform->amprocnum)
		{
			case HNSW_DISTANCE_PROC:
				ok = check_amproc_signature(procform->amproc, FLOAT8OID, true, 2, 2, type, type);
				break;
			case HNSW_NORM_PROC:
				ok = check_amproc_signature(procform->amproc, FLOAT8OID, true, 1, 1, type);
				break;
			default:
				ereport(INFO,
						(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
						 errmsg("operator family \"%s\" of access method %s contains function %s with invalid support number %d",
								opfamilyname, "hnsw", format_procedure(procform->amproc),
								procform->amprocnum)));
				result = false;
				continue;
		}
		if (!ok || procform->amprocrighttype != type)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains function %s with wrong signature for support number %d",
							opfamilyname, "hnsw", format_procedure(procform->amproc),
							procform->amprocnum)));
			result = false;
			continue;
		}
		if (procform->amprocnum == HNSW_DISTANCE_PROC && type == opcintype)
			has_distance = true;
	}

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amopstrategy != HNSW_DISTANCE_STRATEGY)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s with invalid strategy number %d",
							opfamilyname, "hnsw", format_operator(oprform->amopopr),
							oprform->amopstrategy)));
			result = false;
			continue;
		}
		if (oprform->amoppurpose != AMOP_ORDER || !OidIsValid(oprform->amopsortfamily))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s that is not an ordering operator",
							opfamilyname, "hnsw", format_operator(oprform->amopopr)),
					 errhint("Declare the operator with FOR ORDER BY float_ops.")));
			result = false;
			continue;
		}
		if (oprform->amoplefttype != oprform->amoprighttype ||
			!check_amop_signature(oprform->amopopr, FLOAT8OID, oprform->amoplefttype,
								  oprform->amoprighttype))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s with wrong signature",
							opfamilyname, "hnsw", format_operator(oprform->amopopr))));
			result = false;
			continue;
		}
		if (!opfamily_can_sort_type(oprform->amopsortfamily, FLOAT8OID))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s with invalid ordering family",
							opfamilyname, "hnsw", format_operator(oprform->amopopr))));
			result = false;
			continue;
		}
		if (oprform->amoplefttype == opcintype)
			has_operator = true;
	}

	if (!has_distance)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method %s is missing support function %d",
						opclassname, "hnsw", HNSW_DISTANCE_PROC)));
		result = false;
	}
	if (!has_operator)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method %s is missing operator %d",
						opclassname, "hnsw", HNSW_DISTANCE_STRATEGY)));
		result = false;
	}

	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(familytup);
	ReleaseSysCache(classtup);
	return result;
}

PG_FUNCTION_INFO_V1(hnsw_handler);
Datum
hnsw_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = 2;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = true;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_NO_PARALLEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = hnswbuild;
	amroutine->ambuildempty = hnswbuildempty;
	amroutine->aminsert = hnswinsert;
	amroutine->ambulkdelete = hnswbulkdelete;
	amroutine->amvacuumcleanup = hnswvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = hnswcostestimate;
	amroutine->amoptions = hnswoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = hnswbuildphasename;
	amroutine->amvalidate = hnswvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = hnswbeginscan;
	amroutine->amrescan = hnswrescan;
	amroutine->amgettuple = hnswgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = hnswendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
