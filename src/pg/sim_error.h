/*
 * sim_error.h
 *	  Raise a PostgreSQL error from a SimError filled by the C++ core.
 */
#ifndef SIM_ERROR_H
#define SIM_ERROR_H

#include "similarity/capi.h"

/* Map a SimErrorKind to its SQLSTATE. */
extern int	sim_error_sqlstate(SimErrorKind kind);

/*
 * Raise ERROR for a failed core call.  A SIM_ERR_CANCELED error first runs
 * CHECK_FOR_INTERRUPTS, so a pending cancel or termination is reported the
 * standard way.
 *
 * NOTE: the core polls InterruptPending, which PostgreSQL also sets for
 * interrupts that do not end the query (a procsignal barrier, for one).  Then
 * CHECK_FOR_INTERRUPTS returns and the call still fails with 57014; retrying
 * the core call would be more precise.
 */
extern void sim_report_error(const SimError *error) pg_attribute_noreturn();

#endif							/* SIM_ERROR_H */
