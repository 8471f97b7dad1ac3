/*
 * alloc.h: allocation wrappers. All of meshca's own allocations go through
 * these so that a torture build (configure --enable-torture) can fail the
 * Nth one: with MC_ALLOC_FAIL=N in the environment, allocation number N
 * (counted from 1 per process) and every later one returns NULL; with
 * MC_ALLOC_ONCE=1 as well, allocation N only.
 */
#ifndef MC_ALLOC_H
#define MC_ALLOC_H

#include <stddef.h>

void *mc_malloc(size_t n);
void *mc_calloc(size_t nmemb, size_t size);
void *mc_realloc(void *p, size_t n);
char *mc_strdup(const char *s);
char *mc_strndup(const char *s, size_t n);
void mc_free(void *p);

/* Wipes n bytes at p (never optimized away), then frees p. NULL is fine. */
void mc_free_secret(void *p, size_t n);

/* Wipes n bytes at p; never optimized away. */
void mc_cleanse(void *p, size_t n);

/* Torture builds: how many allocations so far; 0 elsewhere. */
unsigned long mc_alloc_count(void);

#endif /* MC_ALLOC_H */
