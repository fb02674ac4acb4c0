/*
 * hnsw.c
 *	  The hnsw index access method.
 *
 * TODO: the access method itself; this file only reserves its settings.
 */
#include "postgres.h"

#include "similarity.h"

void
SimInitHnswSettings(void)
{
}
