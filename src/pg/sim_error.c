/*
 * sim_error.c
 *	  Turn errors reported by the C++ core into ereport(ERROR).
 */
#include "postgres.h"

#include "miscadmin.h"

#include "sim_error.h"

int
sim_error_sqlstate(SimErrorKind kind)
{
	switch (kind)
	{
		case SIM_ERR_INVALID_TEXT:
			return ERRCODE_INVALID_TEXT_REPRESENTATION;
		case SIM_ERR_DATA:
		case SIM_ERR_INVALID_IMAGE:
			return ERRCODE_DATA_EXCEPTION;
		case SIM_ERR_OUT_OF_RANGE:
			return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
		case SIM_ERR_INVALID_PARAMETER:
			return ERRCODE_INVALID_PARAMETER_VALUE;
		case SIM_ERR_PROGRAM_LIMIT:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case SIM_ERR_SYSTEM:
			return ERRCODE_SYSTEM_ERROR;
		case SIM_ERR_OUT_OF_MEMORY:
			return ERRCODE_OUT_OF_MEMORY;
		case SIM_ERR_FEATURE_NOT_SUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;
		case SIM_ERR_CANCELED:
			return ERRCODE_QUERY_CANCELED;
		case SIM_OK:
		case SIM_ERR_INTERNAL:
			break;
	}
	return ERRCODE_INTERNAL_ERROR;
}

void
sim_report_error(const SimError *error)
{
	if (error->kind == SIM_ERR_CANCELED)
		CHECK_FOR_INTERRUPTS();

	ereport(ERROR,
			(errcode(sim_error_sqlstate(error->kind)),
			 errmsg("%s", error->message),
			 error->detail[0] ? errdetail("%s", error->detail) : 0,
			 error->hint[0] ? errhint("%s", error->hint) : 0));
	pg_unreachable();
}
