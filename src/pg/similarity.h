/*
 * similarity.h
 *	  Declarations shared by the glue files of similarity.so.
 */
#ifndef SIMILARITY_H
#define SIMILARITY_H

/* Define the hnsw.* settings and reloptions (hnsw.c). */
extern void SimInitHnswSettings(void);

#endif							/* SIMILARITY_H */
