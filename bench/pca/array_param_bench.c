/*
 * array_param_bench.c
 *	  Time pca_project's array form when the client sends each batch of
 *	  vectors as one binary vector[] parameter, the way an application that
 *	  already has the vectors in memory would call it.
 *
 * Build and run (the database must have the similarity extension and a
 * table models(model pca) whose model has DIMS input dimensions):
 *
 *   cc -O2 -o /tmp/array_param_bench bench/pca/array_param_bench.c \
 *       -I/usr/include/postgresql -lpq
 *   /tmp/array_param_bench "host=/tmp/socketdir port=5432 dbname=postgres" \
 *       BATCHES SIZE DIMS REPEAT
 *
 * Each measurement sends BATCHES arrays of SIZE random vectors and is
 * repeated REPEAT times; the median is printed.  The baseline sends the
 * same arrays to SELECT cardinality($1), so it times the transfer and
 * array_recv, and "net" subtracts it.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
put_uint32(char **p, uint32_t value)
{
	uint32_t	network = htonl(value);

	memcpy(*p, &network, 4);
	*p += 4;
}

static void
put_uint16(char **p, uint16_t value)
{
	uint16_t	network = htons(value);

	memcpy(*p, &network, 2);
	*p += 2;
}

/* Oid of a type name, or exit on failure. */
static Oid
lookup_type(PGconn *conn, const char *name)
{
	const char *values[1] = {name};
	PGresult   *result = PQexecParams(conn, "SELECT $1::regtype::oid", 1, NULL, values,
									  NULL, NULL, 0);
	Oid			oid;

	if (PQresultStatus(result) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "type lookup of %s failed: %s", name, PQerrorMessage(conn));
		exit(1);
	}
	oid = (Oid) strtoul(PQgetvalue(result, 0, 0), NULL, 10);
	PQclear(result);
	return oid;
}

/*
 * Binary form of a one-dimensional vector[] of size random vectors: the
 * array header (ndim, has-NULL flag, element type, length, lower bound),
 * then per element its length and vector_send's form (int16 dim, int16
 * unused, dims float4), all in network byte order.
 */
static char *
make_array(Oid vector_oid, int size, int dims, unsigned *seed, int *length)
{
	int			element = 4 + 4 * dims;
	char	   *buffer = malloc(20 + (size_t) size * (4 + element));
	char	   *p = buffer;

	put_uint32(&p, 1);
	put_uint32(&p, 0);
	put_uint32(&p, vector_oid);
	put_uint32(&p, (uint32_t) size);
	put_uint32(&p, 1);
	for (int i = 0; i < size; i++)
	{
		put_uint32(&p, (uint32_t) element);
		put_uint16(&p, (uint16_t) dims);
		put_uint16(&p, 0);
		for (int j = 0; j < dims; j++)
		{
			float		value = (float) rand_r(seed) / RAND_MAX;
			uint32_t	bits;

			memcpy(&bits, &value, 4);
			put_uint32(&p, bits);
		}
	}
	*length = (int) (p - buffer);
	return buffer;
}

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Median seconds over repeat runs of sending every batch to query. */
static double
time_query(PGconn *conn, const char *query, Oid array_oid, char **arrays,
		   const int *lengths, int batches, int repeat)
{
	double	   *times = calloc(repeat, sizeof(double));
	double		median;

	for (int r = 0; r < repeat; r++)
	{
		double		start = now_seconds();

		for (int b = 0; b < batches; b++)
		{
			const char *values[1] = {arrays[b]};
			int			formats[1] = {1};
			PGresult   *result = PQexecParams(conn, query, 1, &array_oid, values,
											  &lengths[b], formats, 0);

			if (PQresultStatus(result) != PGRES_TUPLES_OK)
			{
				fprintf(stderr, "query failed: %s", PQerrorMessage(conn));
				exit(1);
			}
			PQclear(result);
		}
		times[r] = now_seconds() - start;
	}
	qsort(times, repeat, sizeof(double), compare_doubles);
	median = times[repeat / 2];
	free(times);
	return median;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	Oid			vector_oid;
	Oid			array_oid;
	int			batches, size, dims, repeat;
	char	  **arrays;
	int		   *lengths;
	unsigned	seed = 7;
	double		baseline, projected, vectors;

	if (argc != 6)
	{
		fprintf(stderr, "usage: %s CONNINFO BATCHES SIZE DIMS REPEAT\n", argv[0]);
		return 2;
	}
	batches = atoi(argv[2]);
	size = atoi(argv[3]);
	dims = atoi(argv[4]);
	repeat = atoi(argv[5]);
	if (batches < 1 || size < 1 || dims < 1 || repeat < 1)
	{
		fprintf(stderr, "BATCHES, SIZE, DIMS and REPEAT must be positive\n");
		return 2;
	}

	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "connection failed: %s", PQerrorMessage(conn));
		return 1;
	}
	vector_oid = lookup_type(conn, "vector");
	array_oid = lookup_type(conn, "vector[]");

	arrays = calloc(batches, sizeof(char *));
	lengths = calloc(batches, sizeof(int));
	for (int b = 0; b < batches; b++)
		arrays[b] = make_array(vector_oid, size, dims, &seed, &lengths[b]);

	/* One untimed round of each query loads the modules and the model. */
	time_query(conn, "SELECT cardinality($1)", array_oid, arrays, lengths, 1, 1);
	time_query(conn, "SELECT cardinality(pca_project((SELECT model FROM models), $1))",
			   array_oid, arrays, lengths, 1, 1);

	baseline = time_query(conn, "SELECT cardinality($1)", array_oid, arrays, lengths,
						  batches, repeat);
	projected = time_query(conn,
						   "SELECT cardinality(pca_project((SELECT model FROM models), $1))",
						   array_oid, arrays, lengths, batches, repeat);
	vectors = (double) batches * size;
	printf("binary vector[] parameter, %d batches of %d x %d, median of %d runs\n",
		   batches, size, dims, repeat);
	printf("  send only (SELECT cardinality($1)): %.3f s, %.0f vectors/s\n",
		   baseline, vectors / baseline);
	printf("  pca_project: %.3f s, %.0f vectors/s end to end, %.0f vectors/s net of sending\n",
		   projected, vectors / projected,
		   projected > baseline ? vectors / (projected - baseline) : 0.0);

	for (int b = 0; b < batches; b++)
		free(arrays[b]);
	free(arrays);
	free(lengths);
	PQfinish(conn);
	return 0;
}
