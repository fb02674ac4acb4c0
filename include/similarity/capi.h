/*
 * capi.h
 *	  The C interface between the PostgreSQL glue (src/pg) and the C++ core.
 *
 * Every function declared in this header or in the other *_capi.h headers
 * is implemented in C++ and catches every exception before it returns, so
 * no exception can unwind into a PostgreSQL frame.  A function reports
 * failure by returning false and filling the SimError passed by the caller.
 * The glue turns that into ereport(ERROR) after the call has returned, when
 * no C++ object is alive on the stack.
 */
#ifndef SIMILARITY_CAPI_H
#define SIMILARITY_CAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error categories; src/pg/sim_error.c maps each one to a SQLSTATE. */
typedef enum SimErrorKind
{
	SIM_OK = 0,
	SIM_ERR_INVALID_TEXT,		/* 22P02 malformed literal */
	SIM_ERR_DATA,				/* 22000 dimension mismatch, NaN, infinity */
	SIM_ERR_OUT_OF_RANGE,		/* 22003 value out of range */
	SIM_ERR_INVALID_PARAMETER,	/* 22023 bad argument or option */
	SIM_ERR_PROGRAM_LIMIT,		/* 54000 a hard limit was exceeded */
	SIM_ERR_SYSTEM,				/* 58000 file, model or device failure */
	SIM_ERR_OUT_OF_MEMORY,		/* 53200 allocation failed */
	SIM_ERR_FEATURE_NOT_SUPPORTED,	/* 0A000 */
	SIM_ERR_CANCELED,			/* 57014 an interrupt was seen */
	SIM_ERR_INVALID_IMAGE,		/* 22000 bytes are not a decodable image */
	SIM_ERR_INTERNAL			/* XX000 a bug in this project */
} SimErrorKind;

#define SIM_ERROR_MESSAGE_SIZE 512
#define SIM_ERROR_DETAIL_SIZE 1024

typedef struct SimError
{
	SimErrorKind kind;
	char		message[SIM_ERROR_MESSAGE_SIZE];
	char		detail[SIM_ERROR_DETAIL_SIZE];	/* empty when there is none */
	char		hint[SIM_ERROR_MESSAGE_SIZE];	/* empty when there is none */
} SimError;

/* Reset an error to SIM_OK with empty texts. */
static inline void
sim_error_init(SimError *error)
{
	error->kind = SIM_OK;
	error->message[0] = '\0';
	error->detail[0] = '\0';
	error->hint[0] = '\0';
}

/*
 * A flag the core polls during long computations.  The glue points it at
 * PostgreSQL's InterruptPending, which signal handlers set.  The core only
 * reads it and returns SIM_ERR_CANCELED, so the glue can then run
 * CHECK_FOR_INTERRUPTS and raise the standard cancel error.
 */
typedef volatile int32_t *SimInterruptFlag;

#ifdef __cplusplus
}
#endif

#endif							/* SIMILARITY_CAPI_H */
