/*
 * similarity.c
 *	  Module entry point of similarity.so.
 *
 * _PG_init only defines settings.  It may run in the postmaster (with
 * shared_preload_libraries), whose children are forked without exec, so it
 * must not start threads or touch a GPU.
 */
#include "postgres.h"

#include "fmgr.h"

#include "similarity.h"

PG_MODULE_MAGIC;

void
_PG_init(void)
{
	SimInitHnswSettings();
}
